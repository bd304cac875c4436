package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
)

// Group commit. Raft costs one disk sync and one round trip per append, so
// committing one command per entry caps a cluster at what raw raft does
// (11–19k entries/s on loopback with BoltDB). The applier turns many
// concurrent submissions into few entries:
//
//	submit ──▶ queue ──▶ batcher ──raft.Apply──▶ in flight (≤ maxInFlight) ──▶ completer
//	 (encode,            (takes all queued,       raft replicates batch n      (waits each future
//	  session            ≤ maxBatchCommands       while the batcher builds     in log order and hands
//	  envelope)          and ≤ maxBatchBytes:     batch n+1                    every command its own
//	                     one fsm Batch entry)                                  *fsm.Result)
//
// Under light load a batch holds one command and costs what raft costs;
// under heavy load a batch grows to whatever queued while the previous ones
// were being written, so throughput scales with the batch size while
// latency stays near one commit. Few entries in flight are enough: on a
// small machine each entry's disk syncs and CPU are what bound throughput.
// Raft holds at most two of ours at a time, the one the completer waits for
// and the one the batcher has handed over; the queue behind them makes
// large batches. A third (maxInFlight 2) made smaller entries, more CPU per
// command and lower throughput below 256 clients on two cores.
//
// Lazy proposals (a node's reports, submitBatch) wait for company: they go
// with the next proposal that is not lazy, or once the pipeline has been
// empty for lazyDelay (the answer to an entry in flight is what brings a
// client's next request), so that a node's reports ride with the spawns
// instead of making entries of their own, under load and at one client
// alike (a report then costs no disk sync of its own). Nobody waits on
// them for long: a report that a client waits for (an exit awaited through
// the leader, await) goes at once, and so do held reports when the
// pipeline empties after an entry the followers must hear of (they carry
// the commit to them, instead of a Tick).
//
// Outcomes: a command the batcher has not yet taken can be withdrawn (its
// caller gives up and gets its context's error, or commit.ErrNotLeader when the
// agent stops); once in an entry handed to raft, it may commit, and every
// failure but raft refusing it outright is commit.ErrUnknownOutcome (Guarantee 9).

const (
	maxBatchCommands = 512
	maxBatchBytes    = 1 << 20
	maxInFlight      = 1 // entries handed to raft and not yet answered, besides the one the batcher holds
	applyQueueLen    = 4096
	// lazyDelay bounds how long a lazy proposal waits for company while
	// an entry is in flight.
	lazyDelay = 2 * time.Millisecond
	// nudgeAfter is how long the pipeline stays empty, after an entry
	// another node must act on, before the batcher commits a Tick to tell
	// the followers of that entry's commit.
	nudgeAfter = 300 * time.Microsecond
)

// Proposal states.
const (
	propQueued int32 = iota
	propTaken
	propWithdrawn
)

// proposal is one encoded command on its way through group commit.
type proposal struct {
	entry []byte
	// lazy proposals may wait a little for others to share their entry.
	lazy bool
	// pid is the process whose exit a lazy proposal reports (0: none): it
	// goes at once when a client awaits that exit.
	pid uint64
	// nudge says that another node must act on the command once it
	// commits (a spawn placed there, a client's signal): the followers
	// must soon learn of its commit.
	nudge bool
	state atomic.Int32
	// done receives the outcome exactly once, unless the proposal was
	// withdrawn. It runs on the completer goroutine and must not block.
	done func(res *fsm.Result, err error)
}

// inflight is an entry handed to raft and the proposals it carries.
type inflight struct {
	props  []*proposal
	future raft.ApplyFuture
	nudge  bool // a proposal's nudge
}

