package malha_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	malha "malha/sdk"
	ordersv1 "malha/sdk/gen/malha/orders/v1"
	paymentsv1 "malha/sdk/gen/malha/payments/v1"
)

func TestOnlyIdempotentCallsAreRetriedWhenUnavailable(t *testing.T) {
	// A port nobody listens on: every attempt is UNAVAILABLE.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	listener.Close()

	var attempts atomic.Int32
	count := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		attempts.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	})
	client, err := malha.Dial(context.Background(), "http://"+address, malha.Options{MaxAttempts: 3, DialOptions: []grpc.DialOption{count}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	orders := ordersv1.NewOrdersServiceClient(client.Conn)

	cases := []struct {
		name  string
		call  func() error
		tries int32
	}{
		{"a read", func() error { _, err := orders.GetMenu(context.Background(), &ordersv1.GetMenuRequest{}); return err }, 3},
		{"a create with request_id", func() error {
			_, err := orders.CreateOrder(context.Background(), &ordersv1.CreateOrderRequest{RequestId: requestID()})
			return err
		}, 3},
		{"a create without request_id", func() error {
			_, err := orders.CreateOrder(context.Background(), &ordersv1.CreateOrderRequest{})
			return err
		}, 1},
		{"a state change", func() error {
			_, err := paymentsv1.NewPaymentsServiceClient(client.Conn).ConfirmPayment(context.Background(), &paymentsv1.ConfirmPaymentRequest{PaymentId: "p"})
			return err
		}, 1},
	}
	for _, c := range cases {
		attempts.Store(0)
		asMalhaError(t, c.call(), codes.Unavailable)
		if got := attempts.Load(); got != c.tries {
			t.Errorf("%s: %d attempts, want %d", c.name, got, c.tries)
		}
	}
}
