//go:build linux

package jepsen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vproc/vproc/internal/ctxutil"
)

// AgentSpec is the command line of one agent.
type AgentSpec struct {
	Binary          string        // the vproc binary
	Name            string        // --name
	DataDir         string        // --data-dir
	HTTPAddr        string        // --http-addr
	RaftAddr        string        // --raft-addr
	GossipAddr      string        // --gossip-addr
	BootstrapExpect int           // --bootstrap-expect; 0 leaves the flag out (a node joining a running cluster)
	Join            string        // --join: a peer's gossip address; "" leaves the flag out
	Retention       time.Duration // --retention; 0 leaves the flag out
	Extra           []string      // more arguments, at the end
}

// AgentArgs returns the argv of `vproc agent` for spec.
func AgentArgs(s AgentSpec) []string {
	argv := []string{s.Binary, "agent",
		"--name", s.Name,
		"--data-dir", s.DataDir,
		"--http-addr", s.HTTPAddr,
		"--raft-addr", s.RaftAddr,
		"--gossip-addr", s.GossipAddr,
	}
	if s.BootstrapExpect > 0 {
		argv = append(argv, "--bootstrap-expect", fmt.Sprint(s.BootstrapExpect))
	}
	if s.Join != "" {
		argv = append(argv, "--join", s.Join)
	}
	if s.Retention > 0 {
		argv = append(argv, "--retention", s.Retention.String())
	}
	return append(argv, s.Extra...)
}

// agent is one node's OS process.
type agent struct {
	name    string // read-only
	slot    int    // read-only
	extra   bool   // read-only; added by a membership fault
	spec    AgentSpec
	logPath string // read-only

	// Guarded by cluster.mu.
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	running bool
	paused  bool
	expect  bool // the harness ended it; an exit is not a crash
	starts  int
}

// Crash is an agent that exited without being told to.
type Crash struct {
	Node    string `json:"node"`     // the node whose agent exited
	At      int64  `json:"at"`       // when the harness saw it (history time)
	Err     string `json:"err"`      // how it exited
	LogTail string `json:"log_tail"` // the end of its log
}

// cluster is the cluster under test: the agents' processes on a Network.
// It is the nemesis's Target.
type cluster struct {
	cfg  Config
	net  Network
	bin  string
	hist *History
	logf func(string, ...any)
	sec  *secure        // nil without Config.Secure; read-only
	wg   sync.WaitGroup // tracks the goroutines that wait for agents

	mu       sync.Mutex
	agents   map[string]*agent // guarded by mu; every agent ever started
	base     []string          // guarded by mu; the initial nodes, in order
	extra    string            // guarded by mu; the extra node in the cluster, or ""
	extraSeq int               // guarded by mu
	crashes  []Crash           // guarded by mu
}

var _ Target = (*cluster)(nil)

func newCluster(cfg Config, network Network, bin string, hist *History, logf func(string, ...any)) (*cluster, error) {
	c := &cluster{cfg: cfg, net: network, bin: bin, hist: hist, logf: logf, agents: make(map[string]*agent)}
	if cfg.Secure {
		var err error
		if c.sec, err = newSecure(cfg.OutDir); err != nil {
			return nil, fmt.Errorf("TLS and gossip key: %w", err)
		}
	}
	for i := 1; i <= cfg.Nodes; i++ {
		name := fmt.Sprintf("n%d", i)
		c.base = append(c.base, name)
		a, err := c.newAgent(name, i, false)
		if err != nil {
			return nil, err
		}
		c.agents[name] = a
	}
	// Every base node joins node 1, and node 1 joins node 2.
	for i, name := range c.base {
		peer := c.agents[c.base[0]]
		if i == 0 {
			peer = c.agents[c.base[1]]
		}
		a := c.agents[name]
		a.spec.BootstrapExpect = cfg.Nodes
		a.spec.Join = peer.spec.GossipAddr
	}
	return c, nil
}

func (c *cluster) newAgent(name string, slot int, extra bool) (*agent, error) {
	h, r, g := c.net.Addrs(slot)
	dir := filepath.Join(c.cfg.OutDir, "data", name)
	args := slices.Clone(c.cfg.AgentArgs)
	if c.sec != nil {
		sa, err := c.sec.agentArgs(name)
		if err != nil {
			return nil, err
		}
		args = append(args, sa...)
	}
	return &agent{
		name: name, slot: slot, extra: extra,
		logPath: filepath.Join(c.cfg.OutDir, name+".log"),
		spec: AgentSpec{
			Binary: c.bin, Name: name, DataDir: dir,
			HTTPAddr: h, RaftAddr: r, GossipAddr: g,
			Retention: c.cfg.Retention, Extra: args,
		},
	}, nil
}

