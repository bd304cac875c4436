package fsm

import (
	"math"
	"strings"

	"github.com/google/btree"
)

// The table is a set of copy-on-write B-trees. Records in them are never
// modified once inserted: a change inserts a modified copy. Cloning a tree
// is O(1) and later writes copy only the nodes they touch, so a View (and
// so a Snapshot) is a cheap, immutable picture that stays valid while Apply
// goes on.

const btreeDegree = 32

type pidItem struct {
	pid uint64
	p   *Process
}

// pairKey orders (a, b): children are (parent, pid), groups (pgid, pid).
type pairKey struct{ a, b uint64 }

type nodeKey struct {
	node string
	pid  uint64
}

// queueKey orders pending processes: priority descending, then the index at
// which they became pending, then PID.
type queueKey struct {
	rank uint8 // MaxPriority - priority
	seq  uint64
	pid  uint64
}

type sigItem struct {
	pid, id uint64
	r       *SignalRequest
}

// outcomeItem remembers the result of a Signal by its client id.
type outcomeItem struct {
	id uint64
	at int64
	r  *Result
}

type timeKey struct {
	at int64
	id uint64
}

type nodeItem struct {
	id string
	n  *Node
}

// usageItem is what the processes placed, running or stopped on one node
// hold, kept in step with onNode.
type usageItem struct {
	node string
	u    Usage
}

type objItem struct {
	kind Kind
	name string
	o    *Object
}

type sessItem struct {
	id uint64
	s  *Session
}

type respItem struct {
	sid, rid uint64
	r        *Result
}

func lessPID(x, y pidItem) bool { return x.pid < y.pid }

func lessPair(x, y pairKey) bool { return x.a < y.a || x.a == y.a && x.b < y.b }

func lessNodeKey(x, y nodeKey) bool {
	if x.node != y.node {
		return x.node < y.node
	}
	return x.pid < y.pid
}

func lessQueue(x, y queueKey) bool {
	if x.rank != y.rank {
		return x.rank < y.rank
	}
	if x.seq != y.seq {
		return x.seq < y.seq
	}
	return x.pid < y.pid
}

func lessSig(x, y sigItem) bool { return x.pid < y.pid || x.pid == y.pid && x.id < y.id }

// sigIndexKey orders signal requests by the index that made them pending.
type sigIndexKey struct{ index, pid, id uint64 }

func lessSigIndex(x, y sigIndexKey) bool {
	if x.index != y.index {
		return x.index < y.index
	}
	return x.pid < y.pid || x.pid == y.pid && x.id < y.id
}

func lessOutcome(x, y outcomeItem) bool { return x.id < y.id }

func lessTime(x, y timeKey) bool { return x.at < y.at || x.at == y.at && x.id < y.id }

func lessNode(x, y nodeItem) bool { return x.id < y.id }

func lessUsage(x, y usageItem) bool { return x.node < y.node }

func lessObj(x, y objItem) bool {
	if x.kind != y.kind {
		return x.kind < y.kind
	}
	return x.name < y.name
}

func lessSess(x, y sessItem) bool { return x.id < y.id }

func lessResp(x, y respItem) bool { return x.sid < y.sid || x.sid == y.sid && x.rid < y.rid }

// state is the whole replicated table plus its secondary indexes. The
// working state belongs to Apply (under FSM.mu); clones are immutable.
type state struct {
	index     uint64 // applied index; not part of the hash
	clock     int64  // the highest leader time seen, unix ns
	nextPID   uint64
	nextSigID uint64 // state-machine signal ids: sigIDReserved | nextSigID
	sched     SchedulerConfig

	procs        *btree.BTreeG[pidItem]
	children     *btree.BTreeG[pairKey]   // index: (parent, pid)
	groups       *btree.BTreeG[pairKey]   // index: (pgid, pid)
	onNode       *btree.BTreeG[nodeKey]   // index: (node, pid) for the processes placed, running or stopped there
	usage        *btree.BTreeG[usageItem] // index: what the processes of onNode hold, per node
	reaps        *btree.BTreeG[pairKey]   // index: (reap index, pid) of the latest maxReapFeed reaps
	queue        *btree.BTreeG[queueKey]
	signals      *btree.BTreeG[sigItem]
	sigIndexes   *btree.BTreeG[sigIndexKey] // index: (Index, pid, id) of signal requests
	outcomes     *btree.BTreeG[outcomeItem]
	outcomeTimes *btree.BTreeG[timeKey] // index: (at, id) of outcomes
	nodes        *btree.BTreeG[nodeItem]
	objects      *btree.BTreeG[objItem]
	sessions     *btree.BTreeG[sessItem]
	sessionTimes *btree.BTreeG[timeKey] // index: (last active, id)
	responses    *btree.BTreeG[respItem]
	tokens       *btree.BTreeG[tokenItem]  // ACL tokens by accessor (acl.go)
	secrets      *btree.BTreeG[secretItem] // index: secret hash → accessor
	owned        *btree.BTreeG[ownerKey]   // index: (owner, pid) of every live process but init
	programs     *btree.BTreeG[progItem]   // program records, by name (program.go)

	// reapsFrom: every reap at an index above it is in reaps. Not part of
	// the snapshot; a restore starts the feed at the snapshot's index.
	reapsFrom uint64

	// modified is the feed of WalkModified: (ModifyIndex, pid) of the
	// latest record changes, in the order they were made. A change appends
	// a pair, and a walk skips the pairs of records changed again later.
	// Not part of the snapshot; a restore starts the feed at the
	// snapshot's index.
	modified feed
}

