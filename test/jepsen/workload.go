//go:build linux

package jepsen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	registries []string           // guarded by mu; the registries whose routes answer
	skipped    []string           // guarded by mu; features skipped, with the reason
	pool       []procRef          // guarded by mu; recent PIDs the clients act on
	beating    map[uint64]bool    // guarded by mu; heartbeat PIDs → alive (not killed)
	followers  map[uint64]bool    // guarded by mu; heartbeat PIDs followed
	offsets    map[uint64]int64   // guarded by mu; heartbeat PID → log offset read
	followWG   sync.WaitGroup     // tracks the log followers
	followStop context.CancelFunc // guarded by mu; stops the followers
	followCtx  context.Context    // guarded by mu
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
	var op Op
	for range 10 {
		op = w.spawn(ctx, st, rng, "true", nil, "", true)
		if op.Outcome == OutcomeOK || op.Code == api.CodeBadRequest || ctx.Err() != nil {
			break
		}
		ctxutil.Sleep(ctx, time.Second)
	}
	switch {
	case op.Code == api.CodeBadRequest:
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
	wg.Wait()
}

// opKinds are the choices of a client, with their weights.
type choice int

const (
	chSpawnSleep choice = iota
	chSpawnTrue
	chGet
	chWait
	chKill
	chList
	chRegistry
	chSignalBeat
	chGetBeat
)

var weights = []struct {
	c choice
	w int
}{
	{chSpawnSleep, 18}, {chSpawnTrue, 6}, {chGet, 24}, {chWait, 8}, {chKill, 10}, {chList, 5},
	{chRegistry, 16}, {chSignalBeat, 3}, {chGetBeat, 5},
}

// choose draws a client's next operation among the enabled ones.
func (w *Workload) choose(rng *rand.Rand) choice {
	w.mu.Lock()
	regs, beats := len(w.registries) > 0, w.heartbeat
	w.mu.Unlock()
	total := 0
	for _, x := range weights {
		total += x.w
	}
	for {
		n := rng.IntN(total)
		for _, x := range weights {
			if n -= x.w; n >= 0 {
				continue
			}
			switch {
			case x.c == chRegistry && !regs, (x.c == chSignalBeat || x.c == chGetBeat) && !beats:
			default:
				return x.c
			}
			break
		}
	}
}

// client is one client's loop.
func (w *Workload) client(ctx context.Context, id int) {
	rng := rand.New(rand.NewPCG(w.cfg.Seed, streamWorkload+uint64(id)+1))
	st := w.newStream(id)
	defer st.close()
	for ctx.Err() == nil && w.ops.Add(1) <= int64(w.cfg.MaxOps) {
		c := w.choose(rng)
		switch c {
		case chSpawnSleep:
			w.spawn(ctx, st, rng, "sleep", []string{strconv.Itoa(1 + rng.IntN(w.cfg.SleepMax))}, "", w.tagging())
		case chSpawnTrue:
			w.spawn(ctx, st, rng, "true", nil, "", w.tagging())
		case chGet, chWait, chKill:
			ref, ok := w.pick(rng, pickPlain)
			if !ok {
				w.spawn(ctx, st, rng, "true", nil, "", w.tagging())
				break
			}
			switch c {
			case chGet:
				w.get(ctx, st, rng, ref.pid)
			case chWait:
				w.wait(ctx, st, rng, ref.pid)
			default:
				sig := 9
				if rng.IntN(10) < 3 {
					sig = 15
				}
				w.kill(ctx, st, rng, ref.pid, sig)
			}
		case chList:
			w.list(ctx, st, rng)
		case chRegistry:
			w.mu.Lock()
			kind := w.registries[rng.IntN(len(w.registries))]
			w.mu.Unlock()
			name := fmt.Sprintf("/jepsen-%d", rng.IntN(w.cfg.RegistryNames))
			k := OpCreate
			if rng.IntN(2) == 0 {
				k = OpUnlink
			}
			w.registryOp(ctx, st, rng, k, kind, name)
		case chSignalBeat, chGetBeat:
			ref, ok := w.pick(rng, pickBeat)
			if !ok {
				w.list(ctx, st, rng)
				break
			}
			if c == chSignalBeat {
				w.kill(ctx, st, rng, ref.pid, CountedSignals[rng.IntN(len(CountedSignals))])
			} else {
				w.get(ctx, st, rng, ref.pid)
			}
		}
		if w.cfg.ThinkTime > 0 {
			ctxutil.Sleep(ctx, time.Duration(rng.Int64N(int64(w.cfg.ThinkTime))))
		}
	}
}

