// The Go SDK against a live Malha (sdk/run-tests starts it and sets
// MALHA_URL); every call goes through the SDK.
package malha_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	malha "malha/sdk"
	identityv1 "malha/sdk/gen/malha/identity/v1"
	inventoryv1 "malha/sdk/gen/malha/inventory/v1"
	ordersv1 "malha/sdk/gen/malha/orders/v1"
	paymentsv1 "malha/sdk/gen/malha/payments/v1"
	projectsv1 "malha/sdk/gen/malha/projects/v1"
)

func baseURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("MALHA_URL")
	if url == "" {
		t.Fatal("MALHA_URL is not set: run these tests with sdk/run-tests, which starts Malha")
	}
	return url
}

func dial(t *testing.T, options malha.Options) *malha.Client {
	t.Helper()
	client, err := malha.Dial(context.Background(), baseURL(t), options)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func admin(t *testing.T) *malha.Client {
	return dial(t, malha.Options{Credentials: malha.Password(os.Getenv("MALHA_ADMIN_USERNAME"), os.Getenv("MALHA_ADMIN_PASSWORD"))})
}

// unique keeps names apart between runs against the same server.
func unique(prefix string) string { return fmt.Sprintf("%s-go-%d", prefix, time.Now().UnixNano()) }

// requestID is a fresh idempotency key (a UUID, as the contract asks).
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func asMalhaError(t *testing.T, err error, code codes.Code) *malha.Error {
	t.Helper()
	var typed *malha.Error
	if !errors.As(err, &typed) {
		t.Fatalf("want *malha.Error with %s, got %T %v", code, err, err)
	}
	if typed.Code != code {
		t.Fatalf("want %s, got %v", code, typed)
	}
	return typed
}

func TestLoginRefreshesBeforeExpiryAndForgedTokensAreRefused(t *testing.T) {
	ctx := context.Background()
	client := admin(t)
	identity := identityv1.NewIdentityServiceClient(client.Conn)
	first, _ := client.AccessToken(ctx)
	me, err := identity.GetMe(ctx, &identityv1.GetMeRequest{})
	if err != nil || me.GetClaims().GetUsername() != os.Getenv("MALHA_ADMIN_USERNAME") {
		t.Fatalf("GetMe as the admin: %v %v", me, err)
	}

	// Tokens live 6 s in the test server: past 4 s the next calls refresh,
	// and the concurrent ones share one refresh (a second use of the
	// rotating refresh token would revoke the session).
	time.Sleep(4500 * time.Millisecond)
	var wg sync.WaitGroup
	failures := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := identity.GetMe(ctx, &identityv1.GetMeRequest{}); err != nil {
				failures <- err
			}
		})
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Fatalf("a call after the refresh failed: %v", err)
	}
	second, _ := client.AccessToken(ctx)
	if second == first {
		t.Fatal("the access token was not refreshed before it expired")
	}

	forged := second[:len(second)-4] + "AAAA"
	for _, token := range []string{forged, "not-a-jwt"} {
		stolen := dial(t, malha.Options{Credentials: malha.Tokens(&identityv1.TokenPair{AccessToken: token, ExpiresIn: 3600})})
		_, err = identityv1.NewIdentityServiceClient(stolen.Conn).GetMe(ctx, &identityv1.GetMeRequest{})
		asMalhaError(t, err, codes.Unauthenticated)
	}

	_, err = malha.Dial(ctx, baseURL(t), malha.Options{Credentials: malha.Password("admin", "wrong password")})
	asMalhaError(t, err, codes.Unauthenticated)
}

