package malha

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is every error a Malha call returns: its gRPC code and message with
// the google.rpc details Malha sends. Read it with errors.As; it still
// answers status.FromError / status.Code.
type Error struct {
	Code    codes.Code
	Message string
	// What was wrong with the request (INVALID_ARGUMENT), field by field.
	FieldViolations []FieldViolation
	// The machine-readable reason, when the server gave one.
	Info   *errdetails.ErrorInfo
	status *status.Status
}

// FieldViolation names one offending request field (google.rpc.BadRequest).
type FieldViolation struct {
	Field       string
	Description string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// GRPCStatus lets status.FromError and status.Code read an *Error.
func (e *Error) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.Code, e.Message)
	}
	return e.status
}

// Fields are the names of the violated fields, in the server's order.
func (e *Error) Fields() []string {
	fields := make([]string, 0, len(e.FieldViolations))
	for _, violation := range e.FieldViolations {
		fields = append(fields, violation.Field)
	}
	return fields
}

func asError(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return already
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: codes.DeadlineExceeded, Message: err.Error()}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: codes.Canceled, Message: err.Error()}
	}
	st, _ := status.FromError(err)
	typed := &Error{Code: st.Code(), Message: st.Message(), status: st}
	for _, detail := range st.Details() {
		switch detail := detail.(type) {
		case *errdetails.BadRequest:
			for _, violation := range detail.GetFieldViolations() {
				typed.FieldViolations = append(typed.FieldViolations, FieldViolation{violation.GetField(), violation.GetDescription()})
			}
		case *errdetails.ErrorInfo:
			typed.Info = detail
		}
	}
	return typed
}

func isCode(err error, code codes.Code) bool { return status.Code(err) == code }

func errorsInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return asError(invoker(ctx, method, req, reply, cc, opts...))
}

func streamErrorsInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	stream, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, asError(err)
	}
	return typedStream{stream}, nil
}

// typedStream returns *Error from Recv too (io.EOF stays io.EOF).
type typedStream struct{ grpc.ClientStream }

func (s typedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return asError(err)
}
