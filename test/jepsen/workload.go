//go:build linux

package jepsen

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/ctxutil"
)

// Endpoint is a node the clients can talk to.
type Endpoint struct {
	Name string // the node's name, such as "n1"
	URL  string // base URL, such as "http://10.99.7.1:7070"
	// TLS, when the agents serve mutual TLS (Config.Secure), is the
	// client's configuration: the CA and a client certificate.
	TLS *tls.Config
	// Token, when the agents run with ACLs (Config.Secure), is the
	// management token's secret: every request sends it.
	Token string
}

// RegistryRoutes are the HTTP routes of the FIFO and message-queue
// registries the workload uses: POST {route} with {KEY: N} creates a name,
// DELETE {route}?KEY=N unlinks it, where KEY is RegistryKeys' entry ("path"
// for a FIFO, "name" for a queue). While a route answers 404 not_found (no
// such route), its registry is skipped.
var RegistryRoutes = map[string]string{
	"fifo": "/v1/fifo",
	"mq":   "/v1/mq",
}

// RegistryKeys name the field and query parameter of each registry's names.
var RegistryKeys = map[string]string{
	"fifo": "path",
	"mq":   "name",
}

// CountedSignals are the signals the workload sends to heartbeat processes
// and counts deliveries of: SIGUSR1 and SIGUSR2.
var CountedSignals = []int{10, 12}

// WorkloadConfig configures a Workload.
type WorkloadConfig struct {
	Seed      uint64        // seeds every client's choices
	Clients   int           // concurrent clients
	MaxOps    int           // bound on the operations of the run
	OpTimeout time.Duration // bound on one attempt of an operation
	Attempts  int           // attempts of a write, the first included, with the same request id
	ThinkTime time.Duration // the most a client pauses between two operations
	SleepMax  int           // the longest `sleep` spawned, in seconds

	Heartbeats        int           // heartbeat processes kept alive; 0 disables them
	MaxHeartbeats     int           // bound on the heartbeat processes of the run
	HeartbeatInterval time.Duration // the heartbeat program's interval
	HeartbeatLife     time.Duration // about how often one heartbeat is killed with SIGKILL and replaced
	RegistryNames     int           // names per registry
	Pipelines         int           // pipelines with a stage on another node, run one after another; 0 disables them
	PipelineLines     int           // lines each pipeline writes

	// Module is a WASI module that ends by itself (a hello world), which
	// the workload uploads as ModuleProgram and spawns beside sleep and
	// true; nil leaves modules out.
	Module []byte
}

// DefaultWorkloadConfig returns the workload of a normal run.
func DefaultWorkloadConfig() WorkloadConfig {
	return WorkloadConfig{
		Seed:              1,
		Clients:           6,
		MaxOps:            200000,
		OpTimeout:         5 * time.Second,
		Attempts:          2,
		ThinkTime:         50 * time.Millisecond,
		SleepMax:          10,
		Heartbeats:        3,
		MaxHeartbeats:     40,
		HeartbeatInterval: 100 * time.Millisecond,
		HeartbeatLife:     20 * time.Second,
		RegistryNames:     3,
		Pipelines:         30,
		PipelineLines:     500,
	}
}

