package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/logstore"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
)

// stubCore answers the few Core calls these tests make; the embedded nil
// Core panics on any other, which the recover middleware turns into 500.
type stubCore struct {
	Core
	leaderAddr string
}

func (stubCore) Name() string                                       { return "n1" }
func (c stubCore) Leader() (string, string, bool)                   { return "n0", c.leaderAddr, c.leaderAddr != "" }
func (stubCore) IsLeader() bool                                     { return true }
func (stubCore) StateInfo() api.StateInfo                           { return api.StateInfo{Node: "n1", AppliedIndex: 7} }
func (stubCore) RenewLease(context.Context, string) (uint64, error) { return 0, commit.ErrNotLeader }

// stubNode and stubLogs are never called by these tests.
type stubNode struct{ Node }
type stubLogs struct{ Logs }

func newTestServer(t *testing.T, c stubCore) *httptest.Server {
	t.Helper()
	s, err := New(Config{
		Core:      c,
		Node:      stubNode{},
		Logs:      stubLogs{},
		Client:    NewClient(c),
		Logger:    slog.New(slog.DiscardHandler),
		IPCStream: func(w http.ResponseWriter, r *http.Request) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Drain()
		s.client.Close()
	})
	return srv
}

func TestRoutingAndMiddleware(t *testing.T) {
	srv := newTestServer(t, stubCore{leaderAddr: "10.0.0.1:7070"})
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/no/such/route", http.StatusNotFound, api.CodeNotFound},
		{"PUT", "/v1/state", http.StatusMethodNotAllowed, api.CodeNotAllowed},
		{"GET", "/v1/operator/raft/peers", http.StatusInternalServerError, api.CodeInternal}, // the stub panics
		{"POST", "/v1/internal/lease", http.StatusServiceUnavailable, api.CodeNotLeader},
		{"GET", "/v1/state", http.StatusOK, ""},
		{"GET", "/v1/health", http.StatusOK, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			req.Header.Set(api.HeaderNode, "n2")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if got := resp.Header.Get(api.HeaderNode); got != "n1" {
				t.Errorf("%s header %q, want n1", api.HeaderNode, got)
			}
			if tc.code == "" {
				return
			}
			var e api.Error
			if err := json.Unmarshal(body, &e); err != nil || e.Code != tc.code {
				t.Errorf("body %s: code %q, want %q", body, e.Code, tc.code)
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	s := &Server{core: stubCore{leaderAddr: "10.0.0.1:7070"}, log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		leader bool
	}{
		{"not leader", fmt.Errorf("x: %w", commit.ErrNotLeader), 503, api.CodeNotLeader, true},
		{"no leader", commit.ErrNoLeader, 503, api.CodeNoLeader, true},
		{"unknown outcome", commit.ErrUnknownOutcome, 503, api.CodeUnknownOutcome, true},
		{"cancelled", context.Canceled, 503, api.CodeUnavailable, true},
		{"logs closed", logstore.ErrClosed, 503, api.CodeUnavailable, true},
		{"stopping", ErrStopping, 503, api.CodeUnavailable, true},
		{"bad request", badRequest("bad %s", "thing"), 400, api.CodeBadRequest, false},
		{"domain", fmt.Errorf("%w: pid 9", fsm.ErrNoSuchProcess), 404, fsm.Code(fsm.ErrNoSuchProcess), false},
		{"errno", errnoError(fmt.Errorf("open: %w", ipc.ENOENT)), 404, ipc.ENOENT.Name(), false},
		{"errno busy", errnoError(ipc.EAGAIN), 503, ipc.EAGAIN.Name(), false},
		{"other", errors.New("boom"), 500, api.CodeInternal, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.fail(w, httptest.NewRequest("GET", "/v1/procs", nil), tc.err)
			var e api.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.status || e.Code != tc.code {
				t.Errorf("fail(%v) = %d %q, want %d %q", tc.err, w.Code, e.Code, tc.status, tc.code)
			}
			if got := w.Header().Get(api.HeaderLeader) != ""; got != tc.leader {
				t.Errorf("fail(%v): leader header set %v, want %v", tc.err, got, tc.leader)
			}
		})
	}
}
