package malha

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func deadlineInterceptor(deadline time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, has := ctx.Deadline(); !has {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, deadline)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// retryInterceptor retries UNAVAILABLE (the server did not take the call)
// on idempotent calls only, with exponential backoff and full jitter, within
// the call's deadline (AIP-194).
func retryInterceptor(maxAttempts int) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		backoff := 100 * time.Millisecond
		for attempt := 1; ; attempt++ {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if err == nil || attempt >= maxAttempts || !isCode(err, codes.Unavailable) || !Idempotent(method, req) {
				return err
			}
			select {
			case <-time.After(rand.N(backoff) + time.Millisecond):
			case <-ctx.Done():
				return err
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// Idempotent says whether repeating a call cannot do something twice: reads
// (Get, List, Validate, Verify), and any request that carries a request_id,
// which the server de-duplicates.
func Idempotent(method string, req any) bool {
	name := method[strings.LastIndexByte(method, '/')+1:]
	for _, read := range []string{"Get", "List", "Validate", "Verify"} {
		if strings.HasPrefix(name, read) {
			return true
		}
	}
	message, ok := req.(proto.Message)
	if !ok {
		return false
	}
	field := message.ProtoReflect().Descriptor().Fields().ByName("request_id")
	return field != nil && field.Kind() == protoreflect.StringKind && message.ProtoReflect().Get(field).String() != ""
}
