package httpapi

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
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

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

// BaseURL turns an advertised HTTP address ("host:port" or a URL) into a
// base URL.
func BaseURL(addr string) (*url.URL, error) {
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

// discardLog silences the reverse proxy's own log: failures are answered
// to the client instead.
var discardLog = log.New(io.Discard, "", 0)

// Client is a node's HTTP client of the leader and the other nodes: the
// runner's way to the leader (Send, SendBatch, RegisterSession: the core on
// the leader, POST /v1/internal/command from a follower), linearizable
// reads of the local table (SyncedView), and the connections the HTTP API
// forwards requests over. Create it with NewClient; Close drops its idle
// connections.
type Client struct {
	name       string
	core       Core
	transport  *http.Transport
	client     *http.Client
	agentToken string // set by SetAgentToken before first use
}

// NewClient returns the client of the node that core serves.
func NewClient(core Core) *Client {
	tr := newTransport()
	return &Client{name: core.Name(), core: core, transport: tr, client: &http.Client{Transport: tr}}
}

// SetAgentToken makes the client present token (api.HeaderToken) on
// the node traffic it sends, for agents whose ACLs are on. It must be
// called before the client is used.
func (c *Client) SetAgentToken(token string) { c.agentToken = token }

// sign marks req as this node's own traffic with the agent token, if
// there is one. Requests relayed for users are never signed.
func (c *Client) sign(req *http.Request) {
	if c.agentToken != "" {
		req.Header.Set(api.HeaderToken, c.agentToken)
	}
}

// Do sends req, this node's own request to another node, with the
// client's connections.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	c.sign(req)
	return c.client.Do(req)
}

// AgentToken returns the token SetAgentToken set.
func (c *Client) AgentToken() string { return c.agentToken }

// Close drops the client's idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Send commits cmd, in the session sess if not nil, through the leader and
// returns its result.
func (c *Client) Send(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	if c.core.IsLeader() {
		stampNow(cmd, time.Now().UnixNano())
		return c.core.Submit(ctx, sess, cmd)
	}
	var out api.CommandResult
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set(api.HeaderNode, c.name)
	if sess != nil {
		h.Set(api.HeaderSession, strconv.FormatUint(sess.ID, 10))
		h.Set(api.HeaderRequest, strconv.FormatUint(sess.Request, 10))
		h.Set(api.HeaderAcked, strconv.FormatUint(sess.AckedBelow, 10))
	}
	if err := c.CallLeader(ctx, "/v1/internal/command", h, fsm.Encode(cmd), &out); err != nil {
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

// SendBatch sends cmds to the leader: core.submitBatch on the leader; from
// a follower, one POST of an fsm Batch per chunk of at most MaxReportBatch
// commands and MaxReportBytes. When a chunk gets no answer, it and the
// chunks after it are answered with that error.
func (c *Client) SendBatch(ctx context.Context, cmds []fsm.Command) ([]commit.Outcome, error) {
	if c.core.IsLeader() {
		now := time.Now().UnixNano()
		for _, c := range cmds {
			stampNow(c, now)
		}
		return c.core.SubmitBatch(ctx, nil, cmds), nil
	}
	outs := make([]commit.Outcome, 0, len(cmds))
	entries := make([][]byte, 0, min(len(cmds), MaxReportBatch))
	var buf []byte
	for start := 0; start < len(cmds); {
		entries, buf = entries[:0], buf[:0]
		end := start
		for end < len(cmds) && len(entries) < MaxReportBatch && (len(entries) == 0 || len(buf) < MaxReportBytes) {
			n := len(buf)
			buf = fsm.AppendEncode(buf, cmds[end])
			entries = append(entries, buf[n:len(buf):len(buf)])
			end++
		}
		chunk, err := c.sendChunk(ctx, entries)
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
func (c *Client) sendChunk(ctx context.Context, entries [][]byte) ([]commit.Outcome, error) {
	body, err := fsm.EncodeBatch(entries)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set(api.HeaderNode, c.name)
	var out api.CommandResults
	if err := c.CallLeader(ctx, "/v1/internal/command", h, body, &out); err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && (ae.Code == api.CodeBadRequest || ae.Code == fsm.Code(fsm.ErrPermission)) {
			return nil, fmt.Errorf("%w: %v", ErrBatchRefused, err)
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

// RegisterSession registers a client session with the leader.
func (c *Client) RegisterSession(ctx context.Context) (uint64, error) {
	if c.core.IsLeader() {
		return c.core.RegisterSession(ctx)
	}
	var out api.Session
	if err := c.CallLeader(ctx, "/v1/session", http.Header{}, nil, &out); err != nil {
		return 0, err
	}
	return out.ID, nil
}

// CallLeader POSTs body to the leader's route and decodes the JSON answer
// into out. Failures map to the core's errors: commit.ErrNoLeader when the request
// cannot have reached the leader, commit.ErrNotLeader when it refused it before
// dispatch, commit.ErrUnknownOutcome otherwise.
func (c *Client) CallLeader(ctx context.Context, route string, h http.Header, body []byte, out any) error {
	_, addr, ok := c.core.Leader()
	if !ok || addr == "" {
		return commit.ErrNoLeader
	}
	base, err := BaseURL(addr)
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
	c.sign(req)
	resp, err := c.client.Do(req)
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

// The limits of a batch of commands a node reports (POST
// /v1/internal/command with an fsm Batch).
const (
	// MaxReportBatch bounds the commands of one batch request; a larger
	// backlog goes in several.
	MaxReportBatch = 1024
	// MaxReportBytes bounds the encoded commands of one batch request,
	// well under api.MaxBodyBytes.
	MaxReportBytes = 512 << 10
)

// ErrBatchRefused means that the leader does not take batches of
// commands: the reporter sends them one by one.
var ErrBatchRefused = errors.New("the leader does not take batches of commands")
