package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vproc/vproc/cluster/api"
)

// ACLBootstrap creates the cluster's first management token and returns
// it with its secret, which is shown this once. It is sent once, never
// retried: a retry of a bootstrap that took effect would be refused.
func (c *Client) ACLBootstrap(ctx context.Context) (api.ACLToken, error) {
	var out api.ACLToken
	err := c.call(ctx, &request{method: http.MethodPost, path: "/v1/acl/bootstrap", out: &out}, nil)
	return out, err
}

// ACLTokenCreate creates a token and returns it with its secret, which is
// shown this once. It is sent once, never retried, so that no second
// token is made.
func (c *Client) ACLTokenCreate(ctx context.Context, req api.ACLTokenRequest) (api.ACLToken, error) {
	var out api.ACLToken
	err := c.call(ctx, &request{method: http.MethodPost, path: "/v1/acl/tokens", in: req, out: &out}, nil)
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
