//go:build linux

package jepsen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/ctxutil"
)

// A scenario is a scripted run: a fixed sequence of faults and operations
// instead of a schedule drawn from a seed, as etcd's Issue* scenarios are.
// Each one runs against one or more builds of the agent, and says which
// checks each build must fail: a deliberately broken build must be caught,
// and the same script on the normal build must pass, which is what makes
// the scenario mean something.

// Scenario is one scripted run.
type Scenario struct {
	Name  string // names the test: TestScenario/<Name>
	About string // what it shows, and where it came from
	Nodes int    // agents at the start: 3 or 5
	// Netns says that the script cuts the network, so it needs network
	// namespaces; on loopback the scenario is skipped.
	Netns bool
	// Fencing says that the normal build must fence (node leases,
	// Guarantee 3); while the tree has no leases the scenario is skipped.
	Fencing bool
	// Heartbeats is how many heartbeat processes the probe keeps (0 or 1).
	Heartbeats int
	Builds     []Build
	Script     func(ctx context.Context, s *Script) error
}

// Build is a build of the agent a scenario runs against, and the checks
// that must fail on it; every other check must not fail.
type Build struct {
	Name     string   // names the subtest: TestScenario/<Scenario>/<Build>
	Tags     []string // build tags
	Env      []string // the agents' environment, NAME=value
	MustFail []string // the checks that must report a violation
	// MayFail are checks the build's bug may also break: a stale read
	// can miss an acknowledged spawn, which "no lost spawn" reports.
	MayFail []string
}

// Build tags of the deliberately broken builds, which exist only in test
// builds of the product.
const (
	TagUnsafeReads   = "vproc_unsafe_reads"   // linearizable reads skip the read recipe (Guarantee 6)
	TagUnsafeNoFence = "vproc_unsafe_nofence" // nodes never freeze when their lease ends (Guarantee 3)
)

// Names of the checks the scenarios expect to fail.
const (
	checkLinTable   = "linearizable table"
	checkOneRunner  = "one runner per PID"
	checkKillFinal  = "kill is final"
	checkBoundedEnd = "bounded programs finish"
)

// Judge compares a scenario's report with what the build must show: every
// check of MustFail failed, and no other did. It returns nil when they
// agree.
func (b Build) Judge(rep *Report) error {
	var problems []string
	status := make(map[string]Status)
	for _, v := range rep.Verdicts {
		status[v.Check] = v.Status
	}
	for _, c := range b.MustFail {
		if st, ok := status[c]; !ok {
			problems = append(problems, fmt.Sprintf("check %q did not run", c))
		} else if st != StatusFail {
			problems = append(problems, fmt.Sprintf("check %q should have caught the broken build but says %s", c, st))
		}
	}
	for _, v := range rep.Verdicts {
		if v.Status == StatusFail && !slices.Contains(b.MustFail, v.Check) && !slices.Contains(b.MayFail, v.Check) {
			problems = append(problems, fmt.Sprintf("check %q failed: %s", v.Check, v.Summary))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// RunScenario runs a scenario's script against one build and returns the
// report. cfg gives the timeouts, the output directory, the network mode
// and the binary (built from the module with b.Tags when empty). Like Run,
// it cleans up its processes and network before it returns.
func RunScenario(ctx context.Context, cfg Config, sc Scenario, b Build) (*Report, error) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Nodes, cfg.Tags, cfg.AgentEnv = sc.Nodes, b.Tags, b.Env
	cfg.Scenario = sc.Name + "/" + b.Name
	cfg.Workload.Heartbeats = sc.Heartbeats
	cfg.Faults = nil
	r, err := openRig(ctx, cfg)
	if r == nil {
		return nil, err
	}
	defer r.close()
	if err != nil {
		return r.rep, err
	}
	if sc.Netns && r.network.Mode() != "netns" {
		return r.rep, fmt.Errorf("%w: the scenario cuts the network and needs network namespaces (root, ip, iptables)", ErrScenarioSkipped)
	}
	r.lg.printf("scenario %s on the %s build: %s", sc.Name, b.Name, sc.About)
	s := &Script{r: r, rng: rand.New(rand.NewPCG(cfg.Seed, streamWorkload))}
	if err := sc.Script(ctx, s); err != nil {
		_ = r.cl.healAll(context.WithoutCancel(ctx))
		return r.rep, fmt.Errorf("the script could not run: %w", err)
	}
	return r.finish(ctx)
}

// ErrScenarioSkipped says that a scenario cannot run here, and why.
var ErrScenarioSkipped = errors.New("scenario skipped")

// FencingInTree reports whether the module in dir has node leases, which
// the scenarios that need fencing detect by the build tag that turns them
// off. "" means the module of the working directory.
func FencingInTree(dir string) (bool, error) {
	if dir == "" {
		var err error
		if dir, err = moduleDir(context.Background()); err != nil {
			return false, err
		}
	}
	found := false
	for _, sub := range []string{"cluster", "node"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil || found || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			first, _, _ := strings.Cut(string(b), "\n")
			if strings.HasPrefix(first, "//go:build") && strings.Contains(first, TagUnsafeNoFence) {
				found = true
			}
			return nil
		})
		if err != nil {
			return false, err
		}
	}
	return found, nil
}

