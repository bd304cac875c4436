//go:build linux

package jepsen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/ctxutil"
)

// stream is a client stream: one session, one HTTP transport. A new one
// replaces it after every unknown outcome.
type stream struct {
	client  int
	id      int
	hc      *http.Client
	session uint64 // 0 until the first write registers one
	next    uint64 // the next request id
	pin     string // the only node the stream talks to; "" for random nodes
}

func (w *Workload) newStream(client int) *stream {
	return &stream{client: client, id: w.hist.NewStream(), hc: &http.Client{Transport: clientTransport(w.endpoints())}, next: 1}
}

func (s *stream) close() { s.hc.CloseIdleConnections() }

// renew replaces the stream's session and connections, as etcd's
// robustness clients do after an unknown outcome.
func (w *Workload) renew(s *stream) {
	s.close()
	pin := s.pin
	*s = *w.newStream(s.client)
	s.pin = pin
}

// newTransport returns the clients' transport: tc's TLS (nil for
// plaintext), and token, when not "", in every request's X-Vproc-Token.
func newTransport(tc *tls.Config, token string) http.RoundTripper {
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 15 * time.Second}
	t := &http.Transport{
		TLSClientConfig:     tc,
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	if token == "" {
		return t
	}
	return &tokenTransport{base: t, token: token}
}

// clientTransport is newTransport for the endpoints' TLS and token.
func clientTransport(eps []Endpoint) http.RoundTripper {
	return newTransport(tlsOf(eps), tokenOfEndpoints(eps))
}

// answerKind says what an attempt tells about the operation.
type answerKind int

const (
	answered answerKind = iota // an answer of the system: success or a failure with a code
	refused                    // not applied: refused before dispatch, or never sent
	maybe                      // may have applied: a timeout, a reset, unknown_outcome
)

// attempt is the result of one HTTP call.
type attempt struct {
	kind answerKind
	code string // the error code of an error answer
	msg  string
	hdr  http.Header
}

// sessionHeaders names a write within a session.
type sessionHeaders struct{ session, request, acked uint64 }

// callAPI makes one call and decodes a 2xx answer into out.
func callAPI(ctx context.Context, hc *http.Client, ep Endpoint, method, path string, query url.Values, in, out any, sess *sessionHeaders) attempt {
	u := ep.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return attempt{kind: refused, code: "encode", msg: err.Error()}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return attempt{kind: refused, code: "request", msg: err.Error()}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sess != nil {
		api.SetSession(req.Header, sess.session, sess.request, sess.acked)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return attempt{kind: refused, code: "dial", msg: err.Error()}
		}
		return attempt{kind: maybe, code: "transport", msg: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return attempt{kind: maybe, code: "transport", msg: err.Error(), hdr: resp.Header}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil && len(b) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				return attempt{kind: maybe, code: "decode", msg: err.Error(), hdr: resp.Header}
			}
		}
		return attempt{kind: answered, hdr: resp.Header}
	}
	var e api.Error
	if json.Unmarshal(b, &e) != nil || e.Code == "" {
		e = api.Error{Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(b))}
	}
	a := attempt{kind: answered, code: e.Code, msg: e.Message, hdr: resp.Header}
	switch e.Code {
	case api.CodeNoLeader, api.CodeNotLeader:
		a.kind = refused
	case api.CodeUnknownOutcome, api.CodeUnavailable, api.CodeTimeout, api.CodeInternal:
		a.kind = maybe
	default:
		if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable ||
			resp.StatusCode == http.StatusGatewayTimeout {
			a.kind = maybe
		}
	}
	return a
}

// endpoint picks the stream's node: its pinned one, or a random one.
func (w *Workload) endpoint(st *stream, rng *rand.Rand) (Endpoint, bool) {
	eps := w.endpoints()
	if st.pin != "" {
		for _, ep := range eps {
			if ep.Name == st.pin {
				return ep, true
			}
		}
		return Endpoint{}, false
	}
	if len(eps) == 0 {
		return Endpoint{}, false
	}
	return eps[rng.IntN(len(eps))], true
}

