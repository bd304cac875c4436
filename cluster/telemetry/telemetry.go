package telemetry

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
)

// Sources are what the scrape-time gauges read. Each is called once per
// scrape; a nil one leaves its metrics out.
type Sources struct {
	// Raft returns raft's Stats (commit_index, applied_index,
	// last_log_index, term, state).
	Raft func() map[string]string
	// View returns this node's view of the table.
	View func() *fsm.View
	// Kernel returns the local kernel's statistics.
	Kernel func() node.Stats
	// Members returns the status of each gossip member (alive, suspect,
	// down, left).
	Members func() []string
	// Lease returns the lease keeper's counters.
	Lease func() LeaseStats
}

// LeaseStats are the node's lease renewals since the agent started.
type LeaseStats struct {
	// Renewals the leader answered, and those that failed.
	Renewals, Failures uint64
	// Freezes counts the times the lease ended: the node's processes froze.
	Freezes uint64
}

// Metrics is one agent's metrics: its registry, which the process-wide one
// (InstallGlobalSinks) joins at scrape time, and the instruments the
// agent's parts feed. Create it with New; its methods are safe for
// concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	applyDuration prometheus.Histogram
	leadership    *prometheus.CounterVec

	spawns, kills, lost, restarts prometheus.Counter
	exits                         *prometheus.CounterVec
	entryCommands, entryBytes     prometheus.Histogram

	placeDuration prometheus.Histogram
	spawnPick     prometheus.Histogram
	placements    prometheus.Counter
	preemptions   prometheus.Counter

	mu      sync.Mutex
	pending map[string]int // by cause, from the leader's last placement round; nil on a follower
}

// New returns the metrics of the agent named nodeName, whose gauges read
// src. It installs the global sinks first (InstallGlobalSinks).
func New(nodeName string, src Sources) (*Metrics, error) {
	if nodeName == "" {
		return nil, errors.New("telemetry: a node name is needed")
	}
	global, err := InstallGlobalSinks()
	if err != nil {
		return nil, err
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"node": nodeName}, m.reg)
	f := factory{reg: reg}

	m.httpRequests = f.counterVec("http_requests_total", "HTTP requests served, by route pattern, method and status code.", "route", "method", "code")
	m.httpDuration = f.histogramVec("http_request_duration_seconds", "Time to serve an HTTP request (a stream: until it ends), by route pattern and method.", prometheus.DefBuckets, "route", "method")

	m.applyDuration = f.histogram("raft_apply_duration_seconds", "Time from submitting a write on this node (the leader) to its result: group commit, raft commit and apply.", prometheus.ExponentialBuckets(0.0005, 2, 14))
	m.leadership = f.counterVec("raft_leadership_changes_total", "Times this node gained (to=leader) or lost (to=follower) raft leadership.", "to")

	m.spawns = f.counter("table_spawns_total", "Spawns the table accepted (applied on this replica).")
	m.exits = f.counterVec("table_exits_total", "Incarnations that ended and were not restarted, by cause: exit_zero, exit_nonzero or signal.", "cause")
	m.kills = f.counter("table_kills_total", "Signal requests (kills) the table accepted.")
	m.lost = f.counter("table_lost_total", "Incarnations the table declared lost (their node lost, or a node's report).")
	m.restarts = f.counter("table_restarts_total", "Incarnations requeued by their restart policy after an exit or a loss.")
	m.entryCommands = f.histogram("table_entry_commands", "Commands per applied log entry: the size of group commit's batches.", prometheus.ExponentialBuckets(1, 2, 12))
	m.entryBytes = f.histogram("table_entry_bytes", "Bytes per applied log entry.", prometheus.ExponentialBuckets(64, 4, 10))

	m.placeDuration = f.histogram("placement_round_duration_seconds", "Time of a placement round on the leader: planning and committing the plan.", prometheus.ExponentialBuckets(0.0001, 2, 16))
	m.spawnPick = f.histogram("placement_spawn_pick_seconds", "Time the leader took to pick a node for a spawn it received, placed in the spawn's own entry.", prometheus.ExponentialBuckets(0.000001, 2, 20))
	m.placements = f.counter("placement_placements_total", "Placements the leader committed.")
	m.preemptions = f.counter("placement_preemptions_total", "Preemptions the leader committed.")
	if f.err != nil {
		return nil, f.err
	}
	if err := reg.Register(&scrape{src: src, m: m}); err != nil {
		return nil, err
	}
	m.handler = promhttp.HandlerFor(prometheus.Gatherers{m.reg, global}, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m, nil
}