// Script is what a scenario's script works with: the cluster, the
// history, and clients that talk to one chosen node each. Every operation
// and fault goes into the history like those of a random run.
type Script struct {
	r   *rig
	rng *rand.Rand // guarded by mu
	mu  sync.Mutex
}

// logf prints a progress line.
func (s *Script) logf(format string, args ...any) { s.r.lg.printf(format, args...) }

// Members returns the nodes in the cluster, in order.
func (s *Script) Members() []string {
	m := s.r.cl.Members()
	slices.Sort(m)
	return m
}

// client is a stream pinned to node, with its own session and
// connections.
type client struct {
	s   *Script
	st  *stream
	rng *rand.Rand
}

// Client returns a new client that talks only to node.
func (s *Script) Client(node string) *client {
	st := s.r.wl.newStream(-3)
	st.pin = node
	s.mu.Lock()
	seed := s.rng.Uint64()
	s.mu.Unlock()
	return &client{s: s, st: st, rng: rand.New(rand.NewPCG(seed, streamWorkload))}
}

func (c *client) close() { c.st.close() }

// Spawn spawns what req asks for, with an owner tag.
func (c *client) Spawn(ctx context.Context, req api.SpawnRequest) Op {
	w := c.s.r.wl
	op := w.spawnReq(ctx, c.st, c.rng, req, w.tagging())
	if op.Outcome == OutcomeOK && req.Command == "heartbeat" {
		w.mu.Lock()
		w.heartbeat = true
		w.mu.Unlock()
		w.watchBeat(op.RetPID)
	}
	return op
}

// Get reads pid with a linearizable read.
func (c *client) Get(ctx context.Context, pid uint64) Op { return c.s.r.wl.get(ctx, c.st, c.rng, pid) }

// Kill sends sig to pid.
func (c *client) Kill(ctx context.Context, pid uint64, sig int) Op {
	return c.s.r.wl.kill(ctx, c.st, c.rng, pid, sig)
}

// Create creates name in a registry ("fifo" or "mq") through this
// client's node; Unlink removes it.
func (c *client) Create(ctx context.Context, registry, name string) Op {
	return c.s.r.wl.registryOp(ctx, c.st, c.rng, OpCreate, registry, name)
}

// Unlink removes name from a registry through this client's node.
func (c *client) Unlink(ctx context.Context, registry, name string) Op {
	return c.s.r.wl.registryOp(ctx, c.st, c.rng, OpUnlink, registry, name)
}