// applier batches proposals into raft entries.
type applier struct {
	raft   *raft.Raft
	logger *slog.Logger
	stop   <-chan struct{}
	// raftDown is closed once raft has shut down: a future not answered
	// by then never will be (unblockOnShutdown).
	raftDown chan struct{}
	escapes  bool // whether futures take raftDown; false only on another raft version

	seal func() bool // whether every voter knows the checksummed envelope

	queue    chan *proposal // proposals waiting for the batcher
	inflight chan *inflight // batches handed to raft, closed by the batcher on exit

	// busy counts the entries handed to raft and not yet answered; idle
	// is kicked by the completer when it falls to zero.
	busy atomic.Int64
	idle chan struct{}
	// owed is set by the completer once an entry with a nudge has
	// committed and cleared by the batcher when it hands raft the next
	// entry, which tells the followers of that commit.
	owed atomic.Bool
	// lazyDelay bounds how long a lazy proposal waits for company
	// (lazyDelay, the constant, outside tests).
	lazyDelay time.Duration

	// awaited counts the clients waiting for each process's exit (await);
	// hurry tells the batcher that one more began to wait. exits counts,
	// by node, the exits reported and not yet answered (reportExit).
	awaitMu sync.Mutex
	awaited map[uint64]int
	hurry   chan struct{}
	exits   map[string]int
	// holding is how many lazy proposals the batcher holds for company.
	holding atomic.Int64
}

func newApplier(r *raft.Raft, logger *slog.Logger, stop <-chan struct{}, raftDown chan struct{}) *applier {
	return &applier{
		raft:      r,
		logger:    logger,
		stop:      stop,
		raftDown:  raftDown,
		escapes:   true,
		queue:     make(chan *proposal, applyQueueLen),
		inflight:  make(chan *inflight, maxInFlight-1), // one more waits in the completer
		idle:      make(chan struct{}, 1),
		lazyDelay: lazyDelay,
		awaited:   make(map[uint64]int),
		exits:     make(map[string]int),
		hurry:     make(chan struct{}, 1),
	}
}

// await records that a client waits for pid's exit, until the returned
// release: a report of that exit then goes at once instead of waiting for
// company, whether it is queued, held or yet to come.
func (ap *applier) await(pid uint64) (release func()) {
	ap.awaitMu.Lock()
	ap.awaited[pid]++
	ap.awaitMu.Unlock()
	ctxutil.Kick(ap.hurry)
	return func() {
		ap.awaitMu.Lock()
		if ap.awaited[pid]--; ap.awaited[pid] <= 0 {
			delete(ap.awaited, pid)
		}
		ap.awaitMu.Unlock()
	}
}

// reportExit counts an exit of a process on node as reported until the
// returned function, which also calls release, marks its report answered.
func (ap *applier) reportExit(node string, release func()) func() {
	ap.awaitMu.Lock()
	ap.exits[node]++
	ap.awaitMu.Unlock()
	return func() {
		ap.awaitMu.Lock()
		if ap.exits[node]--; ap.exits[node] <= 0 {
			delete(ap.exits, node)
		}
		ap.awaitMu.Unlock()
		release()
	}
}

// exitsReported returns how many exits of node's processes were reported
// and not yet answered.
func (ap *applier) exitsReported(node string) int {
	ap.awaitMu.Lock()
	defer ap.awaitMu.Unlock()
	return ap.exits[node]
}

// urgent reports whether a client awaits the exit p reports.
func (ap *applier) urgent(p *proposal) bool {
	if p.pid == 0 {
		return false
	}
	ap.awaitMu.Lock()
	defer ap.awaitMu.Unlock()
	return ap.awaited[p.pid] > 0
}

// anyUrgent reports whether one of held is urgent.
func (ap *applier) anyUrgent(held []*proposal) bool {
	for _, p := range held {
		if ap.urgent(p) {
			return true
		}
	}
	return false
}

