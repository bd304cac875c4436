package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// Forwarding. Every node serves every route, but only the leader can
// commit writes and answer linearizable reads: a follower forwards those
// to the leader, as a reverse proxy, with HeaderFwd set. A forwarded request
// is never forwarded again: if it reaches a node that is not (or no longer)
// the leader, the answer is 503 not_leader and the client retries. Logs and
// stdin go, the same way, to the node that runs the process, with
// HeaderTarget set: that node answers from what it has and forwards
// nothing.
//
// Outcomes of a forwarded write (Guarantee 9):
//   - no leader known, or the leader refused the connection: the request
//     never reached it, 503 no_leader, a plain retry;
//   - any failure after the request may have reached the leader (a timeout,
//     a reset connection, a broken answer): 503 unknown_outcome, retried
//     with the same session and request id.

// forwardDialTimeout bounds connecting to another node.
const forwardDialTimeout = 5 * time.Second

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: forwardDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// baseURL turns an advertised HTTP address ("host:port" or a URL) into a
// base URL.
func baseURL(addr string) (*url.URL, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bad node address %q", addr)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// isDialError reports whether err happened before a connection existed, so
// that the request cannot have reached the other side.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// forwardToLeader proxies r to the leader. write says whether r is a write,
// whose failures after dispatch have an unknown outcome.
func (s *serving) forwardToLeader(w http.ResponseWriter, r *http.Request, write bool) {
	name, addr, ok := s.c.leader()
	if ok && addr != "" {
		w.Header().Set(api.HeaderLeader, addr)
	}
	switch {
	case r.Header.Get(api.HeaderFwd) != "":
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeNotLeader, "forwarded to a node that is not the leader"})
		return
	case !ok || addr == "":
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeNoLeader, "no leader is known"})
		return
	case name == s.name:
		// The leader is this node by its own account, but it does not
		// hold leadership now: in transition.
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeNotLeader, "leadership is changing"})
		return
	}
	s.proxy(w, r, addr, "", 0, func(err error) *httpError {
		switch {
		case isDialError(err):
			return &httpError{http.StatusServiceUnavailable, api.CodeNoLeader, "the leader cannot be reached: " + err.Error()}
		case write:
			return &httpError{http.StatusServiceUnavailable, api.CodeUnknownOutcome, "forwarding to the leader failed: " + err.Error()}
		}
		return &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, "forwarding to the leader failed: " + err.Error()}
	})
}

// forwardToNode proxies r to the node with that name (logs, stdin). index
// is the log index of the record that names the node: the other node
// waits until it has applied it, so that its own view agrees.
func (s *serving) forwardToNode(w http.ResponseWriter, r *http.Request, nodeName string, index uint64) {
	addr, ok := s.c.nodeHTTPAddr(nodeName)
	if !ok || addr == "" {
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf("node %q has no known address", nodeName)})
		return
	}
	s.proxy(w, r, addr, nodeName, index, func(err error) *httpError {
		return &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf("node %q cannot be reached: %v", nodeName, err)}
	})
}

// proxy streams r to addr and the answer back, flushing as data arrives
// (log streams). target, if set, is the node r is meant for (HeaderTarget),
// and index travels with it in HeaderIndex. onErr turns a failure before
// the answer's header into the error answer.
func (s *serving) proxy(w http.ResponseWriter, r *http.Request, addr, target string, index uint64, onErr func(error) *httpError) {
	base, err := baseURL(addr)
	if err != nil {
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()})
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			pr.Out.Host = base.Host
			pr.Out.Header.Set(api.HeaderFwd, s.name)
			pr.Out.Header.Del(api.HeaderIndex)
			pr.Out.Header.Del(api.HeaderTarget)
			if target != "" {
				pr.Out.Header.Set(api.HeaderTarget, target)
				pr.Out.Header.Set(api.HeaderIndex, strconv.FormatUint(index, 10))
			}
		},
		Transport:     s.transport,
		FlushInterval: -1,
		ErrorLog:      discardLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			w.Header().Set(api.HeaderNode, s.name)
			s.fail(w, r, onErr(err))
		},
	}
	// The answer is the other node's, headers included.
	w.Header().Del(api.HeaderNode)
	w.Header().Del(api.HeaderLeader)
	rp.ServeHTTP(w, r)
}

// discardLog silences the reverse proxy's own log: failures are answered
// to the client instead.
var discardLog = log.New(io.Discard, "", 0)

// leaderSender is the runner's way to the leader: core.submit on the
// leader, POST /v1/internal/command from a follower.
type leaderSender struct{ s *serving }

var _ sender = leaderSender{}

func (ls leaderSender) send(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	s := ls.s
	if s.c.isLeader() {
		stampNow(cmd, time.Now().UnixNano())
		return s.c.submit(ctx, sess, cmd)
	}
	var out api.CommandResult
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set(api.HeaderNode, s.name)
	if sess != nil {
		h.Set(api.HeaderSession, strconv.FormatUint(sess.ID, 10))
		h.Set(api.HeaderRequest, strconv.FormatUint(sess.Request, 10))
		h.Set(api.HeaderAcked, strconv.FormatUint(sess.AckedBelow, 10))
	}
	if err := s.callLeader(ctx, "/v1/internal/command", h, fsm.Encode(cmd), &out); err != nil {
		return nil, err
	}
	return &fsm.Result{
		Index:       out.Index,
		Err:         fsm.ErrorForCode(out.Code, ""),
		PID:         out.PID,
		Incarnation: out.Incarnation,
		State:       fsm.State(out.State),
	}, nil
}

