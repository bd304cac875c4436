package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// Client talks to a vproc cluster through one agent's HTTP API. It is safe
// for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL     // the agent's base URL; read-only
	hc   *http.Client // read-only

	// reg is a one-slot semaphore held while a session is registered, so
	// that concurrent first writes register one session between them.
	reg chan struct{}

	mu   sync.Mutex
	sess *session // guarded by mu; nil until the first write, or after expiry

	spawns merger // concurrent Spawn calls waiting to share a request
}

// maxSpawnBatch returns how many spawns one request may carry.
func (c *Client) maxSpawnBatch() int {
	if c.cfg.MaxSpawnBatch == 0 {
		return DefaultMaxSpawnBatch
	}
	return c.cfg.MaxSpawnBatch
}

// New returns a client for cfg. It validates cfg and sends nothing: the
// session is registered on the first write.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := parseAddr(cfg.Addr) // validated above
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 1024
		tr.MaxIdleConnsPerHost = 1024
		tr.TLSClientConfig = cfg.TLS
		hc = &http.Client{Transport: tr}
	}
	return &Client{cfg: cfg, base: base, hc: hc, reg: make(chan struct{}, 1)}, nil
}

// Close closes the idle connections of the client's HTTP client. Calls in
// flight go on; the client stays usable.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Addr returns the base URL of the agent the client talks to.
func (c *Client) Addr() string { return c.base.String() }

// request is one call of the API.
type request struct {
	method string
	path   string
	query  url.Values
	// in is encoded as the JSON body; stream, if set instead, is sent as
	// is (and the call is then never retried, as it cannot be replayed).
	in     any
	stream io.Reader
	// out receives the decoded JSON answer; nil discards it.
	out any
	// decode, if set instead of out, decodes the answer as it arrives.
	decode func(h http.Header, body io.Reader) error
	// timeout bounds each attempt; 0 means Config.Timeout, and a negative
	// value means the context only (streams).
	timeout time.Duration
	// anyStatus makes send return every answer, not only 2xx ones.
	anyStatus bool
}

// attemptKind says what a failed attempt means for the next one.
type attemptKind int

const (
	failFinal       attemptKind = iota // an answer: return it
	failRetry                          // refused before dispatch: a plain retry
	failUnreachable                    // the connection failed: not sent, a plain retry
	failUnknown                        // may have been applied: retry the same request id
)

// maxDialRetries bounds the retries of a call whose connection to the agent
// fails. An agent that is down does not come back within an election, so
// waiting long for it helps no one; the caller had better try another.
const maxDialRetries = 2

// retrier counts the attempts of one call.
type retrier struct {
	c        *Client
	attempts int // retries so far
	dials    int // consecutive connection failures
}

// again reports whether a call whose attempt failed with kind should be
// tried again, after pausing. It returns false when the error is an answer,
// when the retries are spent, or when ctx ends.
func (r *retrier) again(ctx context.Context, kind attemptKind) bool {
	if kind == failFinal || ctx.Err() != nil {
		return false
	}
	if kind == failUnreachable {
		r.dials++
	} else {
		r.dials = 0
	}
	if r.dials > maxDialRetries || r.attempts >= r.c.cfg.Retry.Max {
		return false
	}
	if r.c.pause(ctx, r.attempts) != nil {
		return false
	}
	r.attempts++
	return true
}

// classify says what a failed attempt means. Reads treat failUnknown as a
// plain retry.
func classify(ctx context.Context, err error) attemptKind {
	if ctx.Err() != nil {
		// The caller gave up; whatever was sent may have been applied.
		return failUnknown
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Err.Code {
		case api.CodeNoLeader, api.CodeNotLeader:
			return failRetry
		case api.CodeUnknownOutcome, api.CodeUnavailable, api.CodeTimeout:
			return failUnknown
		}
		if se.StatusCode == http.StatusBadGateway || se.StatusCode == http.StatusServiceUnavailable ||
			se.StatusCode == http.StatusGatewayTimeout {
			return failUnknown
		}
		return failFinal
	}
	var de *decodeError
	if errors.As(err, &de) {
		return failFinal
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return failUnreachable // the request never left
	}
	// A reset, an EOF, a timeout of the attempt: the request may have been
	// sent and applied.
	return failUnknown
}

// decodeError is a 2xx answer whose body could not be decoded.
type decodeError struct{ err error }

// Error says the answer was bad.
func (e *decodeError) Error() string { return "bad answer: " + e.err.Error() }

// Unwrap returns the decoding error.
func (e *decodeError) Unwrap() error { return e.err }

