//go:build linux

package jepsen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vproc/vproc/internal/ctxutil"
)

// Network modes of Config.Network.
const (
	NetworkAuto     = "auto"     // namespaces when possible, else loopback
	NetworkNetns    = "netns"    // namespaces, or fail
	NetworkLoopback = "loopback" // loopback addresses, no network faults
)

// Config configures a run of the fault suite.
type Config struct {
	Duration time.Duration // how long the workload and the faults run
	Nodes    int           // agents at the start: 3 or 5
	Seed     uint64        // seeds the fault schedule and the workload's choices
	// OutDir receives the logs, the history and the report. "" means a new
	// temporary directory. It is kept after the run.
	OutDir string
	// Binary is a vproc binary to run; "" builds ./cmd/vproc of ModuleDir.
	Binary string
	// ModuleDir is the module's root; "" finds it with `go env GOMOD`.
	ModuleDir string
	// Race builds the binary with -race.
	Race bool
	// Tags are the build tags of the binary built when Binary is "".
	Tags []string
	// AgentEnv is added to every agent's environment, as NAME=value.
	AgentEnv []string
	// KeepData keeps the agents' data directories after a run that passed.
	KeepData bool
	// Scenario names the scripted scenario of the run, "" for a random run.
	Scenario string
	// Network is NetworkAuto, NetworkNetns or NetworkLoopback.
	Network string
	// LoopbackBasePort fixes the ports of the loopback network: node slot s
	// listens on LoopbackBasePort+3(s-1) and the next two. 0 picks free
	// ports.
	LoopbackBasePort int
	// Faults are the fault kinds the schedule draws from; those the network
	// cannot carry are dropped, with the reason printed.
	Faults []FaultKind
	// Retention is the agents' --retention: long, so that nothing is reaped
	// during the run and every acknowledged spawn stays visible.
	Retention time.Duration
	// AgentArgs are added to every agent's command line.
	AgentArgs []string
	// Secure runs the agents with mutual TLS, a gossip key and ACLs (a CA
	// and certificates made for the run under OutDir/tls); once the
	// cluster is up the harness bootstraps a management token, and the
	// workload and the checks use a client certificate and that token.
	Secure bool
	// KillGrace is how long after an acknowledged SIGKILL the killed
	// incarnation may still complete a system call: the agents' fence
	// timeout and a margin (Guarantee 4).
	KillGrace time.Duration
	// LinTimeout bounds porcupine.
	LinTimeout      time.Duration
	StartTimeout    time.Duration // bounds the wait for a healthy cluster at the start
	SettleTimeout   time.Duration // bounds the wait for a leader after each fault and after the final healing
	FinalTimeout    time.Duration // bounds the final consistent read: more than the longest sleep and the agents' lost timeout
	ConvergeTimeout time.Duration // bounds the wait for convergence
	// Workload configures the clients; its Seed is set from Seed.
	Workload WorkloadConfig
	// Log receives the progress lines; nil means os.Stderr.
	Log io.Writer
}

// DefaultConfig returns the configuration of a three-minute run of three
// nodes with seed 1.
func DefaultConfig() Config {
	return Config{
		Duration:        3 * time.Minute,
		Nodes:           3,
		Seed:            1,
		Network:         NetworkAuto,
		Faults:          slices.Clone(AllFaults),
		Retention:       24 * time.Hour,
		KillGrace:       3*time.Second + 500*time.Millisecond,
		LinTimeout:      time.Minute,
		StartTimeout:    90 * time.Second,
		SettleTimeout:   15 * time.Second,
		FinalTimeout:    90 * time.Second,
		ConvergeTimeout: 60 * time.Second,
		Workload:        DefaultWorkloadConfig(),
	}
}