func (w *Workload) tagging() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.useTokens
}

// Which PIDs pick chooses from.
const (
	pickPlain = iota // not a heartbeat: heartbeats die only of SIGKILL, on purpose
	pickBeat         // a live heartbeat
)

// pick chooses a PID from the pool.
func (w *Workload) pick(rng *rand.Rand, which int) (procRef, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var cands []procRef
	for _, r := range w.pool {
		if which == pickPlain && !r.heartbeat || which == pickBeat && r.heartbeat && w.beating[r.pid] {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return procRef{}, false
	}
	return cands[rng.IntN(len(cands))], true
}

// remember adds a PID to the pool, forgetting the oldest beyond poolSize
// (but never a live heartbeat).
func (w *Workload) remember(r procRef) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pool = append(w.pool, r)
	for i := 0; len(w.pool) > poolSize && i < len(w.pool); {
		if w.pool[i].heartbeat && w.beating[w.pool[i].pid] {
			i++
			continue
		}
		w.pool = append(w.pool[:i], w.pool[i+1:]...)
	}
}

// ---- heartbeats ----

// spawnHeartbeat spawns one heartbeat process, with restart policy always,
// and follows its output.
func (w *Workload) spawnHeartbeat(ctx context.Context, st *stream, rng *rand.Rand) Op {
	op := w.spawn(ctx, st, rng, "heartbeat", []string{w.cfg.HeartbeatInterval.String()}, "always", w.tagging())
	if op.Outcome == OutcomeOK {
		w.watchBeat(op.RetPID)
	}
	return op
}

// watchBeat counts pid among the live heartbeats and follows its output.
func (w *Workload) watchBeat(pid uint64) {
	w.mu.Lock()
	w.beating[pid] = true
	w.mu.Unlock()
	w.follow(pid)
}

// keepHeartbeats keeps cfg.Heartbeats heartbeat processes alive, within
// cfg.MaxHeartbeats for the run, and about every cfg.HeartbeatLife kills
// one with SIGKILL, so that kill-is-final has heartbeats to check.
func (w *Workload) keepHeartbeats(ctx context.Context) {
	rng := rand.New(rand.NewPCG(w.cfg.Seed, streamBeats))
	st := w.newStream(-2)
	defer st.close()
	tick := min(max(w.cfg.HeartbeatLife/4, 10*time.Millisecond), time.Second)
	nextKill := time.Now().Add(between(rng, w.cfg.HeartbeatLife/2, w.cfg.HeartbeatLife*3/2))
	spawned := 1 // the probe's
	for i := 0; i < 1_000_000 && ctx.Err() == nil; i++ {
		if time.Now().After(nextKill) {
			nextKill = time.Now().Add(between(rng, w.cfg.HeartbeatLife/2, w.cfg.HeartbeatLife*3/2))
			if ref, ok := w.pick(rng, pickBeat); ok {
				op := w.kill(ctx, st, rng, ref.pid, 9)
				if op.Outcome != OutcomeFail {
					w.mu.Lock()
					w.beating[ref.pid] = false
					w.mu.Unlock()
				}
			}
		}
		w.mu.Lock()
		alive := 0
		for _, a := range w.beating {
			if a {
				alive++
			}
		}
		w.mu.Unlock()
		if alive < w.cfg.Heartbeats && spawned < w.cfg.MaxHeartbeats {
			w.spawnHeartbeat(ctx, st, rng)
			spawned++
			continue
		}
		ctxutil.Sleep(ctx, tick)
	}
}