// read performs an idempotent call, retrying transient failures.
func (c *Client) read(ctx context.Context, r *request) error {
	rt := retrier{c: c}
	for {
		err := c.call(ctx, r, nil)
		if err == nil {
			return nil
		}
		if r.stream != nil || !rt.again(ctx, classify(ctx, err)) {
			return err
		}
	}
}

// write performs a write inside the client's session (Guarantee 9).
func (c *Client) write(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err // nothing was sent
	}
	for renewed := false; ; renewed = true {
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		rid := s.begin()
		maybe, err := c.sendWrite(ctx, r, s, rid)
		s.end(rid)
		if codeOf(err) == api.CodeSessionExpired {
			c.forget(s)
			if !maybe && !renewed {
				// No attempt can have applied it: the session was gone
				// before the request ever reached it. Sending it in a new
				// session cannot apply it twice.
				continue
			}
		}
		return err
	}
}

// sendWrite sends request rid of session s until it gets an answer, and
// reports whether any attempt may have applied it.
func (c *Client) sendWrite(ctx context.Context, r *request, s *session, rid uint64) (maybe bool, err error) {
	rt := retrier{c: c}
	for {
		err = c.call(ctx, r, &sessionRef{id: s.id, request: rid, acked: s.floor()})
		if err == nil {
			return maybe, nil
		}
		kind := classify(ctx, err)
		if kind == failFinal {
			return maybe, err
		}
		if kind == failUnknown {
			maybe = true
		}
		if rt.again(ctx, kind) {
			continue
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (last attempt: %w)", cerr, err)
		}
		if maybe && !errors.Is(err, ErrUnknownOutcome) {
			err = fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
		}
		return maybe, err
	}
}

// sessionRef names a request within a session.
type sessionRef struct {
	id, request, acked uint64
}

// call makes one attempt of r and decodes its answer into r.out.
func (c *Client) call(ctx context.Context, r *request, sess *sessionRef) error {
	ctx, cancel := c.attemptContext(ctx, r.timeout)
	defer cancel()
	resp, err := c.send(ctx, r, sess)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if r.decode != nil {
		rd := &readErr{r: resp.Body}
		if err := r.decode(resp.Header, rd); err != nil {
			if rd.err != nil {
				return rd.err // a reset while reading the answer: outcome unknown
			}
			return &decodeError{err}
		}
		return nil
	}
	if r.out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err // a reset while reading the answer: outcome unknown
	}
	if err := json.Unmarshal(body, r.out); err != nil {
		return &decodeError{err}
	}
	return nil
}

// readErr remembers the error of reading an answer, other than its end,
// so that a broken answer is told from a bad one.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// attemptContext bounds one attempt.
func (c *Client) attemptContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	switch {
	case timeout < 0:
		return context.WithCancel(ctx)
	case timeout == 0:
		timeout = c.cfg.Timeout
	}
	return context.WithTimeout(ctx, timeout)
}

// send makes one attempt and returns a 2xx answer, whose body the caller
// closes, or an error; an error answer is a *StatusError.
func (c *Client) send(ctx context.Context, r *request, sess *sessionRef) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawQuery = r.query.Encode()
	var body io.Reader
	contentType := ""
	switch {
	case r.stream != nil:
		body, contentType = r.stream, "application/octet-stream"
	case r.in != nil:
		b, err := json.Marshal(r.in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.Token != "" {
		req.Header.Set(api.HeaderToken, c.cfg.Token)
	}
	if sess != nil {
		api.SetSession(req.Header, sess.id, sess.request, sess.acked) // request 0: a merged request, whose items carry their ids
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if r.anyStatus || resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, errorAnswer(resp)
}

// errorAnswer decodes a non-2xx answer into a *StatusError.
func errorAnswer(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e api.Error
	if json.Unmarshal(b, &e) != nil || e.Code == "" {
		msg := strings.TrimSpace(string(b))
		if msg == "" || strings.HasPrefix(msg, "<") || strings.ContainsRune(msg, '\n') {
			msg = http.StatusText(resp.StatusCode)
		}
		e = api.Error{Code: statusCode(resp.StatusCode), Message: msg}
	}
	return &StatusError{StatusCode: resp.StatusCode, Err: &e}
}

// pause sleeps before retry number attempt+1, or returns when ctx ends.
func (c *Client) pause(ctx context.Context, attempt int) error {
	d := c.cfg.Retry.Backoff
	for i := 0; i < attempt && d < c.cfg.Retry.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.Retry.MaxBackoff)
	if d > 0 {
		d += time.Duration(rand.Int64N(int64(d)/4 + 1))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
