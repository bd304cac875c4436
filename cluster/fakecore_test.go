package cluster

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/internal/testwait"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/events"
	"github.com/vproc/vproc/cluster/runner"
	"github.com/vproc/vproc/fsm"
)

// fakeCore implements core over an in-memory fsm.FSM that applies each
// submitted command at once, as a single-node leader would. With autoPlace
// it also plays the leader's placement loop: every pending process is
// placed on this node right after each apply.
type fakeCore struct {
	nodeName string
	f        *fsm.FSM

	mu      sync.Mutex // serializes applies; guards index, changed, applied
	index   uint64
	changed chan struct{} // closed and replaced after each apply
	applied []fsm.Command // every command applied, in order

	leaderFlag atomic.Bool
	autoPlace  atomic.Bool
	// refuseLeases makes renewLease fail, as a leader out of reach would.
	refuseLeases atomic.Bool

	amu        sync.Mutex // guards leaderName, leaderAddr, addrs, hook
	leaderName string
	leaderAddr string
	addrs      map[string]string
	// hook, if set, runs before each submit; an error fails the submit
	// without applying it.
	hook func(cmd fsm.Command) error
	// panicPeers makes peers panic, to test the recover middleware.
	panicPeers atomic.Bool
}

var _ core = (*fakeCore)(nil)

func newFakeCore(t testing.TB, name string) *fakeCore {
	t.Helper()
	f, err := fsm.New(fsm.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeCore{nodeName: name, f: f, changed: make(chan struct{}), addrs: make(map[string]string)}
	c.leaderFlag.Store(true)
	c.autoPlace.Store(true)
	c.leaderName = name
	c.apply(&fsm.NodeUpsert{ID: name, Name: name, Capacity: fsm.Capacity{Slots: 4}, Now: time.Now().UnixNano()})
	return c
}

// apply applies one command as the next log entry.
func (c *fakeCore) apply(cmd fsm.Command) *fsm.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.applyLocked(cmd)
	if c.autoPlace.Load() {
		for _, p := range c.f.Pending() {
			if p.NotBefore > time.Now().UnixNano() {
				continue
			}
			c.applyLocked(&fsm.Place{PID: p.PID, Incarnation: p.Incarnation, ExpectState: fsm.StatePending, Node: c.nodeName, Now: time.Now().UnixNano()})
		}
	}
	return r
}

func (c *fakeCore) applyLocked(cmd fsm.Command) *fsm.Result {
	c.index++
	out := c.f.Apply(c.index, fsm.Encode(cmd))
	c.applied = append(c.applied, cmd)
	close(c.changed)
	c.changed = make(chan struct{})
	return out.(*fsm.Result)
}

// commands returns the applied commands of one type.
func (c *fakeCore) commands(t fsm.Type) []fsm.Command {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []fsm.Command
	for _, cmd := range c.applied {
		if sr, ok := cmd.(*fsm.SessionRequest); ok {
			cmd = sr.Command
		}
		if cmd.Type() == t {
			out = append(out, cmd)
		}
	}
	return out
}

// reportedStarts counts the starts of pid that reached the table: Started
// reports, and exits that report the start too.
func (c *fakeCore) reportedStarts(pid uint64) int {
	n := 0
	for _, cmd := range c.commands(fsm.TypeStarted) {
		if cmd.(*fsm.Started).PID == pid {
			n++
		}
	}
	for _, cmd := range c.commands(fsm.TypeExited) {
		if e := cmd.(*fsm.Exited); e.PID == pid && e.Started {
			n++
		}
	}
	return n
}

func (c *fakeCore) setHook(h func(fsm.Command) error) {
	c.amu.Lock()
	c.hook = h
	c.amu.Unlock()
}

func (c *fakeCore) setLeader(name, addr string, self bool) {
	c.amu.Lock()
	c.leaderName, c.leaderAddr = name, addr
	c.amu.Unlock()
	c.leaderFlag.Store(self)
}

