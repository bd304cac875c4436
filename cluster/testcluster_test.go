package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/testwait"
	"github.com/vproc/vproc/node"
)

// Test clusters: real agents on loopback TCP with :0 ports, BoltDB in
// t.TempDir(), shrunken timeouts and logs routed to t.Log. Set
// VPROC_TEST_LOG=debug to see raft's and memberlist's output too.

// agentTestLogger returns a logger writing to t.Log until the test ends.
func agentTestLogger(t testing.TB, name string) *slog.Logger {
	level := slog.LevelInfo
	switch os.Getenv("VPROC_TEST_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "":
	default:
		level = slog.LevelWarn
	}
	if _, ok := t.(*testing.B); ok && os.Getenv("VPROC_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	w := &agentLogWriter{t: t}
	t.Cleanup(w.close) // registered first, so it runs after every agent's cleanup
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("node", name)
}

// agentLogWriter writes lines to t.Log, and nowhere once the test is over.
type agentLogWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *agentLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Helper()
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *agentLogWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// testConfig returns the configuration of an in-process test node:
// loopback, free ports, a fresh data dir and timeouts shrunk as raft's
// inmemConfig does.
func testConfig(t testing.TB, name string) Config {
	c := DefaultConfig()
	c.Name = name
	c.DataDir = t.TempDir()
	c.HTTPAddr = "127.0.0.1:0"
	c.RaftAddr = "127.0.0.1:0"
	c.GossipAddr = "127.0.0.1:0"
	// Shrunk, but not so far that a loaded machine running -race
	// stalls a leader out of its lease.
	c.HeartbeatTimeout = 100 * time.Millisecond
	c.ElectionTimeout = 100 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 3
	c.PushPullInterval = time.Second
	c.LoadInterval = 100 * time.Millisecond
	c.RejoinInterval = 200 * time.Millisecond
	c.ReconcileInterval = 200 * time.Millisecond
	c.DeadServerTimeout = 2 * time.Second
	// Generous leases, so that a test machine's stalls under -race do not
	// freeze or move processes; lease tests shorten them.
	c.FenceTimeout = 2 * time.Second
	c.LostTimeout = 4 * time.Second
	c.Logger = agentTestLogger(t, name)
	return c
}

// productionRaftTiming sets the raft timeouts of DefaultConfig, for tests
// that measure failover.
func productionRaftTiming(c *Config) {
	d := DefaultConfig()
	c.HeartbeatTimeout = d.HeartbeatTimeout
	c.ElectionTimeout = d.ElectionTimeout
	c.LeaderLeaseTimeout = d.LeaderLeaseTimeout
	c.CommitTimeout = d.CommitTimeout
	c.FenceTimeout = d.FenceTimeout
	c.LostTimeout = d.LostTimeout
}

// testCluster is a set of in-process agents.
type testCluster struct {
	t      testing.TB
	cfgs   []Config
	agents []*Agent // nil while a node is down

	// sess and req are the client session of spawn, so that a spawn can
	// be retried across leader changes without applying twice.
	sess, req uint64
}

// clusterMode says how a test cluster forms.
type clusterMode int

const (
	// viaBootstrapExpect starts every node with BootstrapExpect n.
	viaBootstrapExpect clusterMode = iota
	// viaJoin bootstraps node 0 alone and joins the others to it.
	viaJoin
)

// MakeCluster starts n agents that form a cluster through
// bootstrap-expect, waits for a ready leader and for every node to be a
// raft server and an alive node of the table. opts adjust each node's
// configuration.
func MakeCluster(t testing.TB, n int, opts ...func(i int, c *Config)) *testCluster {
	return makeCluster(t, n, viaBootstrapExpect, opts...)
}

func makeCluster(t testing.TB, n int, mode clusterMode, opts ...func(i int, c *Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	for i := 0; i < n; i++ {
		cfg := testConfig(t, fmt.Sprintf("node%d", i))
		switch mode {
		case viaBootstrapExpect:
			cfg.BootstrapExpect = n
		case viaJoin:
			if i == 0 {
				cfg.BootstrapExpect = 1
			}
		}
		if i > 0 {
			cfg.Join = []string{c.agents[0].GossipAddr()}
		}
		for _, o := range opts {
			o(i, &cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.agents = append(c.agents, nil)
		c.start(i)
	}
	c.waitMembers(n)
	return c
}

// start starts node i with its configuration; a node started before keeps
// its addresses and data dir.
func (c *testCluster) start(i int) *Agent {
	c.t.Helper()
	// A node starts again on its earlier ports, one of which another
	// connection on the machine may hold for a moment (the ports were
	// picked from the range the kernel also hands out to connections).
	var a *Agent
	var err error
	testwait.Poll(30*time.Second, 100*time.Millisecond, func() bool {
		a, err = New(c.cfgs[i])
		return err == nil || !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use")
	})
	if err != nil {
		c.t.Fatalf("starting %s: %v", c.cfgs[i].Name, err)
	}
	c.cfgs[i].HTTPAddr = a.HTTPAddr()
	c.cfgs[i].RaftAddr = a.RaftAddr()
	c.cfgs[i].GossipAddr = a.GossipAddr()
	c.agents[i] = a
	c.t.Cleanup(func() { a.crash() })
	return a
}

// crash stops node i abruptly.
func (c *testCluster) crash(i int) {
	c.agents[i].crash()
	c.agents[i] = nil
}

// shutdown stops node i gracefully.
func (c *testCluster) shutdown(i int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.agents[i].Shutdown(ctx); err != nil {
		c.t.Fatalf("shutdown %s: %v", c.agents[i].Name(), err)
	}
	c.agents[i] = nil
}

// up returns the running agents.
func (c *testCluster) up() []*Agent {
	var out []*Agent
	for _, a := range c.agents {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

// index returns the position of agent a.
func (c *testCluster) index(a *Agent) int {
	for i, b := range c.agents {
		if b == a {
			return i
		}
	}
	return -1
}

// leader waits for a single ready leader among the running agents.
func (c *testCluster) leader() *Agent {
	c.t.Helper()
	var l *Agent
	poll(c.t, 10*time.Second, func() error {
		l = nil
		for _, a := range c.up() {
			if a.isLeader() {
				if l != nil {
					return fmt.Errorf("two leaders: %s and %s", l.Name(), a.Name())
				}
				l = a
			}
		}
		if l == nil {
			return errors.New("no leader")
		}
		ready, _, ok := l.lead.Term()
		if !ok {
			return errors.New("leader not leading yet")
		}
		select {
		case <-ready:
			return nil
		default:
			return errors.New("leader not ready")
		}
	})
	return l
}

// followers returns the running agents that do not lead.
func (c *testCluster) followers() []*Agent {
	var out []*Agent
	for _, a := range c.up() {
		if !a.isLeader() {
			out = append(out, a)
		}
	}
	return out
}

// waitMembers waits until n servers are in raft and alive in the table,
// as every running agent sees it.
func (c *testCluster) waitMembers(n int) {
	c.t.Helper()
	poll(c.t, 15*time.Second, func() error {
		l := c.leaderNow()
		if l == nil {
			return errors.New("no leader")
		}
		peers, err := l.peers()
		if err != nil {
			return err
		}
		if len(peers) != n {
			return fmt.Errorf("%d raft servers, want %d", len(peers), n)
		}
		for _, a := range c.up() {
			alive := 0
			for _, nd := range a.localView().Nodes() {
				if nd.Status == fsm.NodeAlive {
					alive++
				}
			}
			if alive < len(c.up()) {
				return fmt.Errorf("%s sees %d alive nodes in the table, want %d", a.Name(), alive, len(c.up()))
			}
		}
		// Every node holds a lease the leader renewed, so that placement
		// sees all of them: a test that spawns at once spreads over all.
		if !l.lead.Leading() {
			return errors.New("leader state not set up yet")
		}
		now := time.Now()
		for _, a := range c.up() {
			nd, ok := l.localView().Node(a.Name())
			if !ok || !l.lead.Eligible(&nd, now) {
				return fmt.Errorf("the leader may not place on %s yet", a.Name())
			}
		}
		l.lead.ForgetNodes() // the next spawn lists the nodes afresh
		return nil
	})
	c.leader()
}

// leaderNow returns the running agent that leads now, or nil.
func (c *testCluster) leaderNow() *Agent {
	for _, a := range c.up() {
		if a.isLeader() {
			return a
		}
	}
	return nil
}

// waitConverged waits until every running agent has applied the same
// index and has the same state hash (Guarantee 8).
func (c *testCluster) waitConverged() {
	c.t.Helper()
	poll(c.t, 15*time.Second, func() error {
		up := c.up()
		first := up[0].stateInfo()
		for _, a := range up[1:] {
			si := a.stateInfo()
			if si.AppliedIndex != first.AppliedIndex || si.Hash != first.Hash {
				return fmt.Errorf("%s at %d %.8s, %s at %d %.8s", first.Node, first.AppliedIndex, first.Hash,
					si.Node, si.AppliedIndex, si.Hash)
			}
		}
		return nil
	})
}

// poll polls cond every 10 ms until it returns nil or timeout passes.
func poll(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	testwait.Until(t, "the condition", timeout, 10*time.Millisecond, cond)
}

// spawn commits a spawn of cmd through a (the leader) and returns its
// result.
func spawn(t testing.TB, a *Agent, args ...string) *fsm.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := a.submit(ctx, nil, &fsm.Spawn{Spec: fsm.Spec{Command: "true", Args: args}, Now: time.Now().UnixNano()})
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	if res.Err != nil {
		t.Fatalf("spawn: %v", res.Err)
	}
	return res
}

// submit commits cmd through whichever agent leads, in the cluster's
// client session, retrying with the same request id across leader changes
// and unknown outcomes (Guarantee 9). It fails the test on a domain error.
func (c *testCluster) submit(cmd fsm.Command) *fsm.Result {
	c.t.Helper()
	if c.sess == 0 {
		c.sess = c.session()
	}
	c.req++
	res, err := c.submitIn(&commit.SessionRef{ID: c.sess, Request: c.req, AckedBelow: c.req}, cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

// session registers a client session through whichever agent leads.
func (c *testCluster) session() uint64 {
	c.t.Helper()
	var id uint64
	poll(c.t, 10*time.Second, func() error {
		l := c.leaderNow()
		if l == nil {
			return errors.New("no leader")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		id, err = l.registerSession(ctx)
		return err
	})
	return id
}

// submitIn commits cmd as request ref, retrying across leader changes and
// unknown outcomes. It may be called from any goroutine; it returns a
// domain error as an error.
func (c *testCluster) submitIn(ref *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	var res *fsm.Result
	var err error
	testwait.Poll(15*time.Second, 10*time.Millisecond, func() bool {
		l := c.leaderNow()
		if l == nil {
			err = commit.ErrNoLeader
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err = l.submit(ctx, ref, cmd)
		return err == nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("%v: %w", cmd.Type(), err)
	case res.Err != nil:
		return res, fmt.Errorf("%v: %w", cmd.Type(), res.Err)
	}
	return res, nil
}

// retryUnavailable makes call until its status is not 503 (no leader for
// a moment, as a loaded machine may see), for up to 30 s, and returns its
// last answer.
func retryUnavailable[T any](call func() (int, T)) (int, T) {
	var st int
	var v T
	testwait.Poll(30*time.Second, 20*time.Millisecond, func() bool {
		st, v = call()
		return st != http.StatusServiceUnavailable
	})
	return st, v
}

// spawn commits a spawn through whichever agent leads.
func (c *testCluster) spawn(args ...string) *fsm.Result {
	c.t.Helper()
	return c.submit(&fsm.Spawn{Spec: fsm.Spec{Command: "true", Args: args}, Now: time.Now().UnixNano()})
}

var _ = io.Discard

// programTable returns the table of Go programs the kernel k looks in
// first: its resolver, or the first table of its chain of resolvers.
func programTable(t testing.TB, k *node.ProcessManager) *node.ProgramTable {
	t.Helper()
	switch r := k.Programs().(type) {
	case *node.ProgramTable:
		return r
	case node.Resolvers:
		for _, x := range r {
			if pt, ok := x.(*node.ProgramTable); ok {
				return pt
			}
		}
	}
	t.Fatalf("the kernel's resolver %T holds no program table", k.Programs())
	return nil
}