// sendBatch sends cmds to the leader: core.submitBatch on the leader; from
// a follower, one POST of an fsm Batch per chunk of at most maxReportBatch
// commands and maxReportBytes. When a chunk gets no answer, it and the
// chunks after it are answered with that error.
func (ls leaderSender) sendBatch(ctx context.Context, cmds []fsm.Command) ([]commit.Outcome, error) {
	s := ls.s
	if s.c.isLeader() {
		now := time.Now().UnixNano()
		for _, c := range cmds {
			stampNow(c, now)
		}
		return s.c.submitBatch(ctx, nil, cmds), nil
	}
	outs := make([]commit.Outcome, 0, len(cmds))
	entries := make([][]byte, 0, min(len(cmds), maxReportBatch))
	var buf []byte
	for start := 0; start < len(cmds); {
		entries, buf = entries[:0], buf[:0]
		end := start
		for end < len(cmds) && len(entries) < maxReportBatch && (len(entries) == 0 || len(buf) < maxReportBytes) {
			n := len(buf)
			buf = fsm.AppendEncode(buf, cmds[end])
			entries = append(entries, buf[n:len(buf):len(buf)])
			end++
		}
		chunk, err := s.sendChunk(ctx, entries)
		if err != nil {
			if len(outs) == 0 {
				return nil, err
			}
			for ; start < len(cmds); start++ {
				outs = append(outs, commit.Outcome{Err: err})
			}
			return outs, nil
		}
		outs = append(outs, chunk...)
		start = end
	}
	return outs, nil
}

// sendChunk POSTs encoded commands to the leader as one fsm Batch.
func (s *serving) sendChunk(ctx context.Context, entries [][]byte) ([]commit.Outcome, error) {
	body, err := fsm.EncodeBatch(entries)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set(api.HeaderNode, s.name)
	var out api.CommandResults
	if err := s.callLeader(ctx, "/v1/internal/command", h, body, &out); err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && (ae.Code == api.CodeBadRequest || ae.Code == fsm.Code(fsm.ErrPermission)) {
			return nil, fmt.Errorf("%w: %v", errBatchRefused, err)
		}
		return nil, err
	}
	if len(out.Results) != len(entries) {
		return nil, fmt.Errorf("%w: %d results for %d commands", commit.ErrUnknownOutcome, len(out.Results), len(entries))
	}
	outs := make([]commit.Outcome, len(entries))
	for i, cr := range out.Results {
		switch cr.Failure {
		case "":
			outs[i].Res = &fsm.Result{
				Index:       cr.Index,
				Err:         fsm.ErrorForCode(cr.Code, ""),
				PID:         cr.PID,
				Incarnation: cr.Incarnation,
				State:       fsm.State(cr.State),
			}
		case api.CodeNotLeader:
			outs[i].Err = fmt.Errorf("%w: %s", commit.ErrNotLeader, cr.Message)
		case api.CodeNoLeader:
			outs[i].Err = fmt.Errorf("%w: %s", commit.ErrNoLeader, cr.Message)
		default:
			outs[i].Err = fmt.Errorf("%w: %s", commit.ErrUnknownOutcome, cr.Message)
		}
	}
	return outs, nil
}

func (ls leaderSender) registerSession(ctx context.Context) (uint64, error) {
	s := ls.s
	if s.c.isLeader() {
		return s.c.registerSession(ctx)
	}
	var out api.Session
	if err := s.callLeader(ctx, "/v1/session", http.Header{}, nil, &out); err != nil {
		return 0, err
	}
	return out.ID, nil
}

// callLeader POSTs body to the leader's route and decodes the JSON answer
// into out. Failures map to the core's errors: commit.ErrNoLeader when the request
// cannot have reached the leader, commit.ErrNotLeader when it refused it before
// dispatch, commit.ErrUnknownOutcome otherwise.
func (s *serving) callLeader(ctx context.Context, route string, h http.Header, body []byte, out any) error {
	_, addr, ok := s.c.leader()
	if !ok || addr == "" {
		return commit.ErrNoLeader
	}
	base, err := baseURL(addr)
	if err != nil {
		return commit.ErrNoLeader
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+route, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if isDialError(err) {
			return fmt.Errorf("%w: %v", commit.ErrNoLeader, err)
		}
		return fmt.Errorf("%w: %v", commit.ErrUnknownOutcome, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, api.MaxBodyBytes))
	if err != nil {
		return fmt.Errorf("%w: %v", commit.ErrUnknownOutcome, err)
	}
	if resp.StatusCode/100 != 2 {
		var e api.Error
		_ = json.Unmarshal(data, &e)
		switch e.Code {
		case api.CodeNotLeader:
			return fmt.Errorf("%w: %s", commit.ErrNotLeader, e.Message)
		case api.CodeNoLeader:
			return fmt.Errorf("%w: %s", commit.ErrNoLeader, e.Message)
		case "":
			return fmt.Errorf("%w: status %d", commit.ErrUnknownOutcome, resp.StatusCode)
		}
		return fmt.Errorf("%w: %w", commit.ErrUnknownOutcome, &e)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: bad answer: %v", commit.ErrUnknownOutcome, err)
	}
	return nil
}