// startAll starts the base nodes and waits until every one answers with
// the same leader.
func (c *cluster) startAll(ctx context.Context) error {
	for _, name := range c.base {
		if err := c.Start(name); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	var last string
	for ctx.Err() == nil {
		if crashes := c.Crashes(); len(crashes) > 0 {
			return fmt.Errorf("agent %s exited at startup: %s\n%s", crashes[0].Node, crashes[0].Err, crashes[0].LogTail)
		}
		leaders := make(map[string]int)
		ok := true
		for _, ep := range c.endpoints() {
			h, err := ReadHealth(ctx, ep, time.Second)
			if err != nil || !h.OK || h.Leader == "" {
				ok, last = false, fmt.Sprintf("%s: %v %+v", ep.Name, err, h)
				break
			}
			leaders[h.Leader]++
		}
		if ok && len(leaders) == 1 {
			c.logf("cluster up: %d nodes, leader %s", len(c.base), sortedKeys(leaders)[0])
			if c.sec != nil && c.sec.tokenOf() == "" {
				if err := c.sec.bootstrap(ctx, c.endpoints()); err != nil {
					return err
				}
				c.logf("ACL management token bootstrapped")
			}
			return nil
		}
		ctxutil.Sleep(ctx, 250*time.Millisecond)
	}
	var tails []string
	for _, name := range c.base {
		tails = append(tails, "--- "+name+":\n"+logTail(c.agents[name].logPath, 15))
	}
	return fmt.Errorf("the cluster did not become healthy within %v (last: %s)\n%s", c.cfg.StartTimeout, last, strings.Join(tails, "\n"))
}

// Start starts a node's process, unless it runs.
func (c *cluster) Start(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.agents[name]
	if a == nil {
		return fmt.Errorf("no node %s", name)
	}
	if a.running {
		return nil
	}
	if err := os.MkdirAll(a.spec.DataDir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	a.starts++
	fmt.Fprintf(f, "==== jepsen: start #%d of %s at %s\n", a.starts, name, fmtTime(c.hist.Clock().Now()))
	cmd := c.net.Command(a.slot, AgentArgs(a.spec))
	cmd.Stdout, cmd.Stderr = f, f
	if len(c.cfg.AgentEnv) > 0 {
		cmd.Env = append(os.Environ(), c.cfg.AgentEnv...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the harness
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	a.cmd, a.done, a.running, a.paused, a.expect = cmd, done, true, false, false
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := cmd.Wait()
		f.Close()
		c.exited(a, cmd, err)
		close(done)
	}()
	return nil
}

// exited notes the end of an agent's process.
func (c *cluster) exited(a *agent, cmd *exec.Cmd, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.cmd != cmd {
		return
	}
	a.running, a.paused = false, false
	if !a.expect {
		msg := "exited"
		if err != nil {
			msg = err.Error()
		}
		c.crashes = append(c.crashes, Crash{Node: a.name, At: c.hist.Clock().Now(), Err: msg, LogTail: logTail(a.logPath, 20)})
		c.logf("agent %s exited unexpectedly: %s", a.name, msg)
	}
}

// signal sends sig to a running node; with expect, its exit is no crash.
// It returns the channel closed when the process exits.
func (c *cluster) signal(name string, sig syscall.Signal, expect bool) (<-chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.agents[name]
	if a == nil {
		return nil, fmt.Errorf("no node %s", name)
	}
	if !a.running {
		return nil, fmt.Errorf("%s is not running", name)
	}
	if expect {
		a.expect = true
	}
	if err := a.cmd.Process.Signal(sig); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		a.paused = true
	case syscall.SIGCONT:
		a.paused = false
	}
	return a.done, nil
}

// Kill sends SIGKILL to a node and waits for its process to end.
func (c *cluster) Kill(name string) error {
	done, err := c.signal(name, syscall.SIGKILL, true)
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s did not die of SIGKILL within 10s", name)
	}
}

// Pause sends SIGSTOP to a node.
func (c *cluster) Pause(name string) error {
	_, err := c.signal(name, syscall.SIGSTOP, false)
	return err
}

// Resume sends SIGCONT to a node.
func (c *cluster) Resume(name string) error {
	_, err := c.signal(name, syscall.SIGCONT, false)
	return err
}

// Members returns the base nodes and the extra node, if one is in.
func (c *cluster) Members() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := slices.Clone(c.base)
	if c.extra != "" {
		m = append(m, c.extra)
	}
	return m
}

// endpoints returns the members' HTTP endpoints.
func (c *cluster) endpoints() []Endpoint {
	var out []Endpoint
	c.mu.Lock()
	defer c.mu.Unlock()
	names := slices.Clone(c.base)
	if c.extra != "" {
		names = append(names, c.extra)
	}
	for _, n := range names {
		out = append(out, Endpoint{Name: n, URL: c.sec.scheme() + c.agents[n].spec.HTTPAddr, TLS: c.sec.tlsConfig(), Token: c.sec.tokenOf()})
	}
	return out
}

// live returns the endpoints of the members whose process runs, unpaused.
func (c *cluster) live() []Endpoint {
	var out []Endpoint
	for _, ep := range c.endpoints() {
		c.mu.Lock()
		a := c.agents[ep.Name]
		ok := a.running && !a.paused
		c.mu.Unlock()
		if ok {
			out = append(out, ep)
		}
	}
	return out
}