// propose queues p. It fails with commit.ErrNotLeader once the agent is stopping.
func (ap *applier) propose(ctx context.Context, p *proposal) error {
	// A context already ended must not race the queue: select picks at
	// random among ready cases.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case ap.queue <- p:
		return nil
	case <-ap.stop:
		return commit.ErrNotLeader
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withdraw takes back a proposal the batcher has not taken. It reports
// false when the proposal is already on its way to raft.
func (p *proposal) withdraw() bool { return p.state.CompareAndSwap(propQueued, propWithdrawn) }

// run is the batcher: it takes everything queued and hands it to raft as
// one entry. A lazy proposal (a node's reports, submitBatch) does not make
// an entry of its own at once: it waits for company, until a proposal that
// is not lazy comes or lazyDelay passes, so that a node's reports and the
// spawns share entries, and disk syncs. A held proposal goes at once when
// a client awaits the exit it reports (await), and when the pipeline
// empties after an entry the followers must hear of. Order is kept: a
// batch takes the held lazy proposals first, and everything queued after
// them. run exits when the agent stops, answering what it has not
// dispatched, and closes ap.inflight so that the completer answers the
// rest.
func (ap *applier) run() {
	defer close(ap.inflight)
	var props, held []*proposal
	var entries [][]byte
	heldBytes := 0
	timer := time.NewTimer(ap.lazyDelay)
	timer.Stop()
	defer timer.Stop()
	nudge := time.NewTimer(nudgeAfter)
	nudge.Stop()
	defer nudge.Stop()
	for {
		var first *proposal
		var ripe, tell <-chan time.Time
		var hurry <-chan struct{}
		if len(held) > 0 {
			ripe, hurry = timer.C, ap.hurry
		}
		if ap.owed.Load() {
			tell = nudge.C
		}
		select {
		case first = <-ap.queue:
		case <-ripe:
			if ap.busy.Load() > 0 {
				// lazyDelay counts from when the pipeline empties: the
				// answer to the entry in flight brings the next request.
				timer.Reset(ap.lazyDelay)
				continue
			}
		case <-hurry:
			if !ap.anyUrgent(held) {
				continue
			}
		case <-ap.idle:
			if !ap.owed.Load() {
				if len(held) > 0 {
					timer.Reset(ap.lazyDelay)
				}
				continue
			}
			if len(held) == 0 {
				// The pipeline is empty: tell the followers of the
				// last commit unless another entry comes soon.
				nudge.Reset(nudgeAfter)
				continue
			}
			// The held proposals tell them.
		case <-tell:
			if len(held) > 0 {
				break // the held proposals tell them
			}
			if ap.owed.Load() && ap.busy.Load() == 0 && len(ap.queue) == 0 && !ap.tellCommit() {
				ap.drain()
				return
			}
			continue
		case <-ap.stop:
			ap.drainHeld(held)
			ap.drain()
			return
		}
		if first != nil && first.lazy && !ap.urgent(first) && len(held)+1 < maxBatchCommands && heldBytes+len(first.entry) < maxBatchBytes {
			if len(held) == 0 {
				timer.Reset(ap.lazyDelay)
			}
			held = append(held, first)
			heldBytes += len(first.entry)
			ap.holding.Store(int64(len(held)))
			continue
		}
		nudge.Stop()
		props, entries = props[:0], entries[:0]
		size := 0
		for _, p := range held {
			props, entries, size = ap.take(p, props, entries, size)
		}
		clear(held)
		held, heldBytes = held[:0], 0
		ap.holding.Store(0)
		timer.Stop()
		if first != nil {
			props, entries, size = ap.take(first, props, entries, size)
		}
	collect:
		for len(props) < maxBatchCommands && size < maxBatchBytes {
			select {
			case p := <-ap.queue:
				props, entries, size = ap.take(p, props, entries, size)
			default:
				break collect
			}
		}
		if len(props) == 0 {
			continue
		}
		data := entries[0]
		if len(entries) > 1 {
			var err error
			if data, err = fsm.EncodeBatch(entries); err != nil {
				// Entries come from Encode: never empty, never a batch.
				panic(fmt.Sprintf("cluster: group commit: %v", err))
			}
		}
		nudges := false
		for _, p := range props {
			nudges = nudges || p.nudge
		}
		if !ap.dispatch(data, append([]*proposal(nil), props...), nudges) {
			ap.drain()
			return
		}
	}
}

// dispatch hands raft one entry and the completer its proposals. It
// reports false when the agent stops meanwhile.
func (ap *applier) dispatch(data []byte, props []*proposal, nudge bool) bool {
	if ap.seal != nil && ap.seal() {
		data = fsm.Seal(data)
	}
	ap.owed.Store(false)
	ap.busy.Add(1)
	f := ap.raft.Apply(data, 0)
	if ap.escapes && !unblockOnShutdown(f, ap.raftDown) {
		ap.escapes = false
		ap.logger.Warn("group commit: raft's apply futures have no shutdown escape; a shutdown may wait on an entry raft never answers")
	}
	batch := &inflight{props: props, future: f, nudge: nudge}
	select {
	case ap.inflight <- batch:
		return true
	case <-ap.stop:
		ap.inflight <- batch // room is made by the completer, which drains until close
		return false
	}
}

// tellCommit hands raft a Tick, whose append carries the leader's commit
// index to the followers. Raft tells them of a commit only with the next
// append, or after CommitTimeout without one: a spawn placed on a follower
// would otherwise wait that long to start when nothing else is committed
// after it. It reports false when the agent stops meanwhile.
func (ap *applier) tellCommit() bool {
	return ap.dispatch(fsm.Encode(&fsm.Tick{Now: time.Now().UnixNano()}), nil, false)
}

// drainHeld answers the lazy proposals held back: never dispatched, they
// are a plain retry.
func (ap *applier) drainHeld(held []*proposal) {
	for _, p := range held {
		if p.state.CompareAndSwap(propQueued, propTaken) {
			p.done(nil, commit.ErrNotLeader)
		}
	}
}

// take adds p to the batch unless its caller withdrew it.
func (ap *applier) take(p *proposal, props []*proposal, entries [][]byte, size int) ([]*proposal, [][]byte, int) {
	if !p.state.CompareAndSwap(propQueued, propTaken) {
		return props, entries, size
	}
	return append(props, p), append(entries, p.entry), size + len(p.entry)
}

// drain answers the proposals still queued: never dispatched, they are a
// plain retry.
func (ap *applier) drain() {
	for {
		select {
		case p := <-ap.queue:
			if p.state.CompareAndSwap(propQueued, propTaken) {
				p.done(nil, commit.ErrNotLeader)
			}
		default:
			return
		}
	}
}

// complete is the completer: it waits for each entry in log order and
// answers its proposals. It exits once the batcher has closed ap.inflight
// and every batch is answered: raft answers a future it accepted, or, when
// it shuts down first, the future's wait ends with raft's shutdown
// (unblockOnShutdown).
func (ap *applier) complete() {
	for b := range ap.inflight {
		ap.finish(b)
		if b.nudge && b.future.Error() == nil {
			ap.owed.Store(true)
		}
		if ap.busy.Add(-1) == 0 {
			ctxutil.Kick(ap.idle)
		}
	}
}

func (ap *applier) finish(b *inflight) {
	if err := b.future.Error(); err != nil {
		out := applyError(err)
		for _, p := range b.props {
			p.done(nil, out)
		}
		return
	}
	if len(b.props) == 0 {
		return // the batcher's own Tick (tellCommit)
	}
	switch r := b.future.Response().(type) {
	case *fsm.Result:
		if len(b.props) == 1 {
			b.props[0].done(r, nil)
			return
		}
	case []*fsm.Result:
		if len(r) == len(b.props) {
			for i, p := range b.props {
				p.done(r[i], nil)
			}
			return
		}
	}
	ap.logger.Error("group commit: unexpected response", "type", fmt.Sprintf("%T", b.future.Response()), "commands", len(b.props))
	for _, p := range b.props {
		p.done(nil, fmt.Errorf("%w: unexpected response from the state machine", commit.ErrUnknownOutcome))
	}
}

// applyError maps raft's error for an entry. Raft refuses an entry outright
// (it never reaches the log) when the node is not the leader or is
// transferring leadership: a plain retry. Anything else, once handed over,
// may have committed.
func applyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return commit.ErrNotLeader
	}
	return fmt.Errorf("%w: %v", commit.ErrUnknownOutcome, err)
}

