package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/vproc/vproc/cluster/api"
)

func programPath(name string) string { return api.ProgramsPath + "/" + url.PathEscape(name) }

// AddProgram uploads a WebAssembly module as program name, owned by owner.
// The agent answers once enough nodes hold its bytes and its record is
// committed. An add replaces the record of that name, so sending the same
// bytes again cannot do harm: the upload is retried, whole, on the failures
// reads retry on (no leader, a lost leadership, an unknown outcome).
func (c *Client) AddProgram(ctx context.Context, name, owner string, module []byte) (api.Program, error) {
	var out api.Program
	q := url.Values{}
	if owner != "" {
		q.Set("owner", owner)
	}
	rt := retrier{c: c}
	for {
		r := &request{method: http.MethodPut, path: programPath(name), query: q, stream: bytes.NewReader(module), out: &out, timeout: -1}
		err := c.call(ctx, r, nil)
		if err == nil || !rt.again(ctx, classify(ctx, err)) {
			return out, err
		}
	}
}

// Programs lists the programs of the table.
func (c *Client) Programs(ctx context.Context) (api.ProgramList, error) {
	var out api.ProgramList
	err := c.read(ctx, &request{method: http.MethodGet, path: api.ProgramsPath, out: &out})
	return out, err
}

// Program returns the record of program name.
func (c *Client) Program(ctx context.Context, name string) (api.Program, error) {
	var out api.Program
	err := c.read(ctx, &request{method: http.MethodGet, path: programPath(name), out: &out})
	return out, err
}

// RemoveProgram removes program name; processes running it go on. It is
// retried only when it was refused before it could apply (no leader, an
// agent not reached): a retry after an unknown outcome could answer
// no_such_program for a remove that did happen.
func (c *Client) RemoveProgram(ctx context.Context, name string) error {
	rt := retrier{c: c}
	for {
		err := c.call(ctx, &request{method: http.MethodDelete, path: programPath(name), out: &struct{}{}}, nil)
		if err == nil {
			return nil
		}
		kind := classify(ctx, err)
		if kind != failRetry && kind != failUnreachable || !rt.again(ctx, kind) {
			return err
		}
	}
}
