// Package malha is the thin hand-written layer over the generated Malha
// clients in gen/: one connection from a base URL that logs in, refreshes
// its access token before it expires, puts a default deadline on every
// unary call, retries UNAVAILABLE on idempotent calls, and returns errors
// as *Error with their google.rpc details.
//
// Every service of the contract is used through its generated constructor
// on Conn, so a new service needs no change here:
//
//	client, err := malha.Dial(ctx, "http://localhost:50051", malha.Options{
//		Credentials: malha.Password("admin", "malha-admin"),
//	})
//	orders := ordersv1.NewOrdersServiceClient(client.Conn)
package malha

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Options of Dial. The zero value is an anonymous client with the defaults.
type Options struct {
	// Who the client calls as; nil calls anonymously (public RPCs only).
	Credentials Credentials
	// Deadline of a unary call whose context has none (default 10 s).
	// Streams get none: they last as long as their context.
	Deadline time.Duration
	// Attempts of an idempotent call answered UNAVAILABLE, the first
	// included (default 4; 1 turns retries off).
	MaxAttempts int
	// Extra gRPC dial options (e.g. a custom TLS configuration).
	DialOptions []grpc.DialOption
}

// Client is one connection to Malha.
type Client struct {
	// Conn carries the login, deadline, retry and error behaviour; pass it
	// to any generated New<Service>Client.
	Conn    grpc.ClientConnInterface
	raw     *grpc.ClientConn
	session *session
}

// Dial connects to baseURL ("http://host:port" in plain text, "https://host"
// over TLS) and, with Credentials, logs in before returning.
func Dial(ctx context.Context, baseURL string, options Options) (*Client, error) {
	target, transport, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if options.Deadline <= 0 {
		options.Deadline = 10 * time.Second
	}
	if options.MaxAttempts <= 0 {
		options.MaxAttempts = 4
	}
	client := &Client{}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithChainUnaryInterceptor(
			errorsInterceptor,
			deadlineInterceptor(options.Deadline),
			retryInterceptor(options.MaxAttempts),
			client.authInterceptor,
		),
		grpc.WithChainStreamInterceptor(streamErrorsInterceptor, client.streamAuthInterceptor),
	}, options.DialOptions...)
	raw, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", baseURL, err)
	}
	client.raw, client.Conn = raw, raw
	if options.Credentials != nil {
		// The session logs in over the same connection without the auth
		// interceptor's token (login RPCs are public).
		client.session = newSession(options.Credentials, withoutAuth(raw))
		if _, err := client.session.token(ctx); err != nil {
			raw.Close()
			return nil, err
		}
	}
	return client, nil
}

// AccessToken is the token the next call will carry, refreshed first if it
// is about to expire; empty for an anonymous client.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	if c.session == nil {
		return "", nil
	}
	return c.session.token(ctx)
}

// Close closes the connection.
func (c *Client) Close() error { return c.raw.Close() }

func parseBaseURL(baseURL string) (string, credentials.TransportCredentials, error) {
	parsed, err := url.Parse(baseURL)
	if err != nil || parsed.Host == "" {
		return "", nil, fmt.Errorf("base URL %q: want http://host:port or https://host[:port]", baseURL)
	}
	switch parsed.Scheme {
	case "http":
		return "dns:///" + parsed.Host, insecure.NewCredentials(), nil
	case "https":
		host := parsed.Host
		if parsed.Port() == "" {
			host += ":443"
		}
		return "dns:///" + host, credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}), nil
	default:
		return "", nil, fmt.Errorf("base URL %q: the scheme must be http or https", baseURL)
	}
}
