package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/vproc/vproc/internal/testwait"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/spec"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// call is one request the fake API saw.
type call struct {
	path             string
	session, request uint64
	acked            uint64
}

// fakeAPI is an httptest server that records the session headers of every
// request and answers with the handlers a test installs.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server
	mux *http.ServeMux

	mu       sync.Mutex
	calls    []call // guarded by mu
	sessions atomic.Uint64
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, mux: http.NewServeMux()}
	f.mux.HandleFunc("POST /v1/session", func(w http.ResponseWriter, r *http.Request) {
		n := f.sessions.Add(1)
		writeJSON(w, 200, api.Session{ID: 100 * n})
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls = append(f.calls, call{
			path:    r.URL.Path,
			session: header(r, api.HeaderSession),
			request: header(r, api.HeaderRequest),
			acked:   header(r, api.HeaderAcked),
		})
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func header(r *http.Request, name string) uint64 {
	n, _ := strconv.ParseUint(r.Header.Get(name), 10, 64)
	return n
}

// callsTo returns the recorded calls of one path.
func (f *fakeAPI) callsTo(path string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.path == path {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeAPI) client(t *testing.T, opts ...func(*Config)) *Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = f.srv.URL
	cfg.Timeout = 2 * time.Second
	cfg.Retry = Retry{Max: 5, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, api.Error{Code: code, Message: strings.ReplaceAll(code, "_", " ")})
}

// resetConn hijacks the connection and closes it: the client sees a reset
// after it has sent its request.
func resetConn(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	conn.Close()
}

func TestWriteRetryKeepsRequestID(t *testing.T) {
	type failure func(t *testing.T, w http.ResponseWriter, r *http.Request)
	cases := []struct {
		name string
		fail failure
	}{
		{"unknown_outcome", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			writeErr(w, 503, api.CodeUnknownOutcome)
		}},
		{"not_leader", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			writeErr(w, 503, api.CodeNotLeader)
		}},
		{"no_leader", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			writeErr(w, 503, api.CodeNoLeader)
		}},
		{"reset after sending", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			resetConn(t, w)
		}},
		{"attempt timeout", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // so that the server sees the client go
			<-r.Context().Done()        // outlive the client's attempt timeout
		}},
		{"gateway timeout without a body", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusGatewayTimeout)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			var n atomic.Int32
			f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= 2 {
					tc.fail(t, w, r)
					return
				}
				writeJSON(w, 200, api.SpawnResponse{PID: 42, Index: 7})
			})
			c := f.client(t)
			c.cfg.Timeout = 200 * time.Millisecond
			got, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"})
			if err != nil {
				t.Fatalf("Spawn: %v", err)
			}
			if got.PID != 42 {
				t.Errorf("got PID %d, want 42", got.PID)
			}
			calls := f.callsTo("/v1/spawn")
			if len(calls) != 3 {
				t.Fatalf("got %d attempts, want 3", len(calls))
			}
			for i, cl := range calls {
				if cl.session != 100 || cl.request != 1 || cl.acked != 1 {
					t.Errorf("attempt %d: got session %d request %d acked %d, want 100 1 1", i, cl.session, cl.request, cl.acked)
				}
			}
			if s := f.sessions.Load(); s != 1 {
				t.Errorf("got %d sessions registered, want 1", s)
			}
		})
	}
}

func TestSessionRegisteredOnce(t *testing.T) {
	f := newFakeAPI(t)
	var pid atomic.Uint64
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.SpawnResponse{PID: pid.Add(1)})
	})
	c := f.client(t, func(cfg *Config) { cfg.MaxSpawnBatch = 1 })
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s := f.sessions.Load(); s != 1 {
		t.Errorf("got %d sessions registered, want 1", s)
	}
	seen := map[uint64]bool{}
	for _, cl := range f.callsTo("/v1/spawn") {
		if seen[cl.request] {
			t.Errorf("request id %d sent twice", cl.request)
		}
		seen[cl.request] = true
		if cl.acked > cl.request || cl.acked == 0 {
			t.Errorf("request %d: acked %d, want 1..%d", cl.request, cl.acked, cl.request)
		}
	}
	if len(seen) != 32 {
		t.Errorf("got %d distinct request ids, want 32", len(seen))
	}
}