func TestCreatingAProjectTakesItsMaterialsFromStockOnce(t *testing.T) {
	ctx := context.Background()
	client := admin(t)
	inventory := inventoryv1.NewInventoryServiceClient(client.Conn)
	projects := projectsv1.NewProjectsServiceClient(client.Conn)

	created, err := inventory.CreateProduct(ctx, &inventoryv1.CreateProductRequest{
		Product: &inventoryv1.Product{Sku: unique("MDF"), Name: "MDF 18mm", Unit: "sheet"}, RequestId: requestID(),
	})
	if err != nil {
		t.Fatalf("CreateProduct: %v", err)
	}
	product := created.GetProduct()
	_, err = inventory.RecordMovement(ctx, &inventoryv1.RecordMovementRequest{
		ProductId: product.GetId(), Kind: inventoryv1.MovementKind_MOVEMENT_KIND_RECEIPT, Quantity: 10,
		Reason: "delivery", RequestId: requestID(),
	})
	if err != nil {
		t.Fatalf("RecordMovement: %v", err)
	}
	_, err = projects.CreateProject(ctx, &projectsv1.CreateProjectRequest{Project: &projectsv1.Project{
		Name: "Cozinha planejada", Client: "Dona Maria",
		Materials: []*projectsv1.Material{{ProductId: product.GetId(), ProductName: product.GetName(), Quantity: 3}},
	}, RequestId: requestID()})
	if err != nil {
		t.Fatalf("CreateProject: %v", err)
	}

	// The event flow is asynchronous: wait for the drop, then make sure it
	// stays at one drop.
	quantity := func() int64 {
		got, err := inventory.GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: product.GetId()})
		if err != nil {
			t.Fatalf("GetProduct: %v", err)
		}
		return got.GetProduct().GetQuantityOnHand()
	}
	deadline := time.Now().Add(20 * time.Second)
	for quantity() != 7 {
		if time.Now().After(deadline) {
			t.Fatalf("the stock is %d, want 7 after the project took 3 of 10", quantity())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if got := quantity(); got != 7 {
		t.Fatalf("the stock dropped again to %d; the materials must be taken once", got)
	}
}

func TestAnAnonymousCustomerWatchesTheOrderGetPaidAndCooked(t *testing.T) {
	ctx := context.Background()
	staff := admin(t)
	anonymous, err := identityv1.NewIdentityServiceClient(dial(t, malha.Options{}).Conn).
		CreateAnonymousCustomer(ctx, &identityv1.CreateAnonymousCustomerRequest{RequestId: requestID()})
	if err != nil {
		t.Fatalf("CreateAnonymousCustomer: %v", err)
	}
	customer := dial(t, malha.Options{Credentials: malha.Tokens(anonymous.GetTokens())})
	orders := ordersv1.NewOrdersServiceClient(customer.Conn)

	menu, err := orders.GetMenu(ctx, &ordersv1.GetMenuRequest{})
	if err != nil || len(menu.GetSections()) == 0 || len(menu.GetSections()[0].GetProducts()) == 0 {
		t.Fatalf("GetMenu: %v %v", menu, err)
	}
	dish := menu.GetSections()[0].GetProducts()[0]
	placed, err := orders.CreateOrder(ctx, &ordersv1.CreateOrderRequest{
		Items: []*ordersv1.OrderItem{{ProductId: dish.GetId(), Quantity: 2}}, RequestId: requestID(),
	})
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	order := placed.GetOrder()

	watchCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	stream, err := orders.WatchOrder(watchCtx, &ordersv1.WatchOrderRequest{OrderId: order.GetId()})
	if err != nil {
		t.Fatalf("WatchOrder: %v", err)
	}
	if _, err := stream.Recv(); err != nil { // the order as it is now
		t.Fatalf("first WatchOrder message: %v", err)
	}

	_, err = paymentsv1.NewPaymentsServiceClient(staff.Conn).ConfirmPayment(ctx, &paymentsv1.ConfirmPaymentRequest{
		PaymentId: placed.GetPayment().GetPaymentId(), Note: "seen in the bank app",
	})
	if err != nil {
		t.Fatalf("ConfirmPayment: %v", err)
	}
	kitchen := ordersv1.NewOrdersServiceClient(staff.Conn)
	want := []ordersv1.OrderStatus{ordersv1.OrderStatus_ORDER_STATUS_PAID}
	var seen []ordersv1.OrderStatus
	for _, next := range []ordersv1.OrderStatus{
		ordersv1.OrderStatus_ORDER_STATUS_PREPARING, ordersv1.OrderStatus_ORDER_STATUS_READY, ordersv1.OrderStatus_ORDER_STATUS_DELIVERED,
	} {
		for len(seen) < len(want) {
			message, err := stream.Recv()
			if err != nil {
				t.Fatalf("WatchOrder after %v: %v", seen, err)
			}
			seen = append(seen, message.GetChange().GetToStatus())
		}
		if _, err := kitchen.UpdateOrderStatus(ctx, &ordersv1.UpdateOrderStatusRequest{OrderId: order.GetId(), Status: next}); err != nil {
			t.Fatalf("UpdateOrderStatus %v: %v", next, err)
		}
		want = append(want, next)
	}
	for {
		message, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("WatchOrder after %v: %v", seen, err)
		}
		seen = append(seen, message.GetChange().GetToStatus())
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("WatchOrder saw %v, want %v", seen, want)
	}
}

