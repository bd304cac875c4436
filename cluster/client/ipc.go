package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// IPCList returns the registry of one kind of named object: "mq", "fifo"
// or "shm".
func (c *Client) IPCList(ctx context.Context, kind string, opts ReadOpts) (api.IPCList, error) {
	var out api.IPCList
	q := url.Values{}
	if opts.Stale {
		q.Set("stale", "true")
	}
	err := c.read(ctx, &request{method: http.MethodGet, path: "/v1/ipc/" + url.PathEscape(kind), query: q, out: &out})
	return out, err
}

// MQCreate creates a queue. It is made once: an answer lost on the way is
// an error, and a retry may find the name taken (EEXIST).
func (c *Client) MQCreate(ctx context.Context, req api.MQCreateRequest) error {
	return c.call(ctx, &request{method: http.MethodPost, path: "/v1/mq", in: req, out: &struct{}{}}, nil)
}

// MQUnlink unlinks a queue, wherever it lives.
func (c *Client) MQUnlink(ctx context.Context, name string) error {
	return c.call(ctx, &request{method: http.MethodDelete, path: "/v1/mq", query: url.Values{"name": {name}}, out: &struct{}{}}, nil)
}

// MQSend sends one message. A blocking send lasts until the queue has room,
// req.Timeout passes, or ctx ends.
func (c *Client) MQSend(ctx context.Context, req api.MQSendRequest) error {
	return c.call(ctx, &request{method: http.MethodPost, path: "/v1/mq/send", in: req, out: &struct{}{}, timeout: ipcTimeout(c, req.Timeout)}, nil)
}

// MQRecv receives one message, with MQSend's blocking rules.
func (c *Client) MQRecv(ctx context.Context, req api.MQRecvRequest) (api.MQMessage, error) {
	var out api.MQMessage
	err := c.call(ctx, &request{method: http.MethodPost, path: "/v1/mq/recv", in: req, out: &out, timeout: ipcTimeout(c, req.Timeout)}, nil)
	return out, err
}

// FIFOCreate makes a FIFO.
func (c *Client) FIFOCreate(ctx context.Context, req api.FIFOCreateRequest) error {
	return c.call(ctx, &request{method: http.MethodPost, path: "/v1/fifo", in: req, out: &struct{}{}}, nil)
}

// FIFORemove removes a FIFO, wherever it lives.
func (c *Client) FIFORemove(ctx context.Context, path string) error {
	return c.call(ctx, &request{method: http.MethodDelete, path: "/v1/fifo", query: url.Values{"path": {path}}, out: &struct{}{}}, nil)
}

// ShmUnlink unlinks a shared-memory segment, wherever it lives.
func (c *Client) ShmUnlink(ctx context.Context, name string) error {
	return c.call(ctx, &request{method: http.MethodDelete, path: "/v1/shm", query: url.Values{"name": {name}}, out: &struct{}{}}, nil)
}

// ipcTimeout bounds a blocking send or receive: its own timeout plus the
// client's, or no bound of the client's own when it has none.
func ipcTimeout(c *Client, timeout string) time.Duration {
	if timeout == "" {
		return -1
	}
	d, err := time.ParseDuration(timeout)
	if err != nil {
		return 0
	}
	return d + c.cfg.Timeout
}