// Validate reports whether the configuration can run.
func (c WorkloadConfig) Validate() error {
	switch {
	case c.Clients < 1 || c.Clients > 64:
		return fmt.Errorf("workload: clients %d must be 1..64", c.Clients)
	case c.MaxOps < 1:
		return fmt.Errorf("workload: max ops %d must be positive", c.MaxOps)
	case c.OpTimeout <= 0:
		return fmt.Errorf("workload: op timeout %v must be positive", c.OpTimeout)
	case c.Attempts < 1 || c.Attempts > 10:
		return fmt.Errorf("workload: attempts %d must be 1..10", c.Attempts)
	case c.ThinkTime < 0:
		return fmt.Errorf("workload: think time %v is negative", c.ThinkTime)
	case c.SleepMax < 1:
		return fmt.Errorf("workload: sleep max %d must be positive", c.SleepMax)
	case c.Heartbeats < 0 || c.MaxHeartbeats < c.Heartbeats:
		return fmt.Errorf("workload: heartbeats %d must be 0..max heartbeats %d", c.Heartbeats, c.MaxHeartbeats)
	case c.Heartbeats > 0 && (c.HeartbeatInterval <= 0 || c.HeartbeatLife <= 0):
		return fmt.Errorf("workload: heartbeat interval %v and life %v must be positive", c.HeartbeatInterval, c.HeartbeatLife)
	case c.RegistryNames < 1:
		return fmt.Errorf("workload: registry names %d must be positive", c.RegistryNames)
	case c.Pipelines < 0 || (c.Pipelines > 0 && (c.PipelineLines < 1 || c.PipelineLines > 100000)):
		return fmt.Errorf("workload: pipelines %d must not be negative, and their lines %d must be 1..100000", c.Pipelines, c.PipelineLines)
	}
	return nil
}

// Workload is the traffic of a run: concurrent clients working on the
// process table and the registries, plus heartbeat processes whose output it
// follows. Every operation goes into the History.
type Workload struct {
	cfg       WorkloadConfig
	hist      *History
	endpoints func() []Endpoint // the nodes, at the time of asking
	logf      func(format string, args ...any)

	ops    atomic.Int64 // operations started
	tokens atomic.Int64 // owner tags handed out

	mu         sync.Mutex
	useTokens  bool               // guarded by mu; spawns carry an owner tag
	heartbeat  bool               // guarded by mu; the heartbeat program exists
	module     bool               // guarded by mu; ModuleProgram was uploaded and runs
	registries []string           // guarded by mu; the registries whose routes answer
	skipped    []string           // guarded by mu; features skipped, with the reason
	pool       []procRef          // guarded by mu; recent PIDs the clients act on
	beating    map[uint64]bool    // guarded by mu; heartbeat PIDs → alive (not killed)
	followers  map[uint64]bool    // guarded by mu; heartbeat PIDs followed
	offsets    map[uint64]int64   // guarded by mu; heartbeat PID → log offset read
	followWG   sync.WaitGroup     // tracks the log followers
	followStop context.CancelFunc // guarded by mu; stops the followers
	followCtx  context.Context    // guarded by mu
	pipelines  []PipelineRun      // guarded by mu; the pipelines run so far
}

// procRef is a PID the clients may act on.
type procRef struct {
	pid       uint64
	restart   bool
	heartbeat bool
}

// poolSize bounds the PIDs the clients choose from.
const poolSize = 64

// NewWorkload returns a workload that records into hist and talks to the
// nodes endpoints returns.
func NewWorkload(cfg WorkloadConfig, hist *History, endpoints func() []Endpoint, logf func(format string, args ...any)) (*Workload, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Workload{
		cfg: cfg, hist: hist, endpoints: endpoints, logf: logf,
		useTokens: true,
		beating:   make(map[uint64]bool), followers: make(map[uint64]bool), offsets: make(map[uint64]int64),
		followCtx: ctx, followStop: cancel,
	}, nil
}

// Skipped returns the features the workload skipped, each with its reason.
func (w *Workload) Skipped() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.skipped...)
}

// HeartbeatsEnabled reports whether heartbeat processes ran.
func (w *Workload) HeartbeatsEnabled() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.heartbeat
}

// RegistriesEnabled returns the registries the workload used.
func (w *Workload) RegistriesEnabled() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.registries...)
}

func (w *Workload) skip(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	w.mu.Lock()
	w.skipped = append(w.skipped, msg)
	w.mu.Unlock()
	w.logf("workload: skipped: %s", msg)
}