func newState() *state {
	tokens, secrets, owned := newACLTrees()
	return &state{
		tokens:       tokens,
		secrets:      secrets,
		owned:        owned,
		nextPID:      InitPID + 1,
		nextSigID:    1,
		sched:        SchedulerConfig{Strategy: StrategySpread},
		procs:        btree.NewG(btreeDegree, lessPID),
		children:     btree.NewG(btreeDegree, lessPair),
		groups:       btree.NewG(btreeDegree, lessPair),
		onNode:       btree.NewG(btreeDegree, lessNodeKey),
		usage:        btree.NewG(btreeDegree, lessUsage),
		reaps:        btree.NewG(btreeDegree, lessPair),
		sigIndexes:   btree.NewG(btreeDegree, lessSigIndex),
		queue:        btree.NewG(btreeDegree, lessQueue),
		signals:      btree.NewG(btreeDegree, lessSig),
		outcomes:     btree.NewG(btreeDegree, lessOutcome),
		outcomeTimes: btree.NewG(btreeDegree, lessTime),
		nodes:        btree.NewG(btreeDegree, lessNode),
		objects:      btree.NewG(btreeDegree, lessObj),
		sessions:     btree.NewG(btreeDegree, lessSess),
		sessionTimes: btree.NewG(btreeDegree, lessTime),
		responses:    btree.NewG(btreeDegree, lessResp),
		programs:     newPrograms(),
	}
}

// initProcess is the record of PID 1.
func initProcess() *Process {
	return &Process{
		PID:         InitPID,
		Incarnation: 1,
		Pgid:        InitPID,
		Sid:         InitPID,
		Owner:       "root",
		Spec:        &Spec{Command: "init", Priority: DefaultPriority, Restart: Restart{Policy: RestartNever}},
		State:       StateRunning,
	}
}

// clone returns an immutable copy. It must be called by the owner of s.
func (s *state) clone() *state {
	c := *s
	c.procs = s.procs.Clone()
	c.children = s.children.Clone()
	c.groups = s.groups.Clone()
	c.onNode = s.onNode.Clone()
	c.usage = s.usage.Clone()
	c.reaps = s.reaps.Clone()
	c.sigIndexes = s.sigIndexes.Clone()
	c.queue = s.queue.Clone()
	c.signals = s.signals.Clone()
	c.outcomes = s.outcomes.Clone()
	c.outcomeTimes = s.outcomeTimes.Clone()
	c.nodes = s.nodes.Clone()
	c.objects = s.objects.Clone()
	c.sessions = s.sessions.Clone()
	c.sessionTimes = s.sessionTimes.Clone()
	c.responses = s.responses.Clone()
	c.tokens = s.tokens.Clone()
	c.secrets = s.secrets.Clone()
	c.owned = s.owned.Clone()
	c.programs = s.programs.Clone()
	return &c
}

func (s *state) proc(pid uint64) *Process {
	it, ok := s.procs.Get(pidItem{pid: pid})
	if !ok {
		return nil
	}
	return it.p
}

func (s *state) node(id string) *Node {
	it, ok := s.nodes.Get(nodeItem{id: id})
	if !ok {
		return nil
	}
	return it.n
}

func (s *state) object(kind Kind, name string) *Object {
	it, ok := s.objects.Get(objItem{kind: kind, name: name})
	if !ok {
		return nil
	}
	return it.o
}

func (s *state) session(id uint64) *Session {
	it, ok := s.sessions.Get(sessItem{id: id})
	if !ok {
		return nil
	}
	return it.s
}