// follow starts following a heartbeat PID's output, once.
func (w *Workload) follow(pid uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.followers[pid] {
		return
	}
	w.followers[pid] = true
	ctx := w.followCtx
	w.followWG.Add(1)
	go func() {
		defer w.followWG.Done()
		w.followLoop(ctx, pid)
	}()
}

// followLoop reads a heartbeat PID's log, following it from where it left
// off, from random nodes, until ctx is done or the process is final.
func (w *Workload) followLoop(ctx context.Context, pid uint64) {
	rng := rand.New(rand.NewPCG(pid, streamBeats))
	hc := &http.Client{Transport: newTransport()}
	defer hc.CloseIdleConnections()
	idle := 0 // reads in a row that brought nothing
	for i := 0; i < 100000 && ctx.Err() == nil; i++ {
		eps := w.endpoints()
		if len(eps) == 0 {
			return
		}
		ep := eps[rng.IntN(len(eps))]
		clean, n := w.readLog(ctx, hc, ep, pid, true, false)
		if clean && w.isFinal(ctx, hc, ep, pid) {
			return
		}
		if idle = idle + 1; n > 0 {
			idle = 0
		}
		if idle >= 4 {
			// The log may have started afresh on another node: read it
			// all again (the history drops the lines it has).
			w.setOffset(pid, 0)
			idle = 0
		}
		ctxutil.Sleep(ctx, 250*time.Millisecond+time.Duration(rng.Int64N(int64(250*time.Millisecond))))
	}
}

// readLog reads a heartbeat PID's log from the recorded offset, following
// it or not, and records its lines. It reports whether the stream ended
// without error, and how many bytes of whole lines it read.
// With local, the node answers from its own copy of the log, whoever runs
// the process now: an earlier incarnation's output stays on the node that
// ran it.
func (w *Workload) readLog(ctx context.Context, hc *http.Client, ep Endpoint, pid uint64, follow, local bool) (clean bool, n int64) {
	w.mu.Lock()
	off := w.offsets[pid]
	w.mu.Unlock()
	q := url.Values{"offset": {strconv.FormatInt(off, 10)}}
	if follow {
		q.Set("follow", "true")
	}
	rctx := ctx
	if !follow {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, ep.URL+"/v1/procs/"+strconv.FormatUint(pid, 10)+"/logs?"+q.Encode(), nil)
	if err != nil {
		return false, 0
	}
	if local {
		req.Header.Set(api.HeaderTarget, ep.Name)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return false, 0
	}
	if s := resp.Header.Get(api.HeaderOffset); s != "" {
		if start, err := strconv.ParseInt(s, 10, 64); err == nil && start != off {
			off = start // older output was dropped, or the log restarted
		}
	}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// A partial line is read again next time, from off.
			w.setOffset(pid, off)
			return errors.Is(err, io.EOF) && line == "", n
		}
		off += int64(len(line))
		n += int64(len(line))
		if b, d, ok := ParseLogLine(strings.TrimRight(line, "\r\n")); ok {
			if b != nil {
				w.hist.AddBeat(*b)
			} else {
				w.hist.AddDelivery(*d)
			}
		}
	}
}

func (w *Workload) setOffset(pid uint64, off int64) {
	w.mu.Lock()
	w.offsets[pid] = off
	w.mu.Unlock()
}

// isFinal reports whether a PID has reached a final state, from a stale
// read of the node.
func (w *Workload) isFinal(ctx context.Context, hc *http.Client, ep Endpoint, pid uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	var p api.Process
	res := callAPI(ctx, hc, ep, http.MethodGet, "/v1/procs/"+strconv.FormatUint(pid, 10), url.Values{"stale": {"true"}}, nil, &p, nil)
	return res.kind == answered && res.code == "" && p.State == "exited"
}