// Probe finds out which optional features the cluster has: owner tags on
// spawns, the heartbeat program, and the registry routes. Its operations
// are recorded like any other. It needs a cluster with a leader.
func (w *Workload) Probe(ctx context.Context) error {
	st := w.newStream(-1)
	rng := rand.New(rand.NewPCG(w.cfg.Seed, streamWorkload))

	// Owner tags, which resolve unknown spawns and reveal double applies.
	// With ACLs on, a process belongs to its token's user and a spawn
	// that names another owner is forbidden: no tags then.
	var op Op
	for range 10 {
		op = w.spawn(ctx, st, rng, "true", nil, "", true)
		if op.Outcome == OutcomeOK || op.Code == api.CodeBadRequest || op.Code == api.CodeForbidden || ctx.Err() != nil {
			break
		}
		ctxutil.Sleep(ctx, time.Second)
	}
	switch {
	case op.Code == api.CodeBadRequest || op.Code == api.CodeForbidden:
		w.mu.Lock()
		w.useTokens = false
		w.mu.Unlock()
		w.skip("owner tags: a spawn with an owner answered %q; unknown spawns stay unresolved", op.Error)
		if op = w.spawn(ctx, st, rng, "true", nil, "", false); op.Outcome != OutcomeOK {
			return fmt.Errorf("probe: spawn true: %s %s", op.Code, op.Error)
		}
	case op.Outcome != OutcomeOK:
		return fmt.Errorf("probe: spawn true: %s %s", op.Code, op.Error)
	}

	// The heartbeat program.
	if w.cfg.Heartbeats > 0 {
		for i := 0; i < 5; i++ {
			if op = w.spawnHeartbeat(ctx, st, rng); !transient(op) || !ctxutil.Sleep(ctx, time.Second) {
				break
			}
		}
		switch {
		case op.Code == api.CodeUnknownProgram:
			w.skip("heartbeats, one-runner and signal counting: the kernel has no heartbeat program (%s)", op.Error)
		case op.Outcome == OutcomeOK:
			w.mu.Lock()
			w.heartbeat = true
			w.mu.Unlock()
		default:
			w.skip("heartbeats: spawn heartbeat failed: %s %s", op.Code, op.Error)
		}
	} else {
		w.skip("heartbeats: disabled by configuration")
	}

	// A user program: a WASI module.
	w.probeModule(ctx, st, rng)

	// The registries.
	for _, kind := range sortedKeys(RegistryRoutes) {
		for i := 0; i < 5; i++ {
			if op = w.registryOp(ctx, st, rng, OpCreate, kind, "/jepsen-probe"); !transient(op) || !ctxutil.Sleep(ctx, time.Second) {
				break
			}
		}
		switch {
		case op.Code == api.CodeNotFound || op.Code == api.CodeNotAllowed || op.Code == "http_404" || op.Code == "http_405":
			w.skip("%s registry: %s answers %s (%s)", kind, RegistryRoutes[kind], op.Code, op.Error)
			continue
		case op.Outcome == OutcomeOK:
			w.registryOp(ctx, st, rng, OpUnlink, kind, "/jepsen-probe")
		case op.Outcome == OutcomeFail && !domainCode(op.Code):
			w.skip("%s registry: create answered %s (%s)", kind, op.Code, op.Error)
			continue
		}
		w.mu.Lock()
		w.registries = append(w.registries, kind)
		w.mu.Unlock()
	}
	return nil
}

// transient reports whether an operation failed for a reason that may pass:
// no leader, no session, a refused connection.
func transient(op Op) bool {
	switch op.Code {
	case api.CodeNoLeader, api.CodeNotLeader, "no_session", "dial", "no_endpoint":
		return op.Outcome == OutcomeFail
	}
	return false
}

// Run runs the clients and the heartbeat keeper until ctx is done or the
// operations run out, and returns once every operation in flight has
// ended; that takes at most the attempts of one operation after ctx ends.
// The log followers go on until StopFollowers.
func (w *Workload) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for id := range w.cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.client(ctx, id)
		}()
	}
	if w.HeartbeatsEnabled() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.keepHeartbeats(ctx)
		}()
	}
	if w.cfg.Pipelines > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.keepPipelines(ctx)
		}()
	}
	wg.Wait()
}
