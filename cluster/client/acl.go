package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vproc/vproc/cluster/api"
)

// ACLBootstrap creates the cluster's first management token and returns
// it with its secret, which is shown this once. It is retried only while
// no attempt can have reached the leader: a retry of a bootstrap that took
// effect would be refused.
func (c *Client) ACLBootstrap(ctx context.Context) (api.ACLToken, error) {
	var out api.ACLToken
	err := c.undispatched(ctx, &request{method: http.MethodPost, path: "/v1/acl/bootstrap", out: &out})
	return out, err
}

// ACLTokenCreate creates a token and returns it with its secret, which is
// shown this once. It is retried only while no attempt can have reached
// the leader, so that no second token is made.
func (c *Client) ACLTokenCreate(ctx context.Context, req api.ACLTokenRequest) (api.ACLToken, error) {
	var out api.ACLToken
	err := c.undispatched(ctx, &request{method: http.MethodPost, path: "/v1/acl/tokens", in: req, out: &out})
	return out, err
}

// ACLTokens lists the tokens, without their secrets.
func (c *Client) ACLTokens(ctx context.Context) (api.ACLTokenList, error) {
	var out api.ACLTokenList
	err := c.read(ctx, &request{method: http.MethodGet, path: "/v1/acl/tokens", out: &out})
	return out, err
}

// ACLTokenSelf returns the caller's own token, without its secret.
func (c *Client) ACLTokenSelf(ctx context.Context) (api.ACLToken, error) {
	var out api.ACLToken
	err := c.read(ctx, &request{method: http.MethodGet, path: "/v1/acl/token/self", out: &out})
	return out, err
}

// ACLTokenDelete deletes the token with that accessor.
func (c *Client) ACLTokenDelete(ctx context.Context, accessor string) error {
	return c.call(ctx, &request{method: http.MethodDelete, path: "/v1/acl/tokens/" + url.PathEscape(accessor), out: &struct{}{}}, nil)
}

// undispatched makes r, a write outside sessions, retrying only the
// failures that show it never reached the leader (no leader, not the
// leader, no connection).
func (c *Client) undispatched(ctx context.Context, r *request) error {
	rt := retrier{c: c}
	for {
		err := c.call(ctx, r, nil)
		if err == nil {
			return nil
		}
		kind := classify(ctx, err)
		if kind != failRetry && kind != failUnreachable || !rt.again(ctx, kind) {
			return err
		}
	}
}