// StopFollowers reads the whole output of every heartbeat PID once more,
// through the node that runs it and from every node's own copy, bounded by
// ctx, and then stops the followers and waits for them.
func (w *Workload) StopFollowers(ctx context.Context) {
	w.mu.Lock()
	pids := sortedKeys(w.followers)
	w.mu.Unlock()
	hc := &http.Client{Transport: newTransport()}
	defer hc.CloseIdleConnections()
	for _, pid := range pids {
		eps := w.endpoints()
		for _, ep := range eps {
			if ctx.Err() != nil {
				break
			}
			w.setOffset(pid, 0)
			if clean, _ := w.readLog(ctx, hc, ep, pid, false, false); clean {
				break
			}
		}
		// Every node's own copy: the output of incarnations that ran
		// elsewhere (the history drops the lines it has).
		for _, ep := range eps {
			if ctx.Err() != nil {
				break
			}
			w.setOffset(pid, 0)
			w.readLog(ctx, hc, ep, pid, false, true)
		}
	}
	w.halt()
}

// halt stops the log followers and waits for them.
func (w *Workload) halt() {
	w.mu.Lock()
	w.followStop()
	w.mu.Unlock()
	w.followWG.Wait()
}

// ---- operations ----

// stream is a client stream: one session, one HTTP transport. A new one
// replaces it after every unknown outcome.
type stream struct {
	client  int
	id      int
	hc      *http.Client
	session uint64 // 0 until the first write registers one
	next    uint64 // the next request id
	pin     string // the only node the stream talks to; "" for random nodes
}

func (w *Workload) newStream(client int) *stream {
	return &stream{client: client, id: w.hist.NewStream(), hc: &http.Client{Transport: newTransport()}, next: 1}
}

func (s *stream) close() { s.hc.CloseIdleConnections() }

// renew replaces the stream's session and connections, as etcd's
// robustness clients do after an unknown outcome.
func (w *Workload) renew(s *stream) {
	s.close()
	pin := s.pin
	*s = *w.newStream(s.client)
	s.pin = pin
}

func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 15 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// answerKind says what an attempt tells about the operation.
type answerKind int

const (
	answered answerKind = iota // an answer of the system: success or a failure with a code
	refused                    // not applied: refused before dispatch, or never sent
	maybe                      // may have applied: a timeout, a reset, unknown_outcome
)

// attempt is the result of one HTTP call.
type attempt struct {
	kind answerKind
	code string // the error code of an error answer
	msg  string
	hdr  http.Header
}

// sessionHeaders names a write within a session.
type sessionHeaders struct{ session, request, acked uint64 }

// callAPI makes one call and decodes a 2xx answer into out.
func callAPI(ctx context.Context, hc *http.Client, ep Endpoint, method, path string, query url.Values, in, out any, sess *sessionHeaders) attempt {
	u := ep.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return attempt{kind: refused, code: "encode", msg: err.Error()}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return attempt{kind: refused, code: "request", msg: err.Error()}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sess != nil {
		req.Header.Set(api.HeaderSession, strconv.FormatUint(sess.session, 10))
		req.Header.Set(api.HeaderRequest, strconv.FormatUint(sess.request, 10))
		req.Header.Set(api.HeaderAcked, strconv.FormatUint(sess.acked, 10))
	}
	resp, err := hc.Do(req)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return attempt{kind: refused, code: "dial", msg: err.Error()}
		}
		return attempt{kind: maybe, code: "transport", msg: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return attempt{kind: maybe, code: "transport", msg: err.Error(), hdr: resp.Header}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil && len(b) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				return attempt{kind: maybe, code: "decode", msg: err.Error(), hdr: resp.Header}
			}
		}
		return attempt{kind: answered, hdr: resp.Header}
	}
	var e api.Error
	if json.Unmarshal(b, &e) != nil || e.Code == "" {
		e = api.Error{Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(b))}
	}
	a := attempt{kind: answered, code: e.Code, msg: e.Message, hdr: resp.Header}
	switch e.Code {
	case api.CodeNoLeader, api.CodeNotLeader:
		a.kind = refused
	case api.CodeUnknownOutcome, api.CodeUnavailable, api.CodeTimeout, api.CodeInternal:
		a.kind = maybe
	default:
		if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable ||
			resp.StatusCode == http.StatusGatewayTimeout {
			a.kind = maybe
		}
	}
	return a
}