func TestAnInvalidRequestNamesItsFieldsInTheTypedError(t *testing.T) {
	inventory := inventoryv1.NewInventoryServiceClient(admin(t).Conn)
	_, err := inventory.CreateProduct(context.Background(), &inventoryv1.CreateProductRequest{
		Product: &inventoryv1.Product{Sku: "", Name: "", Unit: "sheet"}, RequestId: requestID(),
	})
	typed := asMalhaError(t, err, codes.InvalidArgument)
	fields := fmt.Sprint(typed.Fields())
	if fields != "[product.sku product.name]" {
		t.Fatalf("violated fields %s, want [product.sku product.name] (%v)", fields, typed.FieldViolations)
	}
	if typed.FieldViolations[0].Description == "" {
		t.Fatal("a field violation came without its description")
	}
}

func TestCallsHonourTheirDeadline(t *testing.T) {
	ctx := context.Background()
	// The default deadline covers the login inside Dial too.
	_, err := malha.Dial(ctx, baseURL(t), malha.Options{
		Credentials: malha.Password(os.Getenv("MALHA_ADMIN_USERNAME"), os.Getenv("MALHA_ADMIN_PASSWORD")), Deadline: time.Microsecond,
	})
	asMalhaError(t, err, codes.DeadlineExceeded)
	anonymous := dial(t, malha.Options{Deadline: time.Microsecond})
	_, err = ordersv1.NewOrdersServiceClient(anonymous.Conn).GetMenu(ctx, &ordersv1.GetMenuRequest{})
	asMalhaError(t, err, codes.DeadlineExceeded)

	// A context's own deadline wins over the default one.
	short, cancel := context.WithTimeout(ctx, time.Microsecond)
	defer cancel()
	_, err = ordersv1.NewOrdersServiceClient(dial(t, malha.Options{}).Conn).GetMenu(short, &ordersv1.GetMenuRequest{})
	asMalhaError(t, err, codes.DeadlineExceeded)

	// A stream lasts as long as its context: a watch with a 300 ms deadline
	// on an order that does not change ends with DEADLINE_EXCEEDED.
	orders := ordersv1.NewOrdersServiceClient(admin(t).Conn)
	placed, err := orders.CreateOrder(ctx, &ordersv1.CreateOrderRequest{Items: []*ordersv1.OrderItem{{ProductId: firstDish(t, orders), Quantity: 1}}, RequestId: requestID()})
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	watchCtx, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	started := time.Now()
	stream, err := orders.WatchOrder(watchCtx, &ordersv1.WatchOrderRequest{OrderId: placed.GetOrder().GetId()})
	for err == nil {
		_, err = stream.Recv()
	}
	asMalhaError(t, err, codes.DeadlineExceeded)
	if elapsed := time.Since(started); elapsed > 5*time.Second {
		t.Fatalf("the watch ended after %v, long past its 300 ms deadline", elapsed)
	}
}

func firstDish(t *testing.T, orders ordersv1.OrdersServiceClient) string {
	t.Helper()
	menu, err := orders.GetMenu(context.Background(), &ordersv1.GetMenuRequest{})
	if err != nil || len(menu.GetSections()) == 0 || len(menu.GetSections()[0].GetProducts()) == 0 {
		t.Fatalf("GetMenu: %v %v", menu, err)
	}
	return menu.GetSections()[0].GetProducts()[0].GetId()
}

func TestAServiceAccountLogsInWithClientCredentials(t *testing.T) {
	ctx := context.Background()
	created, err := identityv1.NewIdentityServiceClient(admin(t).Conn).CreateServiceAccount(ctx, &identityv1.CreateServiceAccountRequest{
		Name: unique("robot"), Roles: []string{"service"}, RequestId: requestID(),
	})
	if err != nil {
		t.Fatalf("CreateServiceAccount: %v", err)
	}
	robot := dial(t, malha.Options{Credentials: malha.ClientCredentials(created.GetClientId(), created.GetClientSecret())})
	me, err := identityv1.NewIdentityServiceClient(robot.Conn).GetMe(ctx, &identityv1.GetMeRequest{})
	if err != nil || me.GetClaims().GetSubjectKind() != identityv1.SubjectKind_SUBJECT_KIND_SERVICE {
		t.Fatalf("GetMe as the service account: %v %v", me, err)
	}
	_, err = malha.Dial(ctx, baseURL(t), malha.Options{Credentials: malha.ClientCredentials(created.GetClientId(), "wrong secret")})
	asMalhaError(t, err, codes.Unauthenticated)
}