// eachPair calls fn with b for every (a, b) in t, in order of b.
func eachPair(t *btree.BTreeG[pairKey], a uint64, fn func(b uint64) bool) {
	t.AscendGreaterOrEqual(pairKey{a: a}, func(k pairKey) bool {
		if k.a != a {
			return false
		}
		return fn(k.b)
	})
}

// eachLiveOnNode visits the processes placed, running or stopped on node:
// the runner's reconcile and signal delivery stay proportional to what the
// node runs, not to everything that ever ran there.
func (s *state) eachLiveOnNode(node string, fn func(pid uint64) bool) {
	eachNodeKey(s.onNode, node, fn)
}

func eachNodeKey(t *btree.BTreeG[nodeKey], node string, fn func(pid uint64) bool) {
	t.AscendGreaterOrEqual(nodeKey{node: node}, func(k nodeKey) bool {
		if k.node != node {
			return false
		}
		return fn(k.pid)
	})
}

// indexModified keeps the modified feed in step when a process record old
// is replaced by new; either may be nil. A record changed again in the
// same entry is in the feed at that index already; a reap adds nothing (a
// PID is never used again, and WalkReaped tells reaps).
func (s *state) indexModified(old, new *Process) {
	if new == nil || new.ModifyIndex <= s.modified.from || old != nil && old.ModifyIndex == new.ModifyIndex {
		return
	}
	s.modified.add(new.ModifyIndex, new.PID, maxModFeed)
}

// maxModFeed is how many record changes the modified feed keeps at least.
// A variable so that tests can lower it.
var maxModFeed = 1 << 16

// maxReapFeed bounds the reaps the table remembers for WalkReaped. A
// variable so that tests can lower it.
var maxReapFeed = 1 << 16

// noteReap records that pid was reaped at index, forgetting the oldest
// reap past maxReapFeed.
func (s *state) noteReap(index, pid uint64) {
	s.reaps.ReplaceOrInsert(pairKey{index, pid})
	if s.reaps.Len() > maxReapFeed {
		if old, ok := s.reaps.DeleteMin(); ok {
			s.reapsFrom = max(s.reapsFrom, old.a)
		}
	}
}

// putSignal adds a signal request and indexes it.
func (s *state) putSignal(r *SignalRequest) {
	if old, ok := s.signals.ReplaceOrInsert(sigItem{pid: r.PID, id: r.ID, r: r}); ok {
		s.sigIndexes.Delete(sigIndexKey{old.r.Index, old.pid, old.id})
	}
	s.sigIndexes.ReplaceOrInsert(sigIndexKey{r.Index, r.PID, r.ID})
}

// deleteSignal removes a signal request and its index entry.
func (s *state) deleteSignal(r *SignalRequest) {
	s.signals.Delete(sigItem{pid: r.PID, id: r.ID})
	s.sigIndexes.Delete(sigIndexKey{r.Index, r.PID, r.ID})
}

// indexOnNode keeps onNode in step when a process record old is replaced
// by new (either may be nil).
func (s *state) indexOnNode(old, new *Process) {
	live := func(p *Process) bool { return p != nil && p.State.OnNode() && p.Node != "" }
	oldLive, newLive := live(old), live(new)
	if oldLive && newLive && old.Node == new.Node {
		return // the key is there already
	}
	if oldLive {
		s.onNode.Delete(nodeKey{old.Node, old.PID})
		s.addUsage(old.Node, -1, -old.Spec.MemoryDemand())
	}
	if newLive {
		s.onNode.ReplaceOrInsert(nodeKey{new.Node, new.PID})
		s.addUsage(new.Node, 1, new.Spec.MemoryDemand())
	}
}

// addUsage adds procs processes and mem bytes to what node holds.
func (s *state) addUsage(node string, procs int, mem int64) {
	it, _ := s.usage.Get(usageItem{node: node})
	it.node = node
	it.u.Procs += procs
	it.u.Memory += mem
	if it.u.Procs == 0 {
		s.usage.Delete(it)
		return
	}
	s.usage.ReplaceOrInsert(it)
}

func (s *state) eachSignal(pid uint64, fn func(r *SignalRequest) bool) {
	s.signals.AscendGreaterOrEqual(sigItem{pid: pid}, func(it sigItem) bool {
		if it.pid != pid {
			return false
		}
		return fn(it.r)
	})
}

// View is an immutable, consistent picture of the table at one applied
// index. It is safe for concurrent use and stays valid while Apply goes on;
// the scheduler and the read API work on one. Records it returns are
// copies whose slices must not be modified.
type View struct {
	s *state
}