// endpoint picks the stream's node: its pinned one, or a random one.
func (w *Workload) endpoint(st *stream, rng *rand.Rand) (Endpoint, bool) {
	eps := w.endpoints()
	if st.pin != "" {
		for _, ep := range eps {
			if ep.Name == st.pin {
				return ep, true
			}
		}
		return Endpoint{}, false
	}
	if len(eps) == 0 {
		return Endpoint{}, false
	}
	return eps[rng.IntN(len(eps))], true
}

// write performs a write in the stream's session, with up to cfg.Attempts
// attempts of the same request id on random nodes (Guarantee 9), and fills
// in op's outcome. After an unknown outcome the stream is renewed.
func (w *Workload) write(ctx context.Context, st *stream, rng *rand.Rand, op *Op, method, path string, query url.Values, in, out any) {
	op.Stream, op.Client = st.id, st.client
	ep, ok := w.endpoint(st, rng)
	if !ok {
		op.Outcome, op.Code, op.Error = OutcomeFail, "no_endpoint", "no node to talk to"
		return
	}
	op.Node = ep.Name
	op.Call = w.hist.Clock().Now()
	if st.session == 0 {
		var s api.Session
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.OpTimeout)
		a := callAPI(actx, st.hc, ep, http.MethodPost, "/v1/session", nil, nil, &s, nil)
		cancel()
		if a.kind != answered || a.code != "" || s.ID == 0 {
			op.Outcome, op.Code, op.Error = OutcomeFail, "no_session", fmt.Sprintf("register session: %s %s", a.code, a.msg)
			op.Return = w.hist.Clock().Now()
			return
		}
		st.session, st.next = s.ID, 1
	}
	rid := st.next
	st.next++
	sess := &sessionHeaders{session: st.session, request: rid, acked: rid}
	applied := false // some attempt may have applied
	var last attempt
	for i := 0; i < w.cfg.Attempts; i++ {
		if i > 0 {
			ctxutil.Sleep(context.WithoutCancel(ctx), 100*time.Millisecond+time.Duration(rng.Int64N(int64(200*time.Millisecond))))
			if e, ok := w.endpoint(st, rng); ok {
				ep = e
			}
		}
		op.Attempts++
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.OpTimeout)
		last = callAPI(actx, st.hc, ep, method, path, query, in, out, sess)
		cancel()
		if last.kind == maybe {
			applied = true
		}
		if last.kind == answered || last.kind == maybe && op.Kind.oncePerOutcome() {
			break
		}
	}
	op.Return = w.hist.Clock().Now()
	switch {
	case last.kind == answered && last.code == "":
		op.Outcome = OutcomeOK
	case last.kind == answered && last.code == api.CodeSessionExpired && applied:
		w.unknown(st, op, last)
	case last.kind == answered:
		op.Outcome, op.Code, op.Error = OutcomeFail, last.code, last.msg
		if last.code == api.CodeSessionExpired {
			st.session = 0 // never applied: the next write registers a new one
		}
	case applied:
		w.unknown(st, op, last)
	default:
		op.Outcome, op.Code, op.Error = OutcomeFail, last.code, last.msg
	}
}

// unknown records an unknown outcome and renews the stream.
func (w *Workload) unknown(st *stream, op *Op, last attempt) {
	op.Outcome, op.Return, op.Code, op.Error = OutcomeUnknown, Unknown, last.code, last.msg
	w.renew(st)
}