func (c *fakeCore) setAddr(name, addr string) {
	c.amu.Lock()
	c.addrs[name] = addr
	c.amu.Unlock()
}

func (c *fakeCore) name() string { return c.nodeName }

func (c *fakeCore) submit(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	if !c.leaderFlag.Load() {
		return nil, commit.ErrNotLeader
	}
	c.amu.Lock()
	hook := c.hook
	c.amu.Unlock()
	if hook != nil {
		if err := hook(cmd); err != nil {
			return nil, err
		}
	}
	if sess != nil {
		cmd = &fsm.SessionRequest{SessionID: sess.ID, RequestID: sess.Request, AckedBelow: sess.AckedBelow, Now: time.Now().UnixNano(), Command: cmd}
	}
	return c.apply(cmd), nil
}

func (c *fakeCore) submitBatch(ctx context.Context, sess []*commit.SessionRef, cmds []fsm.Command) []commit.Outcome {
	outs := make([]commit.Outcome, len(cmds))
	for i, cmd := range cmds {
		var sr *commit.SessionRef
		if sess != nil {
			sr = sess[i]
		}
		outs[i].Res, outs[i].Err = c.submit(ctx, sr, cmd)
	}
	return outs
}

func (c *fakeCore) registerSession(ctx context.Context) (uint64, error) {
	if !c.leaderFlag.Load() {
		return 0, commit.ErrNotLeader
	}
	return c.apply(&fsm.RegisterSession{Now: time.Now().UnixNano()}).SessionID, nil
}

func (c *fakeCore) consistentView(ctx context.Context) (*fsm.View, error) {
	if !c.leaderFlag.Load() {
		return nil, commit.ErrNotLeader
	}
	return c.f.View(), nil
}

func (c *fakeCore) localView() *fsm.View { return c.f.View() }

func (c *fakeCore) eventBuffer() *events.Buffer { return nil }

func (c *fakeCore) await(uint64) (release func()) { return func() {} }