// ServeHTTP serves GET /v1/metrics: the Prometheus text format (or
// another format the Accept header asks for).
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// Registry returns the agent's own registry, for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest records an HTTP request: its route pattern (bounded: the
// API's routes, "unmatched" for others), method, status and duration.
func (m *Metrics) ObserveRequest(route, method string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, statusText(code)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveApply records the time a write took from submit to result.
func (m *Metrics) ObserveApply(d time.Duration) { m.applyDuration.Observe(d.Seconds()) }

// Leadership records that this node gained or lost raft leadership. A
// node that loses it stops reporting the placement gauges.
func (m *Metrics) Leadership(leader bool) {
	if leader {
		m.leadership.WithLabelValues("leader").Inc()
		return
	}
	m.leadership.WithLabelValues("follower").Inc()
	m.mu.Lock()
	m.pending = nil
	m.mu.Unlock()
}

// PlacementRound records one placement round of the leader: how long it
// took, what it committed, and how many pending processes it left by cause
// (sched's causes, and "backoff" for those waiting out a restart backoff).
func (m *Metrics) PlacementRound(d time.Duration, placed, preempted int, pending map[string]int) {
	m.placeDuration.Observe(d.Seconds())
	m.placements.Add(float64(placed))
	m.preemptions.Add(float64(preempted))
	m.SetPending(pending)
}

// SpawnPick records how long the leader took to pick a node for a spawn
// it placed in the spawn's own entry.
func (m *Metrics) SpawnPick(d time.Duration) { m.spawnPick.Observe(d.Seconds()) }

// SetPending replaces the leader's pending counts by cause.
func (m *Metrics) SetPending(pending map[string]int) {
	m.mu.Lock()
	m.pending = pending
	m.mu.Unlock()
}

// Applied records a log entry this replica applied: its size in bytes,
// its command as the table decoded it (an *fsm.Batch for group commit),
// and what the table returned (a *fsm.Result, or a []*fsm.Result for a
// batch). It runs on raft's apply goroutine and decodes nothing.
func (m *Metrics) Applied(size int, cmd fsm.Command, result any) {
	m.entryBytes.Observe(float64(size))
	switch r := result.(type) {
	case []*fsm.Result:
		b, ok := cmd.(*fsm.Batch)
		if !ok || len(b.Commands) != len(r) {
			return
		}
		m.entryCommands.Observe(float64(len(r)))
		for i, c := range b.Commands {
			m.command(c, r[i])
		}
	case *fsm.Result:
		m.entryCommands.Observe(1)
		m.command(cmd, r)
	}
}

// command counts one applied command by what it did.
func (m *Metrics) command(c fsm.Command, r *fsm.Result) {
	if sr, ok := c.(*fsm.SessionRequest); ok {
		c = sr.Command
	}
	if r == nil || r.Err != nil || c == nil {
		return
	}
	switch c := c.(type) {
	case *fsm.Spawn:
		m.spawns.Inc()
	case *fsm.Signal:
		m.kills.Inc()
	case *fsm.Exited:
		m.ended(r, c.Status)
	case *fsm.Lost:
		m.lost.Inc()
		if r.State == fsm.StatePending {
			m.restarts.Inc()
		}
	case *fsm.NodeLost:
		m.lost.Add(float64(len(r.Targets)))
	}
}

// ended counts an exit: a restart when the policy requeued the process,
// else an exit by its cause.
func (m *Metrics) ended(r *fsm.Result, st fsm.Status) {
	switch {
	case r.State == fsm.StatePending:
		m.restarts.Inc()
	case st.Signal != 0:
		m.exits.WithLabelValues("signal").Inc()
	case st.Code == 0:
		m.exits.WithLabelValues("exit_zero").Inc()
	default:
		m.exits.WithLabelValues("exit_nonzero").Inc()
	}
}

func statusText(code int) string {
	if code <= 0 {
		code = http.StatusOK
	}
	return strconv.Itoa(code)
}

// factory registers instruments, keeping the first error.
type factory struct {
	reg prometheus.Registerer
	err error
}

func (f *factory) register(c prometheus.Collector) {
	if f.err == nil {
		f.err = f.reg.Register(c)
	}
}

func (f *factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	f.register(c)
	return c
}

func (f *factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.register(c)
	return c
}

func (f *factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets})
	f.register(h)
	return h
}

func (f *factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.register(h)
	return h
}
