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

// MQCreate creates a queue. It is a write in the client's session: a
// retry after an unknown outcome returns the first attempt's answer,
// never EEXIST for that attempt's own queue (Guarantee 9).
func (c *Client) MQCreate(ctx context.Context, req api.MQCreateRequest) error {
	return c.write(ctx, &request{method: http.MethodPost, path: "/v1/mq", in: req, out: &struct{}{}})
}

// MQUnlink unlinks a queue, wherever it lives. It is a write in the
// client's session, as MQCreate is: a retry never answers ENOENT for its
// own first attempt.
func (c *Client) MQUnlink(ctx context.Context, name string) error {
	return c.write(ctx, &request{method: http.MethodDelete, path: "/v1/mq", query: url.Values{"name": {name}}, out: &struct{}{}})
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

// FIFOCreate makes a FIFO, in the client's session as MQCreate.
func (c *Client) FIFOCreate(ctx context.Context, req api.FIFOCreateRequest) error {
	return c.write(ctx, &request{method: http.MethodPost, path: "/v1/fifo", in: req, out: &struct{}{}})
}

// FIFORemove removes a FIFO, wherever it lives, in the client's session
// as MQUnlink.
func (c *Client) FIFORemove(ctx context.Context, path string) error {
	return c.write(ctx, &request{method: http.MethodDelete, path: "/v1/fifo", query: url.Values{"path": {path}}, out: &struct{}{}})
}

// ShmUnlink unlinks a shared-memory segment, wherever it lives, in the
// client's session as MQUnlink.
func (c *Client) ShmUnlink(ctx context.Context, name string) error {
	return c.write(ctx, &request{method: http.MethodDelete, path: "/v1/shm", query: url.Values{"name": {name}}, out: &struct{}{}})
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