// Leader asks the live members who leads and returns the most common
// answer.
func (c *cluster) Leader(ctx context.Context) (string, error) {
	votes := make(map[string]int)
	for _, ep := range c.live() {
		if h, err := ReadHealth(ctx, ep, time.Second); err == nil && h.Leader != "" {
			votes[h.Leader]++
		}
	}
	best, n := "", 0
	for _, name := range sortedKeys(votes) {
		if votes[name] > n {
			best, n = name, votes[name]
		}
	}
	if best == "" {
		return "", errors.New("no node names a leader")
	}
	return best, nil
}

// Settle waits, at most cfg.SettleTimeout, until some live member reports
// a leader.
func (c *cluster) Settle(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SettleTimeout)
	defer cancel()
	for ctx.Err() == nil {
		if _, err := c.Leader(ctx); err == nil {
			return
		}
		ctxutil.Sleep(ctx, 250*time.Millisecond)
	}
}

func (c *cluster) slotOf(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.agents[name]; a != nil {
		return a.slot
	}
	return 0
}

// Partition applies a grudge between nodes.
func (c *cluster) Partition(g Grudge) error {
	return c.net.Partition(context.Background(), GrudgeSlots(g, c.slotOf))
}

// HealPartition removes every cut.
func (c *cluster) HealPartition() error { return c.net.HealPartition(context.Background()) }

func (c *cluster) slots(nodes []string) []int {
	var out []int
	for _, n := range nodes {
		if s := c.slotOf(n); s > 0 {
			out = append(out, s)
		}
	}
	return out
}

// Netem applies netem to the nodes' interfaces.
func (c *cluster) Netem(nodes []string, spec []string) error {
	return c.net.Netem(context.Background(), c.slots(nodes), spec)
}

// HealNetem removes netem from the nodes' interfaces.
func (c *cluster) HealNetem(nodes []string) error {
	return c.net.HealNetem(context.Background(), c.slots(nodes))
}

// AddNode starts a new extra node, with a new name and empty data, in the
// extra slot, joined to a running base node.
func (c *cluster) AddNode(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.extra != "" {
		c.mu.Unlock()
		return "", fmt.Errorf("extra node %s is still in", c.extra)
	}
	c.extraSeq++
	name := fmt.Sprintf("x%d", c.extraSeq)
	a, err := c.newAgent(name, c.cfg.Nodes+1, true)
	if err != nil {
		c.mu.Unlock()
		return "", err
	}
	for _, b := range c.base {
		if ba := c.agents[b]; ba.running && !ba.paused {
			a.spec.Join = ba.spec.GossipAddr
			break
		}
	}
	c.agents[name] = a
	c.extra = name
	c.mu.Unlock()
	if err := c.Start(name); err != nil {
		c.mu.Lock()
		c.extra = ""
		c.mu.Unlock()
		return "", err
	}
	return name, nil
}

// RemoveNode stops an extra node gracefully (SIGTERM, then SIGKILL after
// 30 s) and takes it out of the members.
func (c *cluster) RemoveNode(_ context.Context, name string) error {
	defer func() {
		c.mu.Lock()
		if c.extra == name {
			c.extra = ""
		}
		c.mu.Unlock()
	}()
	_, _ = c.signal(name, syscall.SIGCONT, false)
	done, err := c.signal(name, syscall.SIGTERM, true)
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = c.Kill(name)
	return fmt.Errorf("%s did not stop within 30s of SIGTERM", name)
}

// healAll heals every fault: cuts, netem, pauses, killed nodes, and the
// extra node.
func (c *cluster) healAll(ctx context.Context) error {
	var errs []error
	if err := c.net.HealPartition(ctx); err != nil {
		errs = append(errs, err)
	}
	all := c.Members()
	if err := c.net.HealNetem(ctx, c.slots(all)); err != nil {
		errs = append(errs, err)
	}
	c.mu.Lock()
	base, extra := slices.Clone(c.base), c.extra
	c.mu.Unlock()
	for _, name := range base {
		c.mu.Lock()
		a := c.agents[name]
		paused, running := a.paused, a.running
		c.mu.Unlock()
		switch {
		case paused:
			if err := c.Resume(name); err != nil {
				errs = append(errs, err)
			}
		case !running:
			if err := c.Start(name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if extra != "" {
		if err := c.RemoveNode(ctx, extra); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Crashes returns the agents that exited without being told to.
func (c *cluster) Crashes() []Crash {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.crashes)
}

// shutdown kills every agent and waits for them.
func (c *cluster) shutdown() {
	c.mu.Lock()
	var waits []<-chan struct{}
	for _, a := range c.agents {
		if a.running {
			a.expect = true
			_ = a.cmd.Process.Signal(syscall.SIGCONT)
			_ = a.cmd.Process.Signal(syscall.SIGKILL)
			waits = append(waits, a.done)
		}
	}
	c.mu.Unlock()
	deadline := time.After(10 * time.Second)
	for _, d := range waits {
		select {
		case <-d:
		case <-deadline:
			c.logf("shutdown: an agent did not die within 10s of SIGKILL")
			return
		}
	}
	c.wg.Wait() // every process has exited: the waiters are returning
}

// logTail returns the last n lines of a file.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
