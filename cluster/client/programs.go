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
// committed. An upload is sent once: it is not retried.
func (c *Client) AddProgram(ctx context.Context, name, owner string, module []byte) (api.Program, error) {
	var out api.Program
	q := url.Values{}
	if owner != "" {
		q.Set("owner", owner)
	}
	err := c.call(ctx, &request{method: http.MethodPut, path: programPath(name), query: q, stream: bytes.NewReader(module), out: &out, timeout: -1}, nil)
	return out, err
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

// RemoveProgram removes program name; processes running it go on.
func (c *Client) RemoveProgram(ctx context.Context, name string) error {
	return c.call(ctx, &request{method: http.MethodDelete, path: programPath(name), out: &struct{}{}}, nil)
}