// read performs a read on a random node: one attempt, plus one more when
// refused before dispatch. A read never has an unknown outcome.
func (w *Workload) read(ctx context.Context, st *stream, rng *rand.Rand, op *Op, path string, query url.Values, out any, timeout time.Duration) {
	op.Stream, op.Client = st.id, st.client
	op.Call = w.hist.Clock().Now()
	var last attempt
	for i := 0; i < 2; i++ {
		ep, ok := w.endpoint(st, rng)
		if !ok {
			last = attempt{kind: refused, code: "no_endpoint", msg: "no node to talk to"}
			break
		}
		if op.Node == "" {
			op.Node = ep.Name
		}
		op.Attempts++
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		last = callAPI(actx, st.hc, ep, http.MethodGet, path, query, nil, out, nil)
		cancel()
		if last.kind != refused {
			break
		}
	}
	op.Return = w.hist.Clock().Now()
	if last.kind == answered && last.code == "" {
		op.Outcome = OutcomeOK
		return
	}
	op.Outcome, op.Code, op.Error = OutcomeFail, last.code, last.msg
}

// spawn spawns command with args; restart is the restart policy, tag asks
// for an owner tag.
func (w *Workload) spawn(ctx context.Context, st *stream, rng *rand.Rand, command string, args []string, restart string, tag bool) Op {
	return w.spawnReq(ctx, st, rng, api.SpawnRequest{Command: command, Args: args, Restart: restart}, tag)
}

// spawnReq spawns what req asks for; tag asks for an owner tag.
func (w *Workload) spawnReq(ctx context.Context, st *stream, rng *rand.Rand, req api.SpawnRequest, tag bool) Op {
	command := req.Command
	op := Op{Kind: OpSpawn, Command: command, Args: req.Args, Restart: req.Restart != ""}
	if tag {
		op.Token = fmt.Sprintf("jepsen-%d", w.tokens.Add(1))
		req.Owner = op.Token
	}
	var res api.SpawnResponse
	w.write(ctx, st, rng, &op, http.MethodPost, "/v1/spawn", nil, req, &res)
	if op.Outcome == OutcomeOK {
		op.RetPID = res.PID
		w.remember(procRef{pid: res.PID, restart: op.Restart, heartbeat: command == "heartbeat"})
	}
	w.hist.Add(op)
	return op
}

// kill sends sig to pid.
func (w *Workload) kill(ctx context.Context, st *stream, rng *rand.Rand, pid uint64, sig int) Op {
	op := Op{Kind: OpKill, PID: pid, Signal: sig}
	var res api.KillResponse
	w.write(ctx, st, rng, &op, http.MethodPost, "/v1/kill", nil, api.KillRequest{Targets: []int64{int64(pid)}, Signal: sig}, &res)
	if op.Outcome == OutcomeOK {
		for _, r := range res.Reached {
			if r.PID == pid {
				op.Reached, op.Incarnation = true, r.Incarnation
			}
		}
		if !op.Reached && len(res.Errors) > 0 {
			op.Outcome, op.Code, op.Error = OutcomeFail, res.Errors[0].Code, res.Errors[0].Message
		}
	}
	w.hist.Add(op)
	return op
}

// get reads pid.
func (w *Workload) get(ctx context.Context, st *stream, rng *rand.Rand, pid uint64) Op {
	op := Op{Kind: OpGet, PID: pid}
	var p api.Process
	w.read(ctx, st, rng, &op, "/v1/procs/"+strconv.FormatUint(pid, 10), nil, &p, w.cfg.OpTimeout)
	if op.Outcome == OutcomeOK {
		fillProcess(&op, &p)
	}
	w.hist.Add(op)
	return op
}

// wait waits, for a bounded time, until pid has exited.
func (w *Workload) wait(ctx context.Context, st *stream, rng *rand.Rand, pid uint64) Op {
	op := Op{Kind: OpWait, PID: pid}
	var p api.Process
	limit := max(w.cfg.OpTimeout/2, 100*time.Millisecond)
	w.read(ctx, st, rng, &op, "/v1/procs/"+strconv.FormatUint(pid, 10)+"/wait",
		url.Values{"timeout": {limit.String()}}, &p, w.cfg.OpTimeout+limit)
	if op.Outcome == OutcomeOK {
		fillProcess(&op, &p)
	}
	w.hist.Add(op)
	return op
}

// fillProcess records what a read of a process showed.
func fillProcess(op *Op, p *api.Process) {
	op.State, op.Incarnation, op.Status = p.State, p.Incarnation, StatusOf(p)
}

