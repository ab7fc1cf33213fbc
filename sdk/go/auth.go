package malha

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	identityv1 "malha/sdk/gen/malha/identity/v1"
)

// Credentials say how a client gets its access token.
type Credentials interface {
	issue(ctx context.Context, identity identityv1.IdentityServiceClient) (*identityv1.TokenPair, error)
}

type passwordCredentials struct{ username, password string }

// Password logs in as a user (Login) and refreshes with the refresh token.
func Password(username, password string) Credentials {
	return passwordCredentials{username, password}
}

func (c passwordCredentials) issue(ctx context.Context, identity identityv1.IdentityServiceClient) (*identityv1.TokenPair, error) {
	response, err := identity.Login(ctx, &identityv1.LoginRequest{Username: c.username, Password: c.password})
	return response.GetTokens(), err
}

type clientCredentials struct{ id, secret string }

// ClientCredentials logs in as a service account (IssueServiceToken); its
// tokens have no refresh token, so a new one is issued before expiry.
func ClientCredentials(clientID, clientSecret string) Credentials {
	return clientCredentials{clientID, clientSecret}
}

func (c clientCredentials) issue(ctx context.Context, identity identityv1.IdentityServiceClient) (*identityv1.TokenPair, error) {
	response, err := identity.IssueServiceToken(ctx, &identityv1.IssueServiceTokenRequest{ClientId: c.id, ClientSecret: c.secret})
	return response.GetTokens(), err
}

type tokenCredentials struct{ pair *identityv1.TokenPair }

// Tokens uses a token pair obtained elsewhere (e.g. CreateAnonymousCustomer
// or IdentifyCustomer), refreshed with its refresh token while it has one.
func Tokens(pair *identityv1.TokenPair) Credentials { return tokenCredentials{pair} }

func (c tokenCredentials) issue(context.Context, identityv1.IdentityServiceClient) (*identityv1.TokenPair, error) {
	if c.pair == nil {
		return nil, &Error{Code: codes.Unauthenticated, Message: "no token pair was given"}
	}
	return c.pair, nil
}

// session holds the current token. One mutex makes the refresh
// single-flight: concurrent calls that find the token about to expire wait
// for one refresh instead of each spending the (rotating) refresh token.
type session struct {
	credentials Credentials
	identity    identityv1.IdentityServiceClient
	mu          sync.Mutex
	access      string
	refresh     string
	refreshAt   time.Time
	issued      bool
}

func newSession(credentials Credentials, conn grpc.ClientConnInterface) *session {
	return &session{credentials: credentials, identity: identityv1.NewIdentityServiceClient(conn)}
}

func (s *session) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issued && time.Now().Before(s.refreshAt) {
		return s.access, nil
	}
	pair, err := s.renew(ctx)
	if err != nil {
		return "", err
	}
	s.access, s.refresh, s.issued = pair.GetAccessToken(), pair.GetRefreshToken(), true
	s.refreshAt = time.Now().Add(refreshMargin(time.Duration(pair.GetExpiresIn()) * time.Second))
	return s.access, nil
}

func (s *session) renew(ctx context.Context) (*identityv1.TokenPair, error) {
	if !s.issued {
		return s.credentials.issue(ctx, s.identity)
	}
	if s.refresh != "" {
		response, err := s.identity.RefreshToken(ctx, &identityv1.RefreshTokenRequest{RefreshToken: s.refresh})
		if err == nil || !isCode(err, codes.Unauthenticated) {
			return response.GetTokens(), err
		}
		// The refresh token expired or was revoked: log in again below.
	}
	if _, given := s.credentials.(tokenCredentials); given {
		return nil, &Error{Code: codes.Unauthenticated, Message: "the access token expired and cannot be renewed"}
	}
	return s.credentials.issue(ctx, s.identity)
}

// refreshMargin is how long a token is used before it is renewed: until a
// third of its life (at most 30 s) is left, so a call never leaves with a
// token that expires on the way.
func refreshMargin(lifetime time.Duration) time.Duration {
	return lifetime - min(lifetime/3, 30*time.Second)
}

type noAuthKey struct{}

// withoutAuth marks the session's own calls, which must not wait for the
// token they are fetching.
type withoutAuthConn struct{ grpc.ClientConnInterface }

func withoutAuth(conn grpc.ClientConnInterface) grpc.ClientConnInterface {
	return withoutAuthConn{conn}
}

func (c withoutAuthConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.ClientConnInterface.Invoke(context.WithValue(ctx, noAuthKey{}, true), method, args, reply, opts...)
}

func (c *Client) withToken(ctx context.Context) (context.Context, error) {
	if c.session == nil || ctx.Value(noAuthKey{}) != nil {
		return ctx, nil
	}
	token, err := c.session.token(ctx)
	if err != nil {
		return nil, err
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token), nil
}

func (c *Client) authInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	ctx, err := c.withToken(ctx)
	if err != nil {
		return err
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (c *Client) streamAuthInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, err := c.withToken(ctx)
	if err != nil {
		return nil, err
	}
	return streamer(ctx, desc, cc, method, opts...)
}