// Submit wraps cmd in the session envelope
// stamped with this leader's clock when sess is set, queues it for group
// commit and waits for its result. The caller stamps leader time into cmd
// itself. A spawn gets its node here (SpawnPlacer): one entry allocates its
// PID and places it.
func (r *Replica) Submit(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	if !r.IsLeader() {
		return nil, commit.ErrNotLeader
	}
	if err := r.admits(cmd); err != nil {
		return nil, err
	}
	e, release, nudge := r.entry(sess, cmd, time.Now().UnixNano())
	defer release()
	return r.apply(ctx, e, nudge)
}

// entry places a spawn (SpawnPlacer) and encodes cmd, inside the session
// envelope stamped with now when sess is set. The caller calls the
// returned release once its entry has been answered. nudge says whether
// another node may have to act on cmd once it commits (mustTell).
func (r *Replica) entry(sess *commit.SessionRef, cmd fsm.Command, now int64) (_ []byte, release func(), nudge bool) {
	pick := func() {}
	if sp, ok := cmd.(*fsm.Spawn); ok && r.placer != nil {
		pick = r.placer.PlaceSpawn(sp)
	}
	nudge = r.mustTell(cmd)
	if sess == nil {
		return fsm.Encode(cmd), pick, nudge
	}
	return fsm.Encode(&fsm.SessionRequest{
		SessionID:  sess.ID,
		RequestID:  sess.Request,
		AckedBelow: sess.AckedBelow,
		Now:        now,
		Command:    cmd,
	}), pick, nudge
}

