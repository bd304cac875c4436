package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// namesNode is a Node with client sessions for IPC names whose kernel call
// always meets the name as a retry would (opErr), and whose table answers
// the request with answer, or fails to be reached with answerErr.
type namesNode struct {
	stubNode
	opErr     error
	answer    error
	answerErr error
	sess      *commit.SessionRef // the request the kernel call's context carried
}

type namesCtxKey struct{}

func (n *namesNode) InSession(ctx context.Context, sess *commit.SessionRef) context.Context {
	return context.WithValue(ctx, namesCtxKey{}, sess)
}

// call is the kernel's create or unlink: it notes the request its context
// carries.
func (n *namesNode) call(ctx context.Context) error {
	n.sess, _ = ctx.Value(namesCtxKey{}).(*commit.SessionRef)
	return n.opErr
}

func (n *namesNode) MqCreate(ctx context.Context, _ string, _ uint32, _ string, _ *ipc.MQAttr) error {
	return n.call(ctx)
}
func (n *namesNode) Mkfifo(ctx context.Context, _ string, _ fs.FileMode, _ string) error {
	return n.call(ctx)
}
func (n *namesNode) MqUnlink(ctx context.Context, _ string) error   { return n.call(ctx) }
func (n *namesNode) ShmUnlink(ctx context.Context, _ string) error  { return n.call(ctx) }
func (n *namesNode) RemoveFIFO(ctx context.Context, _ string) error { return n.call(ctx) }

func (n *namesNode) Answer(ctx context.Context, sess *commit.SessionRef, kind node.NameKind) (*fsm.Result, error) {
	if n.answerErr != nil {
		return nil, n.answerErr
	}
	return &fsm.Result{Err: n.answer}, nil
}

var _ SessionNames = (*namesNode)(nil)

// TestIPCRetryAnswers: a retried create or unlink that meets EEXIST or
// ENOENT answers from the request's first answer; when the table cannot
// tell (no leader while asking, as during a leader change), the answer is
// 503 unknown_outcome, never the errno the first attempt may have caused.
func TestIPCRetryAnswers(t *testing.T) {
	for _, tc := range []struct {
		name              string
		method, path      string
		body              string
		opErr             error
		answer, answerErr error
		status            int
		code              string
	}{
		{"create, first attempt applied", "POST", "/v1/mq", `{"name":"/q"}`, ipc.EEXIST, nil, nil, http.StatusOK, ""},
		{"create, real EEXIST", "POST", "/v1/mq", `{"name":"/q"}`, ipc.EEXIST, fsm.ErrInvalid, nil, http.StatusConflict, "EEXIST"},
		{"create, no leader to ask", "POST", "/v1/mq", `{"name":"/q"}`, ipc.EEXIST, nil, commit.ErrNoLeader, http.StatusServiceUnavailable, api.CodeUnknownOutcome},
		{"create, answer lost", "POST", "/v1/fifo", `{"path":"/f"}`, ipc.EEXIST, nil, fmt.Errorf("%w: leadership lost", commit.ErrUnknownOutcome), http.StatusServiceUnavailable, api.CodeUnknownOutcome},
		{"create, session expired", "POST", "/v1/fifo", `{"path":"/f"}`, ipc.EEXIST, fsm.ErrSessionExpired, nil, http.StatusGone, "session_expired"},
		{"unlink, first attempt applied", "DELETE", "/v1/mq?name=/q", "", ipc.ENOENT, nil, nil, http.StatusOK, ""},
		{"unlink, real ENOENT", "DELETE", "/v1/fifo?path=/f", "", ipc.ENOENT, fsm.ErrInvalid, nil, http.StatusNotFound, "ENOENT"},
		{"unlink, no leader to ask", "DELETE", "/v1/mq?name=/q", "", ipc.ENOENT, nil, commit.ErrNotLeader, http.StatusServiceUnavailable, api.CodeUnknownOutcome},
		{"other errors stay", "POST", "/v1/mq", `{"name":"/q"}`, ipc.EACCES, nil, commit.ErrNoLeader, http.StatusForbidden, "EACCES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &namesNode{opErr: tc.opErr, answer: tc.answer, answerErr: tc.answerErr}
			c := stubCore{}
			s, err := New(Config{
				Core: c, Node: n, Logs: stubLogs{}, Client: NewClient(c),
				Logger:    slog.New(slog.DiscardHandler),
				IPCStream: func(w http.ResponseWriter, r *http.Request) {},
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(s.Handler())
			defer func() {
				srv.Close()
				s.Drain()
				s.client.Close()
			}()
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			api.SetSession(req.Header, 7, 3, 1)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e api.Error
			if resp.StatusCode != http.StatusOK {
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
					t.Fatal(err)
				}
			}
			if resp.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, e.Code, e.Message, tc.status, tc.code)
			}
			if n.sess == nil || n.sess.ID != 7 || n.sess.Request != 3 {
				t.Fatalf("ran in %+v, want session 7 request 3", n.sess)
			}
		})
	}
}