// Index returns the applied index the view shows.
func (v *View) Index() uint64 { return v.s.index }

// Clock returns the highest leader time (unix ns) the table has seen.
func (v *View) Clock() int64 { return v.s.clock }

// NextPID returns the PID the next spawn will get.
func (v *View) NextPID() uint64 { return v.s.nextPID }

// Len returns the number of processes in the table, init included.
func (v *View) Len() int { return v.s.procs.Len() }

// Get returns the process with the PID.
func (v *View) Get(pid uint64) (Process, bool) {
	p := v.s.proc(pid)
	if p == nil {
		return Process{}, false
	}
	return *p, true
}

// Filter selects processes for List. Its fields combine with AND; zero
// fields select everything.
type Filter struct {
	// LiveOnly leaves out exited and lost processes.
	LiveOnly bool
	// OnNodeOnly keeps the processes that hold a node: placed, running or
	// stopped on one (init, which runs nowhere, is left out).
	OnNodeOnly bool
	// Node keeps the processes assigned to that node (including zombies
	// that ran there).
	Node string
	// Pgid keeps the members of that process group.
	Pgid uint64
	// Parent keeps the children of that PID.
	Parent uint64
	// After keeps the PIDs above it: the next page of a listing.
	After uint64
}

func (f *Filter) match(p *Process) bool {
	return (!f.LiveOnly || p.State.Live()) &&
		(!f.OnNodeOnly || p.State.OnNode() && p.Node != "") &&
		(f.Node == "" || p.Node == f.Node) &&
		(f.Pgid == 0 || p.Pgid == f.Pgid) &&
		(f.Parent == 0 || p.Parent == f.Parent) &&
		p.PID > f.After
}

// List returns the processes that f selects, in PID order.
func (v *View) List(f Filter) []Process {
	var out []Process
	v.Walk(f, func(p *Process) bool {
		out = append(out, *p)
		return true
	})
	return out
}

// Walk calls fn for every process f selects, in PID order, until fn returns
// false. The record is shared and must not be modified or kept past fn
// unless copied; Walk saves List's copies for large scans.
func (v *View) Walk(f Filter, fn func(p *Process) bool) {
	s := v.s
	visit := func(pid uint64) bool {
		p := s.proc(pid)
		if p == nil || !f.match(p) {
			return true
		}
		return fn(p)
	}
	switch {
	case f.Parent != 0:
		eachPair(s.children, f.Parent, visit)
	case f.Pgid != 0:
		eachPair(s.groups, f.Pgid, visit)
	case f.Node != "" && (f.OnNodeOnly || f.LiveOnly):
		// A live process with a node is placed, running or stopped there.
		s.eachLiveOnNode(f.Node, visit)
	default:
		// Zombies by node are not indexed: asking for them walks the table.
		s.procs.AscendGreaterOrEqual(pidItem{pid: f.After + 1}, func(it pidItem) bool {
			if !f.match(it.p) {
				return true
			}
			return fn(it.p)
		})
	}
}

// Pending returns the processes waiting for placement, by priority
// descending and then in the order they became pending. It includes those
// whose NotBefore (restart backoff) is still in the future; the scheduler
// skips them.
func (v *View) Pending() []Process {
	out := make([]Process, 0, v.s.queue.Len())
	v.s.queue.Ascend(func(k queueKey) bool {
		if p := v.s.proc(k.pid); p != nil {
			out = append(out, *p)
		}
		return true
	})
	return out
}

// PendingLen returns the number of processes waiting for placement.
func (v *View) PendingLen() int { return v.s.queue.Len() }

// Nodes returns every node, by ID.
func (v *View) Nodes() []Node {
	out := make([]Node, 0, v.s.nodes.Len())
	v.s.nodes.Ascend(func(it nodeItem) bool {
		out = append(out, *it.n)
		return true
	})
	return out
}

// Node returns the node with the ID.
func (v *View) Node(id string) (Node, bool) {
	n := v.s.node(id)
	if n == nil {
		return Node{}, false
	}
	return *n, true
}

// NodeUsage returns what the processes placed, running or stopped on node
// hold: how many there are and their memory demand (Spec.MemoryDemand).
// It costs O(log nodes), so placement can ask it for every spawn.
func (v *View) NodeUsage(node string) Usage {
	it, _ := v.s.usage.Get(usageItem{node: node})
	return it.u
}