// apply commits one encoded entry through group commit and waits for it.
func (r *Replica) apply(ctx context.Context, entry []byte, nudge bool) (*fsm.Result, error) {
	ch := make(chan commit.Outcome, 1)
	p := &proposal{entry: entry, nudge: nudge, done: func(res *fsm.Result, err error) { ch <- commit.Outcome{Res: res, Err: err} }}
	if err := r.app.propose(ctx, p); err != nil {
		return nil, err
	}
	select {
	case o := <-ch:
		return o.Res, o.Err
	case <-ctx.Done():
		if p.withdraw() {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", commit.ErrUnknownOutcome, ctx.Err())
	case <-r.shutdownCh:
		if p.withdraw() {
			return nil, commit.ErrNotLeader
		}
		o := <-ch // the completer answers every dispatched proposal
		return o.Res, o.Err
	}
}

// SubmitBatch commits cmds as Submit would, in order: one proposal per command,
// queued in order by this goroutine alone (so that commands about one
// process keep their order in the log), answered by the completer, and
// waited for together. Without sessions (a node's reports) the proposals
// are lazy and wait a little for company, unless a client awaits the exit
// one reports (Await); with them (a client's merged writes) they go at
// once, and being queued together they share entries.
func (r *Replica) SubmitBatch(ctx context.Context, sess []*commit.SessionRef, cmds []fsm.Command) []commit.Outcome {
	w := newBatchWait(len(cmds))
	if !r.IsLeader() {
		w.failFrom(0, commit.ErrNotLeader)
		return w.out
	}
	now := time.Now().UnixNano()
	props := make([]proposal, len(cmds))
	releases := make([]func(), len(cmds))
	for i, c := range cmds {
		var sr *commit.SessionRef
		if sess != nil {
			sr = sess[i]
		}
		if err := r.admits(c); err != nil {
			w.set(i, nil, err)
			continue
		}
		e, release, nudge := r.entry(sr, c, now)
		p := &props[i]
		p.entry, p.lazy, p.nudge = e, sess == nil, nudge
		if ex, ok := c.(*fsm.Exited); ok && p.lazy {
			p.pid = ex.PID
			release = r.app.reportExit(ex.Node, release)
		}
		releases[i] = release
		p.done = func(res *fsm.Result, err error) {
			release()
			w.set(i, res, err)
		}
		if err := r.app.propose(ctx, p); err != nil {
			release()
			w.failFrom(i, err) // neither this one nor the rest was queued
			break
		}
	}
	var out []commit.Outcome
	select {
	case <-w.done:
		return w.out
	case <-ctx.Done():
		out = w.abandon(props, ctx.Err(), ctx.Err())
	case <-r.shutdownCh:
		out = w.abandon(props, commit.ErrNotLeader, commit.ErrNotLeader)
	}
	// A withdrawn proposal is never answered: release it here.
	for i := range props {
		if releases[i] != nil && props[i].state.Load() == propWithdrawn {
			releases[i]()
		}
	}
	return out
}

// batchWait collects the outcomes of a batch of proposals.
type batchWait struct {
	mu       sync.Mutex // guards out, answered, left and closed
	out      []commit.Outcome
	answered []bool
	left     int
	closed   bool          // abandoned: later answers are dropped
	done     chan struct{} // closed once every command is answered
}

func newBatchWait(n int) *batchWait {
	w := &batchWait{out: make([]commit.Outcome, n), answered: make([]bool, n), left: n, done: make(chan struct{})}
	if n == 0 {
		close(w.done)
	}
	return w
}

// set answers command i, once.
func (w *batchWait) set(i int, res *fsm.Result, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.answered[i] {
		return
	}
	w.out[i], w.answered[i] = commit.Outcome{Res: res, Err: err}, true
	if w.left--; w.left == 0 {
		close(w.done)
	}
}

// failFrom answers commands i and later with err.
func (w *batchWait) failFrom(i int, err error) {
	for ; i < len(w.out); i++ {
		w.set(i, nil, err)
	}
}

// abandon stops waiting: what the batcher has not taken is withdrawn and
// answered withdrawn; what it has is answered with commit.ErrUnknownOutcome
// wrapping why. It returns the outcomes, which no later answer changes.
func (w *batchWait) abandon(props []proposal, withdrawn, why error) []commit.Outcome {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for i := range w.out {
		if w.answered[i] {
			continue
		}
		if props[i].withdraw() {
			w.out[i].Err = withdrawn
		} else {
			w.out[i].Err = fmt.Errorf("%w: %v", commit.ErrUnknownOutcome, why)
		}
	}
	return w.out
}

// Await records, until release, that a client waits on this leader for
// pid's exit: the report of that exit then commits as soon as it comes
// instead of waiting for company (see "Lazy proposals" above).
func (r *Replica) Await(pid uint64) (release func()) { return r.app.await(pid) }

// ExitsReported returns how many exits of node's processes have been
// reported to this leader and not yet committed: placement counts those
// processes as gone, since a report may wait a little for company.
func (r *Replica) ExitsReported(node string) int { return r.app.exitsReported(node) }

// ApplyAsync commits cmd through group commit without waiting; done gets
// the outcome on the completer goroutine and must not block.
func (r *Replica) ApplyAsync(ctx context.Context, cmd fsm.Command, done func(*fsm.Result, error)) error {
	if !r.IsLeader() {
		return commit.ErrNotLeader
	}
	return r.app.propose(ctx, &proposal{entry: fsm.Encode(cmd), nudge: r.mustTell(cmd), done: done})
}

// mustTell reports whether a node other than this one may have to act on
// cmd as soon as it commits, so that the followers must learn of its
// commit without waiting for raft's CommitTimeout: a spawn or a placement
// on another node, a signal. A node's news about its own processes
// (started, stopped, exited...) is for the table and the leader's readers,
// and a spawn placed here is for this node's runner.
func (r *Replica) mustTell(cmd fsm.Command) bool {
	switch c := cmd.(type) {
	case *fsm.Spawn:
		return c.Place != r.cfg.Name
	case *fsm.Place:
		return c.Node != r.cfg.Name
	case *fsm.Started, *fsm.Stopped, *fsm.Continued, *fsm.Exited, *fsm.Lost, *fsm.SignalDelivered, *fsm.Tick, *fsm.RegisterSession:
		return false
	}
	return true
}

// RegisterSession commits a new client session on the leader and returns
// its id.
func (r *Replica) RegisterSession(ctx context.Context) (uint64, error) {
	res, err := r.Submit(ctx, nil, &fsm.RegisterSession{Now: time.Now().UnixNano()})
	if err != nil {
		return 0, err
	}
	if res.Err != nil {
		return 0, res.Err
	}
	return res.SessionID, nil
}

// admits refuses a command whose type or body version not every voter
// knows yet (Env.Writable), before anything is written, after dropping
// what the command can do without (fsm.Versions.Fit).
func (r *Replica) admits(cmd fsm.Command) error {
	w := r.writable()
	if r.coversKnown(w) {
		return nil
	}
	return w.Admits(w.Fit(cmd))
}

// coversKnown reports whether w covers everything this release knows. It
// remembers the answer for the last w seen: Env.Writable hands out the
// same versions between its recomputations, and walking them for every
// command costs more than the rest of admitting it.
func (r *Replica) coversKnown(w fsm.Versions) bool {
	r.coversMu.Lock()
	defer r.coversMu.Unlock()
	// The map remembered is kept referenced, so that its address cannot
	// be another map's.
	same := w.Commands != nil && r.covered.Commands != nil &&
		reflect.ValueOf(w.Commands).Pointer() == reflect.ValueOf(r.covered.Commands).Pointer()
	if !same || w.Spec != r.covered.Spec {
		r.covered, r.covers = w, w.Covers(r.known)
	}
	return r.covers
}