// Validate reports whether the configuration can run.
func (c Config) Validate() error {
	switch {
	case c.Duration <= 0 || c.Duration > 24*time.Hour:
		return fmt.Errorf("jepsen: duration %v must be in (0, 24h]", c.Duration)
	case c.Nodes != 3 && c.Nodes != 5:
		return fmt.Errorf("jepsen: nodes %d must be 3 or 5", c.Nodes)
	case c.Network != NetworkAuto && c.Network != NetworkNetns && c.Network != NetworkLoopback:
		return fmt.Errorf("jepsen: network %q must be auto, netns or loopback", c.Network)
	case c.Retention < c.Duration+time.Hour:
		return fmt.Errorf("jepsen: retention %v must outlast the run (%v) by an hour, or spawns get reaped", c.Retention, c.Duration)
	case c.LoopbackBasePort < 0 || c.LoopbackBasePort > 65535-3*(c.Nodes+1):
		return fmt.Errorf("jepsen: loopback base port %d leaves no room for %d nodes", c.LoopbackBasePort, c.Nodes+1)
	case c.KillGrace < 0:
		return fmt.Errorf("jepsen: kill grace %v is negative", c.KillGrace)
	case c.LinTimeout <= 0 || c.StartTimeout <= 0 || c.SettleTimeout <= 0 || c.FinalTimeout <= 0 || c.ConvergeTimeout <= 0:
		return errors.New("jepsen: every timeout must be positive")
	}
	for _, f := range c.Faults {
		if !slices.Contains(AllFaults, f) {
			return fmt.Errorf("jepsen: unknown fault %q", f)
		}
	}
	return c.Workload.Validate()
}

// Run builds the binary, starts the cluster, runs the workload and the
// faults for cfg.Duration, heals everything, checks the history and
// returns the report. An error means the run could not happen (build,
// network, startup); a violation is in the report (Report.Failed). Run
// cleans up its processes and network before it returns, also when ctx is
// cancelled or the process gets SIGINT or SIGTERM.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := openRig(ctx, cfg)
	if r == nil {
		return nil, err
	}
	defer r.close()
	if err != nil {
		return r.rep, err
	}
	cfg, lg, rep := r.cfg, r.lg, r.rep

	faults := availableFaults(ctx, cfg.Faults, r.network, rep, lg.printf)
	schedule := NewSchedule(cfg.Seed, faults, cfg.Duration)
	rep.Schedule = schedule
	_ = writeJSON(filepath.Join(cfg.OutDir, "schedule.json"), schedule)
	lg.printf("schedule: %d faults drawn from %v", len(schedule), faults)

	// The run: traffic and faults together.
	lg.printf("running for %v with %d clients", cfg.Duration, cfg.Workload.Clients)
	runCtx, cancelRun := context.WithTimeout(ctx, cfg.Duration)
	nem := NewNemesis(r.cl, r.hist, lg.printf)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nem.Run(runCtx, schedule)
	}()
	r.wl.Run(runCtx)
	cancelRun()
	wg.Wait()
	return r.finish(ctx)
}

// rig is one cluster under test and what records it: the output
// directory, the network, the binary, the agents, the history and the
// workload's clients. The random run (Run) and the scripted scenarios
// (RunScenario) share it.
type rig struct {
	cfg     Config
	lg      *logger
	rep     *Report
	network Network
	bin     string
	hist    *History
	cl      *cluster
	wl      *Workload
	closers []func() // run by close, last first
}