// write performs a write in the stream's session, with up to cfg.Attempts
// attempts of the same request id on random nodes (Guarantee 9), and fills
// in op's outcome. After an unknown outcome the stream is renewed.
func (w *Workload) write(ctx context.Context, st *stream, rng *rand.Rand, op *Op, method, path string, query url.Values, in, out any) {
	op.Stream, op.Client = st.id, st.client
	ep, ok := w.endpoint(st, rng)
	if !ok {
		op.Outcome, op.Code, op.Error = OutcomeFail, "no_endpoint", "no node to talk to"
		return
	}
	op.Node = ep.Name
	op.Call = w.hist.Clock().Now()
	if st.session == 0 {
		var s api.Session
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.OpTimeout)
		a := callAPI(actx, st.hc, ep, http.MethodPost, "/v1/session", nil, nil, &s, nil)
		cancel()
		if a.kind != answered || a.code != "" || s.ID == 0 {
			op.Outcome, op.Code, op.Error = OutcomeFail, "no_session", fmt.Sprintf("register session: %s %s", a.code, a.msg)
			op.Return = w.hist.Clock().Now()
			return
		}
		st.session, st.next = s.ID, 1
	}
	rid := st.next
	st.next++
	sess := &sessionHeaders{session: st.session, request: rid, acked: rid}
	applied := false // some attempt may have applied
	var last attempt
	for i := 0; i < w.cfg.Attempts; i++ {
		if i > 0 {
			ctxutil.Sleep(context.WithoutCancel(ctx), 100*time.Millisecond+time.Duration(rng.Int64N(int64(200*time.Millisecond))))
			if e, ok := w.endpoint(st, rng); ok {
				ep = e
			}
		}
		op.Attempts++
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.OpTimeout)
		last = callAPI(actx, st.hc, ep, method, path, query, in, out, sess)
		cancel()
		if last.kind == maybe {
			applied = true
		}
		if last.kind == answered {
			break
		}
	}
	op.Return = w.hist.Clock().Now()
	switch {
	case last.kind == answered && last.code == "":
		op.Outcome = OutcomeOK
	case last.kind == answered && last.code == api.CodeSessionExpired && applied:
		w.unknown(st, op, last)
	case last.kind == answered:
		op.Outcome, op.Code, op.Error = OutcomeFail, last.code, last.msg
		if last.code == api.CodeSessionExpired {
			st.session = 0 // never applied: the next write registers a new one
		}
	case applied:
		w.unknown(st, op, last)
	default:
		op.Outcome, op.Code, op.Error = OutcomeFail, last.code, last.msg
	}
}

// unknown records an unknown outcome and renews the stream.
func (w *Workload) unknown(st *stream, op *Op, last attempt) {
	op.Outcome, op.Return, op.Code, op.Error = OutcomeUnknown, Unknown, last.code, last.msg
	w.renew(st)
}

// read performs a read on a random node: one attempt, plus one more when
// refused before dispatch. A read never has an unknown outcome.
func (w *Workload) read(ctx context.Context, st *stream, rng *rand.Rand, op *Op, path string, query url.Values, out any, timeout time.Duration) {
	op.Stream, op.Client = st.id, st.client
	op.Call = w.hist.Clock().Now()
	var last attempt
	for i := 0; i < 2; i++ {
		ep, ok := w.endpoint(st, rng)
		if !ok {
			last = attempt{kind: refused, code: "no_endpoint", msg: "no node to talk to"}
			break
		}
		if op.Node == "" {
			op.Node = ep.Name
		}
		op.Attempts++
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		last = callAPI(actx, st.hc, ep, http.MethodGet, path, query, nil, out, nil)
		cancel()
		if last.kind != refused {
			break
		}
	}
	op.Return = w.hist.Clock().Now()
	if last.kind == answered && last.code == "" {
		op.Outcome = OutcomeOK
		return
	}
	op.Outcome, op.Code, op.Error = OutcomeFail, last.code, last.msg
}

// spawn spawns command with args; restart is the restart policy, tag asks