func TestSessionExpiredAfterUnknownOutcomeIsSurfaced(t *testing.T) {
	f := newFakeAPI(t)
	var n atomic.Int32
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeErr(w, 503, api.CodeUnknownOutcome) // may have applied
		case 2:
			writeErr(w, 409, api.CodeSessionExpired)
		default:
			writeJSON(w, 200, api.SpawnResponse{PID: 9})
		}
	})
	c := f.client(t)
	_, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"})
	if !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("got %v, want ErrSessionExpired", err)
	}
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeSessionExpired {
		t.Errorf("errors.As *api.Error: got %v, want code %s", ae, api.CodeSessionExpired)
	}
	if calls := f.callsTo("/v1/spawn"); len(calls) != 2 {
		t.Fatalf("got %d attempts, want 2: no silent re-send on a new session", len(calls))
	}
	// The next write registers a fresh session.
	got, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"})
	if err != nil || got.PID != 9 {
		t.Fatalf("next Spawn: got %v, %v; want PID 9", got, err)
	}
	calls := f.callsTo("/v1/spawn")
	if last := calls[len(calls)-1]; last.session != 200 || last.request != 1 {
		t.Errorf("next write: got session %d request %d, want 200 1", last.session, last.request)
	}
	if s := f.sessions.Load(); s != 2 {
		t.Errorf("got %d sessions registered, want 2", s)
	}
}

func TestSessionExpiredBeforeAnyApplyIsRenewed(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		if header(r, api.HeaderSession) == 100 {
			writeErr(w, 409, api.CodeSessionExpired) // definite: not applied
			return
		}
		writeJSON(w, 200, api.SpawnResponse{PID: 5})
	})
	c := f.client(t)
	got, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"})
	if err != nil || got.PID != 5 {
		t.Fatalf("got %v, %v; want PID 5", got, err)
	}
	calls := f.callsTo("/v1/spawn")
	if len(calls) != 2 || calls[1].session != 200 {
		t.Fatalf("got calls %+v, want one on session 100 then one on 200", calls)
	}
}

func TestSessionExpiredTwiceIsSurfaced(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, 409, api.CodeSessionExpired)
	})
	c := f.client(t)
	_, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"})
	if !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("got %v, want ErrSessionExpired", err)
	}
	if n := len(f.callsTo("/v1/spawn")); n != 2 {
		t.Errorf("got %d attempts, want 2 (one renewal, no loop)", n)
	}
}

func TestAckFloorAdvances(t *testing.T) {
	f := newFakeAPI(t)
	release := make(chan struct{})
	f.mux.HandleFunc("POST /v1/kill", func(w http.ResponseWriter, r *http.Request) {
		if header(r, api.HeaderRequest) == 2 {
			<-release // request 2 stays outstanding
		}
		writeJSON(w, 200, api.KillResponse{})
	})
	c := f.client(t)
	ctx := context.Background()
	kill := func() error {
		_, err := c.Kill(ctx, api.KillRequest{Targets: []int64{1}, Signal: 15})
		return err
	}
	if err := kill(); err != nil { // request 1
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- kill() }() // request 2, held
	waitFor(t, func() bool { return len(f.callsTo("/v1/kill")) == 2 })
	if err := kill(); err != nil { // request 3, while 2 is outstanding
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := kill(); err != nil { // request 4
		t.Fatal(err)
	}
	want := map[uint64]uint64{1: 1, 2: 2, 3: 2, 4: 4}
	for _, cl := range f.callsTo("/v1/kill") {
		if cl.acked != want[cl.request] {
			t.Errorf("request %d: got acked %d, want %d", cl.request, cl.acked, want[cl.request])
		}
	}
}

func TestUnknownFieldsTolerated(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"pid": 12, "index": 3, "future_field": {"x": [1, 2]}}`)
	})
	f.mux.HandleFunc("GET /v1/procs/12", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"pid": 12, "state": "running", "exit_code": null, "brand_new": true}`)
	})
	c := f.client(t)
	got, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"})
	if err != nil || got.PID != 12 {
		t.Fatalf("Spawn: got %v, %v; want PID 12", got, err)
	}
	p, err := c.Get(context.Background(), 12, ReadOpts{})
	if err != nil || p.State != "running" || p.ExitCode != nil {
		t.Fatalf("Get: got %+v, %v", p, err)
	}
}