func (c *fakeCore) waitApplied(ctx context.Context, index uint64) error {
	for {
		c.mu.Lock()
		if c.f.AppliedIndex() > index {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *fakeCore) leader() (string, string, bool) {
	c.amu.Lock()
	defer c.amu.Unlock()
	return c.leaderName, c.leaderAddr, c.leaderName != ""
}

func (c *fakeCore) isLeader() bool { return c.leaderFlag.Load() }

func (c *fakeCore) readIndex(context.Context) (uint64, error) {
	if !c.leaderFlag.Load() {
		return 0, commit.ErrNotLeader
	}
	return c.f.View().Index(), nil
}

func (c *fakeCore) renewLease(_ context.Context, node string) (uint64, error) {
	if !c.leaderFlag.Load() || c.refuseLeases.Load() {
		return 0, commit.ErrNotLeader
	}
	return c.f.View().Index(), nil
}

func (c *fakeCore) nodeHTTPAddr(name string) (string, bool) {
	c.amu.Lock()
	defer c.amu.Unlock()
	a, ok := c.addrs[name]
	return a, ok
}

func (c *fakeCore) nodes(v *fsm.View) []api.Node {
	var out []api.Node
	for _, n := range v.Nodes() {
		out = append(out, api.Node{ID: n.ID, Name: n.Name, Status: string(n.Status), Slots: int(n.Capacity.Slots), Voter: true, Leader: n.ID == c.nodeName})
	}
	return out
}

func (c *fakeCore) peers() ([]api.Peer, error) {
	if c.panicPeers.Load() {
		panic("peers exploded")
	}
	return []api.Peer{{ID: c.nodeName, Address: "127.0.0.1:7071", Suffrage: "voter", Leader: true}}, nil
}

func (c *fakeCore) snapshotSave(ctx context.Context, w io.Writer) error {
	return c.f.Snapshot().Persist(w)
}

func (c *fakeCore) snapshotRestore(ctx context.Context, r io.Reader) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.f.Restore(r); err != nil {
		return err
	}
	c.index = max(c.index, c.f.AppliedIndex())
	close(c.changed)
	c.changed = make(chan struct{})
	return nil
}

func (c *fakeCore) stateInfo() api.StateInfo {
	h := c.f.Hash()
	return api.StateInfo{Node: c.nodeName, AppliedIndex: c.f.AppliedIndex(), Hash: hex.EncodeToString(h[:])}
}

// ---- harness ----

// harness is one serving over a fake core behind an httptest server.
type harness struct {
	once sync.Once
	t    testing.TB
	c    *fakeCore
	s    *serving
	srv  *httptest.Server
	url  string
}

// harnessOpts is what harness options change: the agent's configuration
// and the runner's.
type harnessOpts struct {
	cfg  Config
	tune []func(*runner.Config)
}

type harnessOpt func(*harnessOpts)

func withDataDir(dir string) harnessOpt {
	return func(o *harnessOpts) { o.cfg.Dev, o.cfg.DataDir = false, dir }
}

func withRunner(fn func(*runner.Config)) harnessOpt {
	return func(o *harnessOpts) { o.tune = append(o.tune, fn) }
}

// newHarness starts a serving on core c (a fresh one if nil). start says
// whether its runner runs.
func newHarness(t testing.TB, c *fakeCore, start bool, opts ...harnessOpt) *harness {
	t.Helper()
	if c == nil {
		c = newFakeCore(t, "n1")
	}
	o := harnessOpts{cfg: Config{Name: c.nodeName, Dev: true, CPUs: 2, FenceTimeout: 2 * time.Second, LostTimeout: 4 * time.Second}}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := newServing(c, o.cfg, testLogger(t), o.tune...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.handler())
	c.setAddr(c.nodeName, srv.URL)
	if c.isLeader() {
		c.setLeader(c.nodeName, srv.URL, true)
	}
	if start {
		s.start()
	}
	h := &harness{t: t, c: c, s: s, srv: srv, url: srv.URL}
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	h.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.s.stop(ctx); err != nil {
			h.t.Errorf("stop: %v", err)
		}
		h.srv.Close()
	})
}

// testLogger sends warnings and errors to the test log.
func testLogger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.F); ok {
		// A fuzz target may not log through f.
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// resp is a decoded answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) err() api.Error {
	var e api.Error
	_ = json.Unmarshal(r.body, &e)
	return e
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// do sends a request to base and reads the whole answer.
func do(t testing.TB, method, url string, body any, hdr map[string]string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading: %v", method, url, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

// spawn spawns through the API and returns the PID.
func (h *harness) spawn(req api.SpawnRequest) uint64 {
	h.t.Helper()
	r := do(h.t, "POST", h.url+"/v1/spawn", req, nil)
	if r.status != http.StatusOK {
		h.t.Fatalf("spawn %+v: status %d %s", req, r.status, r.body)
	}
	var out api.SpawnResponse
	r.decode(h.t, &out)
	return out.PID
}

// proc returns the table's record of pid.
func (h *harness) proc(pid uint64) (fsm.Process, bool) { return h.c.f.View().Get(pid) }

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testwait.For(t, what, timeout, cond)
}

// waitState waits until pid is in one of the states.
func (h *harness) waitState(pid uint64, states ...fsm.State) fsm.Process {
	h.t.Helper()
	var p fsm.Process
	waitFor(h.t, "pid "+strconv.FormatUint(pid, 10)+" to be "+stateList(states), 10*time.Second, func() bool {
		var ok bool
		p, ok = h.proc(pid)
		if !ok {
			return false
		}
		for _, s := range states {
			if p.State == s {
				return true
			}
		}
		return false
	})
	return p
}

func stateList(states []fsm.State) string {
	var parts []string
	for _, s := range states {
		parts = append(parts, string(s))
	}
	return strings.Join(parts, "|")
}