// Leader waits until every node of among names the same leader, one of
// among, and returns it. Paused or cut-off nodes must not be in among.
func (s *Script) Leader(ctx context.Context, among []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*s.r.cfg.SettleTimeout)
	defer cancel()
	var last string
	for ctx.Err() == nil {
		votes := make(map[string]int)
		var unreachable []string
		for _, ep := range s.r.cl.endpoints() {
			if !slices.Contains(among, ep.Name) {
				continue
			}
			h, err := ReadHealth(ctx, ep, time.Second)
			if err != nil {
				unreachable = append(unreachable, err.Error())
				continue
			}
			votes[h.Leader]++
		}
		for l, n := range votes {
			if n == len(among) && slices.Contains(among, l) {
				return l, nil
			}
		}
		last = fmt.Sprintf("leaders named: %v", votes)
		if len(unreachable) > 0 {
			last += "; " + strings.Join(unreachable, "; ")
		}
		ctxutil.Sleep(ctx, 100*time.Millisecond)
	}
	return "", fmt.Errorf("no leader among %v within %v (%s)", among, 2*s.r.cfg.SettleTimeout, last)
}

// Until polls cond every 100 ms until it holds, for at most d.
func (s *Script) Until(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if cond() {
			return nil
		}
		if !ctxutil.Sleep(ctx, 100*time.Millisecond) {
			return fmt.Errorf("%s: not within %v", what, d)
		}
	}
}

// fault is an injected fault until it is healed.
type fault struct {
	s *Script
	f Fault
}

// Inject applies a fault and records it; the Heal of the result ends it.
// The fault's kind, targets and detail are what the report shows.
func (s *Script) Inject(kind FaultKind, targets []string, detail string, apply func() error) (*fault, error) {
	f := Fault{Kind: kind, Targets: targets, Detail: detail, Start: s.r.hist.Clock().Now()}
	if err := apply(); err != nil {
		f.End, f.Error = f.Start, err.Error()
		s.r.hist.AddFault(f)
		return nil, fmt.Errorf("%s %v: %w", kind, targets, err)
	}
	s.logf("script: %s %v %s", kind, targets, detail)
	return &fault{s: s, f: f}, nil
}

// Heal ends the fault with heal and records it.
func (f *fault) Heal(heal func() error) error {
	err := heal()
	f.f.End = f.s.r.hist.Clock().Now()
	if err != nil {
		f.f.Error = "heal: " + err.Error()
	}
	f.s.r.hist.AddFault(f.f)
	f.s.logf("script: healed %s %v", f.f.Kind, f.f.Targets)
	return err
}

// Isolate cuts node from every other member.
func (s *Script) Isolate(node string) (*fault, error) {
	g := Isolate(s.Members(), node)
	return s.Inject(FaultIsolateOne, []string{node}, g.String(), func() error { return s.r.cl.Partition(g) })
}

// HealPartition ends a cut.
func (f *fault) HealPartition() error { return f.Heal(f.s.r.cl.HealPartition) }

// Pause stops node with SIGSTOP.
func (s *Script) Pause(node string) (*fault, error) {
	return s.Inject(FaultPauseOne, []string{node}, "SIGSTOP", func() error { return s.r.cl.Pause(node) })
}

// Process reads pid through c, outside the history: the script's own
// look at the table.
func (s *Script) Process(ctx context.Context, c *client, pid uint64) (api.Process, bool) {
	ep, ok := s.r.wl.endpoint(c.st, c.rng)
	if !ok {
		return api.Process{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var p api.Process
	a := callAPI(ctx, c.st.hc, ep, "GET", fmt.Sprintf("/v1/procs/%d", pid), nil, nil, &p, nil)
	return p, a.kind == answered && a.code == ""
}

// Running waits, at most d, until a read through c shows pid running on
// a node and ok(process) holds, and returns the process.
func (s *Script) Running(ctx context.Context, c *client, pid uint64, d time.Duration, ok func(api.Process) bool) (api.Process, error) {
	var got api.Process
	err := s.Until(ctx, d, fmt.Sprintf("PID %d running as expected", pid), func() bool {
		p, found := s.Process(ctx, c, pid)
		if found && p.State == "running" && p.Node != "" && (ok == nil || ok(p)) {
			got = p
			return true
		}
		return false
	})
	return got, err
}