// list reads the whole table, exited processes included.
func (w *Workload) list(ctx context.Context, st *stream, rng *rand.Rand) Op {
	op := Op{Kind: OpList}
	var l api.ProcessList
	w.read(ctx, st, rng, &op, "/v1/procs", url.Values{"all": {"true"}}, &l, w.cfg.OpTimeout)
	if op.Outcome == OutcomeOK {
		op.PIDs = make([]uint64, 0, len(l.Processes))
		for _, p := range l.Processes {
			op.PIDs = append(op.PIDs, p.PID)
		}
	}
	w.hist.Add(op)
	return op
}

// registryOp creates or unlinks name in a registry.
func (w *Workload) registryOp(ctx context.Context, st *stream, rng *rand.Rand, kind OpKind, registry, name string) Op {
	op := Op{Kind: kind, Registry: registry, Name: name}
	if kind == OpCreate {
		w.write(ctx, st, rng, &op, http.MethodPost, RegistryRoutes[registry], nil, map[string]string{RegistryKeys[registry]: name}, nil)
	} else {
		w.write(ctx, st, rng, &op, http.MethodDelete, RegistryRoutes[registry], url.Values{RegistryKeys[registry]: {name}}, nil, nil)
	}
	w.hist.Add(op)
	return op
}

// ReadAll reads the whole table, exited processes included, with a
// linearizable read, trying the endpoints in turn until ctx ends.
func ReadAll(ctx context.Context, eps []Endpoint, timeout time.Duration) ([]api.Process, error) {
	hc := &http.Client{Transport: newTransport()}
	defer hc.CloseIdleConnections()
	var last attempt
	for i := 0; i < 1000 && ctx.Err() == nil && len(eps) > 0; i++ {
		ep := eps[i%len(eps)]
		var l api.ProcessList
		actx, cancel := context.WithTimeout(ctx, timeout)
		last = callAPI(actx, hc, ep, http.MethodGet, "/v1/procs", url.Values{"all": {"true"}}, nil, &l, nil)
		cancel()
		if last.kind == answered && last.code == "" {
			return l.Processes, nil
		}
		ctxutil.Sleep(ctx, 500*time.Millisecond)
	}
	return nil, fmt.Errorf("no consistent read: %s %s", last.code, last.msg)
}

// ReadState asks every endpoint for its applied index and state hash at
// once.
func ReadState(ctx context.Context, eps []Endpoint, timeout time.Duration) []StateSample {
	hc := &http.Client{Transport: newTransport()}
	defer hc.CloseIdleConnections()
	out := make([]StateSample, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			var s api.StateInfo
			a := callAPI(actx, hc, ep, http.MethodGet, "/v1/state", nil, nil, &s, nil)
			out[i] = StateSample{Node: ep.Name, Info: s}
			if a.kind != answered || a.code != "" {
				out[i].Err = strings.TrimSpace(a.code + " " + a.msg)
			}
		}()
	}
	wg.Wait()
	return out
}

// ReadHealth asks one endpoint for its health. An agent without a leader
// answers 503, which is an error here.
func ReadHealth(ctx context.Context, ep Endpoint, timeout time.Duration) (api.Health, error) {
	hc := &http.Client{Transport: newTransport()}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var h api.Health
	a := callAPI(ctx, hc, ep, http.MethodGet, "/v1/health", nil, nil, &h, nil)
	if a.kind != answered || a.code != "" {
		return h, fmt.Errorf("%s: health: %s %s", ep.Name, a.code, a.msg)
	}
	return h, nil
}

// oncePerOutcome reports whether an operation of kind k may not be retried
// once an attempt may have applied: the FIFO and queue routes do not take
// client sessions (a retry would apply again, and answer EEXIST or ENOENT
// for the first attempt's own effect), so the workload, like the Go
// client, makes one attempt there unless the first was refused before
// dispatch.
func (k OpKind) oncePerOutcome() bool { return k == OpCreate || k == OpUnlink }
