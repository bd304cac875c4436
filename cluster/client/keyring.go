package client

import (
	"context"
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

// Keyring operations on the gossip keyring of every member (vproc operator
// keyring). Each answers one entry per node the agent reached; a node that
// failed carries its error.

// KeyringList returns every node's keyring.
func (c *Client) KeyringList(ctx context.Context) (api.KeyringResponse, error) {
	return c.keyring(ctx, http.MethodGet, "")
}

// KeyringInstall adds key to every node's keyring, for decryption only.
func (c *Client) KeyringInstall(ctx context.Context, key string) (api.KeyringResponse, error) {
	return c.keyring(ctx, http.MethodPost, key)
}

// KeyringUse makes key, installed everywhere, every node's primary key.
func (c *Client) KeyringUse(ctx context.Context, key string) (api.KeyringResponse, error) {
	return c.keyring(ctx, http.MethodPut, key)
}

// KeyringRemove removes key, no longer primary anywhere, from every node.
func (c *Client) KeyringRemove(ctx context.Context, key string) (api.KeyringResponse, error) {
	return c.keyring(ctx, http.MethodDelete, key)
}

func (c *Client) keyring(ctx context.Context, method, key string) (api.KeyringResponse, error) {
	var out api.KeyringResponse
	r := &request{method: method, path: "/v1/operator/keyring", out: &out}
	if method != http.MethodGet {
		r.in = api.KeyringRequest{Key: key}
	}
	// Each operation is idempotent on every node, so it is retried as a
	// read is.
	err := c.read(ctx, r)
	return out, err
}