func TestReadRetries(t *testing.T) {
	f := newFakeAPI(t)
	var n atomic.Int32
	f.mux.HandleFunc("GET /v1/procs", func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeErr(w, 503, api.CodeNoLeader)
		case 2:
			writeErr(w, 503, api.CodeUnavailable)
		case 3:
			resetConn(t, w)
		default:
			if r.URL.Query().Get("all") != "true" || r.URL.Query().Get("stale") != "true" {
				t.Errorf("query %q: want all and stale", r.URL.RawQuery)
			}
			writeJSON(w, 200, api.ProcessList{Processes: []api.Process{{PID: 1}}, Index: 4})
		}
	})
	c := f.client(t)
	l, err := c.List(context.Background(), ListOpts{All: true, Stale: true})
	if err != nil || len(l.Processes) != 1 || l.Index != 4 {
		t.Fatalf("got %+v, %v", l, err)
	}
	if got := n.Load(); got != 4 {
		t.Errorf("got %d attempts, want 4", got)
	}
}

func TestErrors(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /v1/procs/{pid}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("pid") {
		case "7":
			writeJSON(w, 404, api.Error{Code: api.CodeNoSuchProcess, Message: "no such process: 7"})
		case "8":
			writeErr(w, 503, api.CodeNoLeader)
		case "9":
			http.Error(w, "<html>boom</html>", 500)
		}
	})
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, api.Error{Code: api.CodeUnknownProgram, Message: "unknown program: nope"})
	})
	c := f.client(t)
	ctx := context.Background()
	cases := []struct {
		pid      uint64
		sentinel error
		code     string
		msg      string
	}{
		{7, ErrNotFound, api.CodeNoSuchProcess, "no such process: 7"},
		{8, ErrNoLeader, api.CodeNoLeader, "no leader"},
		{9, nil, api.CodeInternal, "Internal Server Error"},
	}
	for _, tc := range cases {
		_, err := c.Get(ctx, tc.pid, ReadOpts{})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != tc.code {
			t.Errorf("Get %d: got %v, want code %s", tc.pid, err, tc.code)
		}
		if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
			t.Errorf("Get %d: got %v, want it to match %v", tc.pid, err, tc.sentinel)
		}
		if err != nil && err.Error() != tc.msg {
			t.Errorf("Get %d: got message %q, want %q", tc.pid, err.Error(), tc.msg)
		}
	}
	_, err := c.Spawn(ctx, api.SpawnRequest{Command: "nope"})
	if !errors.Is(err, ErrUnknownProgram) {
		t.Errorf("Spawn: got %v, want ErrUnknownProgram", err)
	}
}

func TestUnknownOutcomeWhenRetriesRunOut(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, 503, api.CodeUnknownOutcome)
	})
	c := f.client(t)
	_, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"})
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("got %v, want ErrUnknownOutcome", err)
	}
	calls := f.callsTo("/v1/spawn")
	if len(calls) != c.cfg.Retry.Max+1 {
		t.Errorf("got %d attempts, want %d", len(calls), c.cfg.Retry.Max+1)
	}
	for _, cl := range calls {
		if cl.request != 1 {
			t.Errorf("got request id %d, want 1 in every attempt", cl.request)
		}
	}
}

func TestWriteCancelledIsUnknownOutcome(t *testing.T) {
	f := newFakeAPI(t)
	arrived := make(chan struct{})
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-r.Context().Done()
	})
	c := f.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	_, err := c.Spawn(ctx, api.SpawnRequest{Command: "true"})
	if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want ErrUnknownOutcome and context.Canceled", err)
	}
}

func TestNoLeaderWriteIsNotUnknown(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, 503, api.CodeNoLeader)
	})
	c := f.client(t)
	_, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true"})
	if !errors.Is(err, ErrNoLeader) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("got %v, want ErrNoLeader and not ErrUnknownOutcome", err)
	}
}

func TestWaitRepeatsUntilExited(t *testing.T) {
	f := newFakeAPI(t)
	var n atomic.Int32
	f.mux.HandleFunc("GET /v1/procs/3/wait", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("timeout") == "" {
			t.Error("wait without timeout")
		}
		switch n.Add(1) {
		case 1:
			writeErr(w, 504, api.CodeTimeout)
		case 2:
			writeJSON(w, 200, api.Process{PID: 3, State: "running"})
		case 3:
			writeErr(w, 503, api.CodeNoLeader)
		default:
			code := 3
			writeJSON(w, 200, api.Process{PID: 3, State: "exited", ExitCode: &code})
		}
	})
	c := f.client(t)
	p, err := c.Wait(context.Background(), 3)
	if err != nil || p.ExitCode == nil || *p.ExitCode != 3 {
		t.Fatalf("got %+v, %v; want exit code 3", p, err)
	}
	if got := n.Load(); got != 4 {
		t.Errorf("got %d rounds, want 4", got)
	}
	if len(f.callsTo("/v1/procs/3/reap")) != 0 {
		t.Error("Wait reaped")
	}
}