// openRig prepares the output directory, the network and the binary,
// starts the agents, and probes the cluster with the workload's clients.
// On an error after the rig exists it returns both; the caller closes it.
func openRig(ctx context.Context, cfg Config) (r *rig, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Workload.Seed = cfg.Seed
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	clock := NewClock()
	lg := &logger{w: cfg.Log, clock: clock}
	fmt.Fprintf(cfg.Log, "seed=%d\n", cfg.Seed) // first, bare, for scripts
	if cfg.OutDir == "" {
		if cfg.OutDir, err = os.MkdirTemp("", fmt.Sprintf("vproc-jepsen-%d-", cfg.Seed)); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	r = &rig{cfg: cfg, lg: lg, hist: NewHistory(clock)}
	if f, err := os.Create(filepath.Join(cfg.OutDir, "run.log")); err == nil {
		fmt.Fprintf(f, "seed=%d\n", cfg.Seed)
		lg.setFile(f)
		r.closers = append(r.closers, func() { lg.setFile(nil); f.Close() })
	}
	lg.printf("output in %s", cfg.OutDir)
	r.rep = &Report{Seed: cfg.Seed, Nodes: cfg.Nodes, Duration: cfg.Duration, OutDir: cfg.OutDir, Scenario: cfg.Scenario}

	network, notes, err := setupNetwork(ctx, cfg, lg.printf)
	r.rep.Notes = append(r.rep.Notes, notes...)
	if err != nil {
		return r, err
	}
	r.network = network
	r.rep.Mode = network.Mode()
	r.closers = append(r.closers, func() {
		if terr := network.Teardown(); terr != nil {
			lg.printf("network teardown: %v", terr)
		}
	})

	r.bin = cfg.Binary
	if r.bin == "" {
		r.bin = filepath.Join(cfg.OutDir, "vproc")
		if err := BuildBinary(ctx, cfg.ModuleDir, r.bin, cfg.Race, cfg.Tags, lg.printf); err != nil {
			return r, err
		}
	}

	if r.cl, err = newCluster(cfg, network, r.bin, r.hist, lg.printf); err != nil {
		return r, err
	}
	r.closers = append(r.closers, r.cl.shutdown)
	if err := r.cl.startAll(ctx); err != nil {
		return r, err
	}
	if r.wl, err = NewWorkload(cfg.Workload, r.hist, r.cl.endpoints, lg.printf); err != nil {
		return r, err
	}
	r.closers = append(r.closers, r.wl.halt)
	return r, r.wl.Probe(ctx)
}

// close stops the agents and removes the network.
func (r *rig) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

// finish heals every fault, lets the cluster settle, takes the final
// read, collects the heartbeats, waits for convergence, runs the checkers
// and writes the report.
func (r *rig) finish(ctx context.Context) (*Report, error) {
	cfg, lg, rep, cl := r.cfg, r.lg, r.rep, r.cl
	if ctx.Err() != nil {
		lg.printf("interrupted: healing and cleaning up")
		_ = cl.healAll(context.WithoutCancel(ctx))
		return rep, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	lg.printf("healing")
	if err := cl.healAll(context.WithoutCancel(ctx)); err != nil {
		rep.Notes = append(rep.Notes, "final heal: "+err.Error())
	}
	cl.Settle(ctx)

	final := finalRead(ctx, cfg, cl, r.hist)
	followCtx, cancelFollow := context.WithTimeout(ctx, 30*time.Second)
	r.wl.StopFollowers(followCtx)
	cancelFollow()
	rounds := converge(ctx, cfg, cl)

	rep.Skipped = append(rep.Skipped, r.wl.Skipped()...)
	rep.check(r.hist, final, rounds, cfg, r.wl, cl)
	if err := rep.WriteFiles(r.hist, final, rounds); err != nil {
		lg.printf("writing the output: %v", err)
	}
	if !rep.Failed() && !cfg.KeepData { // keep the logs, the history and the report
		_ = os.RemoveAll(filepath.Join(cfg.OutDir, "data"))
		if cfg.Binary == "" {
			_ = os.Remove(r.bin)
		}
	}
	lg.printf("done: %s", rep.Outcome())
	return rep, ctx.Err()
}

// setupNetwork builds the namespace network for the nodes and the extra
// slot when it can and may, cleaning up stale runs first, or else the
// loopback one.
func setupNetwork(ctx context.Context, cfg Config, logf func(string, ...any)) (Network, []string, error) {
	slots := cfg.Nodes + 1
	loopback := func(why string) (Network, []string, error) {
		n := NewLoopbackNetwork(cfg.LoopbackBasePort)
		note := "loopback network (" + why + "): only kill, pause, restart and membership faults"
		logf("%s", note)
		return n, []string{note}, n.Setup(ctx, slots)
	}
	if cfg.Network == NetworkLoopback {
		return loopback("by request")
	}
	ok, why := NetnsAvailable()
	if ok {
		removed, err := CleanStale(ctx)
		for _, r := range removed {
			logf("removed stale %s", r)
		}
		if err != nil {
			logf("stale cleanup: %v", err)
		}
		n, err := NewNetnsNetwork(ctx, logf)
		if err == nil {
			if err = n.Setup(ctx, slots); err == nil {
				return n, nil, nil
			}
			if terr := n.Teardown(); terr != nil {
				logf("network teardown: %v", terr)
			}
		}
		ok, why = false, "namespaces failed: "+err.Error()
	}
	if cfg.Network == NetworkNetns {
		return nil, nil, fmt.Errorf("network namespaces unavailable: %s", why)
	}
	return loopback(why)
}

// availableFaults drops the faults the network cannot carry and says why.
func availableFaults(ctx context.Context, want []FaultKind, network Network, rep *Report, logf func(string, ...any)) []FaultKind {
	netem, why := network.NetemSupport(ctx)
	var out, droppedNet []FaultKind
	for _, f := range want {
		switch {
		case f == FaultNetem && !netem:
			msg := "netem: " + why
			rep.Skipped = append(rep.Skipped, msg)
			logf("skipped: %s", msg)
		case f.NeedsNetwork() && network.Mode() != "netns":
			droppedNet = append(droppedNet, f)
		default:
			out = append(out, f)
		}
	}
	if len(droppedNet) > 0 {
		msg := fmt.Sprintf("%v: need network namespaces (root, ip, iptables)", droppedNet)
		rep.Skipped = append(rep.Skipped, msg)
		logf("skipped: %s", msg)
	}
	return out
}

// BuildBinary builds ./cmd/vproc of the module in dir ("" finds it with
// `go env GOMOD`) into out, with -race and the build tags asked for.
func BuildBinary(ctx context.Context, dir, out string, race bool, tags []string, logf func(string, ...any)) error {
	if dir == "" {
		var err error
		if dir, err = moduleDir(ctx); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cmd", "vproc")); err != nil {
		return fmt.Errorf("the agent binary: %w", err)
	}
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	args = append(args, "./cmd/vproc")
	logf("building: go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, buf.String())
	}
	return nil
}

// moduleDir finds the root of the module of the working directory.
func moduleDir(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find the module: not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// finalRead takes the consistent read of the whole table after healing.
func finalRead(ctx context.Context, cfg Config, cl *cluster, hist *History) *FinalRead {
	return ReadFinal(ctx, cl.endpoints(), hist, cfg.FinalTimeout)
}

// ReadFinal takes the consistent read of the whole table, again until every
// PID an acknowledged SIGKILL targeted, and every process of a program that
// ends by itself, is final, within timeout.
func ReadFinal(ctx context.Context, eps []Endpoint, hist *History, timeout time.Duration) *FinalRead {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	killed := make(map[uint64]bool) // PIDs that must end
	for _, op := range hist.Ops() {
		switch {
		case op.Kind == OpKill && op.Signal == 9 && op.Outcome == OutcomeOK:
			killed[op.PID] = true
		case op.Kind == OpSpawn && op.Outcome == OutcomeOK && bounded(&op):
			killed[op.RetPID] = true
		}
	}
	var last *FinalRead
	for i := 0; i < 1000 && ctx.Err() == nil; i++ {
		at := hist.Clock().Now()
		procs, err := ReadAll(ctx, eps, 5*time.Second)
		if err != nil {
			if last == nil {
				last = &FinalRead{Err: err.Error(), At: at}
			}
			break
		}
		last = NewFinalRead(at, procs)
		settled := true
		for pid := range killed {
			if p, ok := last.Procs[pid]; ok && p.State != "exited" && p.State != "lost" {
				settled = false
			}
		}
		if settled || !ctxutil.Sleep(ctx, 250*time.Millisecond) {
			break
		}
	}
	if last == nil {
		last = &FinalRead{Err: "no time left for a final read"}
	}
	return last
}

// converge polls every node's applied index and state hash until one round
// agrees, within cfg.ConvergeTimeout, and returns the rounds.
func converge(ctx context.Context, cfg Config, cl *cluster) [][]StateSample {
	ctx, cancel := context.WithTimeout(ctx, cfg.ConvergeTimeout)
	defer cancel()
	var rounds [][]StateSample
	for i := 0; i < 10000 && ctx.Err() == nil; i++ {
		r := ReadState(ctx, cl.endpoints(), 2*time.Second)
		rounds = append(rounds, r)
		if agree(r) {
			break
		}
		ctxutil.Sleep(ctx, 100*time.Millisecond)
	}
	return rounds
}

// logger prints progress lines with the time since the start.
type logger struct {
	w     io.Writer
	clock *Clock

	mu   sync.Mutex
	file *os.File // guarded by mu
}

func (l *logger) setFile(f *os.File) {
	l.mu.Lock()
	l.file = f
	l.mu.Unlock()
}

func (l *logger) printf(format string, args ...any) {
	line := fmt.Sprintf("[%8.3fs] ", float64(l.clock.Now())/1e9) + fmt.Sprintf(format, args...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line)
	if l.file != nil {
		_, _ = io.WriteString(l.file, line)
	}
}

// writeJSON writes v as indented JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeFile writes text to path.
func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