// Objects returns the registry entries of one kind (all kinds if kind is
// empty), by kind and name.
func (v *View) Objects(kind Kind) []Object {
	var out []Object
	v.s.objects.AscendGreaterOrEqual(objItem{kind: kind}, func(it objItem) bool {
		if kind != "" && it.kind != kind {
			return false
		}
		out = append(out, *it.o)
		return true
	})
	return out
}

// Object returns the registry entry for a name.
func (v *View) Object(kind Kind, name string) (Object, bool) {
	o := v.s.object(kind, name)
	if o == nil {
		return Object{}, false
	}
	return *o, true
}

// SchedulerConfig returns the cluster-wide scheduler configuration.
func (v *View) SchedulerConfig() SchedulerConfig { return v.s.sched }

// WalkModified calls fn for every process whose record changed at an
// index above since (its ModifyIndex), in the order of those indexes, until
// fn returns false. A follower of the table, such as a node's runner, looks
// at what changed since it last looked instead of at everything. A reaped
// process has no record any more and is not visited. The record is shared,
// as in Walk: a record never changes once in the table (a change inserts a
// new one), so it may be kept, but never modified.
//
// It reports whether the view knows every such change: the table remembers
// only the latest ones (at least maxModFeed, and none from before the
// snapshot it was restored from). When it does not, it calls fn for
// nothing, and the caller compares what it holds with the whole table.
func (v *View) WalkModified(since uint64, fn func(p *Process) bool) bool {
	if since == math.MaxUint64 {
		return true
	}
	f := &v.s.modified
	i, ok := f.since(since)
	if !ok {
		return false
	}
	for ; i < f.n; i++ {
		k := f.at(i)
		p := v.s.proc(k.b)
		if p == nil || p.ModifyIndex != k.a {
			continue // reaped, or changed again later in the feed
		}
		if !fn(p) {
			break
		}
	}
	return true
}

// WalkReaped calls fn with the PID of every process reaped at an index
// above since, in the order of those indexes, until fn returns false. It
// reports whether the view knows every such reap: the table remembers only
// the latest reaps (and none from before the snapshot it was restored
// from). When it does not, it calls fn for nothing, and the caller compares
// what it holds with the whole table instead.
func (v *View) WalkReaped(since uint64, fn func(pid uint64) bool) bool {
	if since < v.s.reapsFrom {
		return false
	}
	if since == math.MaxUint64 {
		return true
	}
	v.s.reaps.AscendGreaterOrEqual(pairKey{a: since + 1}, func(k pairKey) bool { return fn(k.b) })
	return true
}

// WalkSignalsSince calls fn for every pending signal request made pending
// at an index above since, in the order of those indexes, until fn returns
// false. The request is shared and must not be modified.
func (v *View) WalkSignalsSince(since uint64, fn func(r *SignalRequest) bool) {
	if since == math.MaxUint64 {
		return
	}
	v.s.sigIndexes.AscendGreaterOrEqual(sigIndexKey{index: since + 1}, func(k sigIndexKey) bool {
		it, ok := v.s.signals.Get(sigItem{pid: k.pid, id: k.id})
		if !ok {
			return true
		}
		return fn(it.r)
	})
}

// PendingSignals returns the signal requests that the node has to deliver:
// those of the processes placed, running or stopped on it, by PID and ID.
func (v *View) PendingSignals(node string) []SignalRequest {
	var out []SignalRequest
	v.s.eachLiveOnNode(node, func(pid uint64) bool {
		p := v.s.proc(pid)
		if p == nil || !p.State.OnNode() {
			return true
		}
		v.s.eachSignal(pid, func(r *SignalRequest) bool {
			out = append(out, *r)
			return true
		})
		return true
	})
	return out
}

// SignalsFor returns the signal requests pending in a process, by ID.
func (v *View) SignalsFor(pid uint64) []SignalRequest {
	var out []SignalRequest
	v.s.eachSignal(pid, func(r *SignalRequest) bool {
		out = append(out, *r)
		return true
	})
	return out
}

// Sessions returns the number of live client sessions.
func (v *View) Sessions() int { return v.s.sessions.Len() }

// Session returns a client session.
func (v *View) Session(id uint64) (Session, bool) {
	s := v.s.session(id)
	if s == nil {
		return Session{}, false
	}
	return *s, true
}

// Hash returns the state hash (see FSM.Hash).
func (v *View) Hash() [32]byte { return hashState(v.s) }

// promiseSubset reports whether every promise in child is in parent.
func promiseSubset(child, parent string) bool {
	have := strings.Fields(parent)
	for _, c := range strings.Fields(child) {
		found := false
		for _, h := range have {
			if c == h {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