func TestStreams(t *testing.T) {
	f := newFakeAPI(t)
	var stdin, snapshot string
	f.mux.HandleFunc("GET /v1/procs/4/logs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set(api.HeaderOffset, "25") // output below 25 was dropped
		io.WriteString(w, "follow="+q.Get("follow")+" offset="+q.Get("offset"))
	})
	f.mux.HandleFunc("POST /v1/procs/4/stdin", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		stdin = string(b)
	})
	f.mux.HandleFunc("GET /v1/snapshot", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "SNAP")
	})
	f.mux.HandleFunc("PUT /v1/snapshot", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		snapshot = string(b)
	})
	c := f.client(t)
	ctx := context.Background()
	rc, err := c.Logs(ctx, 4, true, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if got, want := string(b), "follow=true offset=10"; got != want {
		t.Errorf("Logs: got %q, want %q", got, want)
	}
	if ls, ok := rc.(*LogStream); !ok || ls.Start != 25 {
		t.Errorf("Logs: got %#v, want a *LogStream starting at 25", rc)
	}
	if err := c.Stdin(ctx, 4, strings.NewReader("hello\n")); err != nil || stdin != "hello\n" {
		t.Errorf("Stdin: got %q, %v", stdin, err)
	}
	var sb strings.Builder
	if err := c.SnapshotSave(ctx, &sb); err != nil || sb.String() != "SNAP" {
		t.Errorf("SnapshotSave: got %q, %v", sb.String(), err)
	}
	if err := c.SnapshotRestore(ctx, strings.NewReader("SNAP2")); err != nil || snapshot != "SNAP2" {
		t.Errorf("SnapshotRestore: got %q, %v", snapshot, err)
	}
}

func TestHealth(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		wantOK  bool
		wantErr bool
	}{
		{"leader", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, api.Health{Node: "n1", Leader: "n2", OK: true})
		}, true, false},
		{"no leader", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 503, api.Health{Node: "n1"})
		}, false, false},
		{"no leader error body", func(w http.ResponseWriter, r *http.Request) {
			writeErr(w, 503, api.CodeNoLeader)
		}, false, false},
		{"internal", func(w http.ResponseWriter, r *http.Request) {
			writeErr(w, 500, api.CodeInternal)
		}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.mux.HandleFunc("GET /v1/health", tc.handler)
			h, err := f.client(t).Health(context.Background())
			if h.OK != tc.wantOK || (err != nil) != tc.wantErr {
				t.Errorf("got %+v, %v; want ok %v, error %v", h, err, tc.wantOK, tc.wantErr)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f := newFakeAPI(t)
		c := f.client(t)
		f.srv.Close()
		if _, err := c.Health(context.Background()); err == nil {
			t.Error("got no error from a closed agent")
		}
	})
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	cases := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"default", func(*Config) {}, true},
		{"bare host:port", func(c *Config) { c.Addr = "10.0.0.1:7070" }, true},
		{"https", func(c *Config) { c.Addr = "https://vproc.example:7070/" }, true},
		{"empty addr", func(c *Config) { c.Addr = "" }, false},
		{"bad scheme", func(c *Config) { c.Addr = "ftp://x" }, false},
		{"query", func(c *Config) { c.Addr = "http://x?y=1" }, false},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, false},
		{"negative retries", func(c *Config) { c.Retry.Max = -1 }, false},
		{"max backoff below backoff", func(c *Config) { c.Retry.MaxBackoff = time.Millisecond }, false},
	}
	for _, tc := range cases {
		cfg := good
		tc.change(&cfg)
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestDefaultAddrFromEnv(t *testing.T) {
	t.Setenv(EnvAddr, "http://10.1.2.3:9000")
	if got := DefaultConfig().Addr; got != "http://10.1.2.3:9000" {
		t.Errorf("got %q, want the VPROC_ADDR value", got)
	}
	t.Setenv(EnvAddr, "")
	if got := DefaultConfig().Addr; got != DefaultAddr {
		t.Errorf("got %q, want %q", got, DefaultAddr)
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testwait.For(t, "the condition", 5*time.Second, cond)
}

func TestSessionFloor(t *testing.T) {
	// The floor is the lowest request id still outstanding, or the next
	// id when none is, whatever order the answers come in.
	s := newSession(1)
	for _, step := range []struct {
		begin int      // ids to begin
		end   []uint64 // then ids to end
		want  uint64
	}{
		{0, nil, 1},
		{3, nil, 1},            // 1, 2, 3 outstanding
		{0, []uint64{2}, 1},    // 1, 3
		{0, []uint64{1}, 3},    // 3
		{2, nil, 3},            // 3, 4, 5
		{0, []uint64{3, 5}, 4}, // 4
		{0, []uint64{4}, 6},    // none
		{1, []uint64{6}, 7},
	} {
		for range step.begin {
			s.begin()
		}
		for _, rid := range step.end {
			s.end(rid)
		}
		if got := s.floor(); got != step.want {
			t.Fatalf("after %+v: got floor %d, want %d", step, got, step.want)
		}
	}
}

// A spawn whose grammar fields do not parse is refused before anything is
// sent, with the grammar's error.
func TestSpawnBadGrammarNotSent(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.SpawnResponse{PID: 2, Index: 1})
	})
	c := f.client(t)
	cases := []struct {
		req  api.SpawnRequest
		want error
	}{
		{api.SpawnRequest{Command: "true", Limits: []string{"cpu=fast"}}, spec.ErrBadLimit},
		{api.SpawnRequest{Command: "true", Restart: "sometimes"}, spec.ErrBadRestart},
		{api.SpawnRequest{Command: "true", Constraints: []string{"rack"}}, spec.ErrBadConstraint},
		{api.SpawnRequest{Command: "true", Uses: []string{"mq:q"}}, spec.ErrBadUse},
	}
	for _, tc := range cases {
		if _, err := c.Spawn(context.Background(), tc.req); !errors.Is(err, tc.want) {
			t.Errorf("got %v, want %v for input %+v", err, tc.want, tc.req)
		}
	}
	if n := len(f.callsTo("/v1/spawn")); n != 0 {
		t.Errorf("got %d spawn requests, want 0", n)
	}
	if _, err := c.Spawn(context.Background(), api.SpawnRequest{Command: "true", Restart: "ALWAYS:2", Limits: []string{"MEM=1g"}}); err != nil {
		t.Errorf("got %v, want a PID for a request in any case", err)
	}
}

// TestDecodeListReusesArray: a page read into a list that held a longer
// one reuses its array and keeps nothing of the earlier page.
func TestDecodeListReusesArray(t *testing.T) {
	h := http.Header{"Content-Type": {"application/x-ndjson"}, api.HeaderNext: {"3"}}
	var l api.ProcessList
	if err := decodeList(h, strings.NewReader("{\"pid\":1,\"state\":\"exited\"}\n{\"pid\":2}\n{\"pid\":3}\n"), 3, &l); err != nil {
		t.Fatal(err)
	}
	first := &l.Processes[0]
	h.Del(api.HeaderNext)
	if err := decodeList(h, strings.NewReader("{\"pid\":4}\n"), 3, &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Processes) != 1 || l.Processes[0].PID != 4 || l.Processes[0].State != "" || l.Next != 0 {
		t.Fatalf("second page: %+v", l)
	}
	if &l.Processes[0] != first {
		t.Fatal("the second page has a new array")
	}
}

// A program upload refused for want of a leader is sent again, whole.
func TestAddProgramRetriesWholeUpload(t *testing.T) {
	module := bytes.Repeat([]byte("\x00asm"), 4096)
	f := newFakeAPI(t)
	var n atomic.Int32
	f.mux.HandleFunc("PUT /v1/programs/{name}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(body, module) {
			t.Errorf("attempt %d: body of %d bytes (%v), want the whole module", n.Load()+1, len(body), err)
		}
		switch n.Add(1) {
		case 1:
			writeErr(w, 503, api.CodeNoLeader)
		case 2:
			writeErr(w, 503, api.CodeUnknownOutcome)
		default:
			writeJSON(w, 200, api.Program{Name: r.PathValue("name"), Size: uint64(len(body))})
		}
	})
	c := f.client(t)
	p, err := c.AddProgram(context.Background(), "hellow", "", module)
	if err != nil {
		t.Fatalf("AddProgram: %v", err)
	}
	if p.Name != "hellow" || p.Size != uint64(len(module)) || n.Load() != 3 {
		t.Fatalf("got %+v after %d attempts, want hellow of %d bytes after 3", p, n.Load(), len(module))
	}
	// A refusal that is final is not retried.
	f.mux.HandleFunc("PUT /v1/programs/bad", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		writeErr(w, 400, api.CodeBadRequest)
	})
	n.Store(0)
	if _, err := c.AddProgram(context.Background(), "bad", "", module); err == nil || n.Load() != 1 {
		t.Fatalf("a final refusal: %v after %d attempts, want an error after 1", err, n.Load())
	}
}
