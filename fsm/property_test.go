package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"pgregory.net/rapid"
)

// The property test runs random command sequences against the FSM and a
// model made of plain maps, and checks after every step that they agree.

type mproc struct {
	parent, pgid uint64
	state        State
	inc          uint64
	node         string
	killed       bool
	evicting     bool
	policy       RestartPolicy
	max          int
	restarts     int
}

type mobj struct {
	node string
	lost bool
}

type model struct {
	nextPID uint64
	procs   map[uint64]*mproc
	nodes   map[string]NodeStatus
	objects map[string]*mobj // kind + ":" + name
}

func newModel() *model {
	return &model{
		nextPID: 2,
		procs:   map[uint64]*mproc{1: {pgid: 1, state: StateRunning, inc: 1}},
		nodes:   map[string]NodeStatus{},
		objects: map[string]*mobj{},
	}
}

func (m *model) sorted() []uint64 {
	out := make([]uint64, 0, len(m.procs))
	for pid := range m.procs {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

func (m *model) terminate(pid uint64, p *mproc, to State) {
	p.state, p.evicting = to, false
	for _, q := range m.procs {
		if q.parent == pid {
			q.parent = 1
		}
	}
}

func (m *model) requeue(p *mproc, counted bool) {
	p.inc++
	p.state, p.node, p.evicting = StatePending, "", false
	if counted {
		p.restarts++
	}
}

func (m *model) finish(pid uint64, p *mproc, st Status, lost bool) {
	switch {
	case p.killed:
		m.terminate(pid, p, StateExited)
		return
	case p.evicting && (lost || st.Signal != 0):
		m.requeue(p, false)
		return
	}
	under := p.max == 0 || p.restarts < p.max
	restart := p.policy == RestartAlways && under ||
		p.policy == RestartOnFailure && under && (lost || st.Failed())
	switch {
	case restart:
		m.requeue(p, true)
	case lost:
		m.terminate(pid, p, StateLost)
	default:
		m.terminate(pid, p, StateExited)
	}
}

// event mirrors the FSM's check of a node event.
func (m *model) event(pid, inc uint64, node string) (*mproc, error) {
	p := m.procs[pid]
	if p == nil {
		return nil, ErrNoSuchProcess
	}
	if p.inc != inc || p.node != node || node == "" {
		if p.killed && !p.state.Live() {
			return nil, ErrKilled
		}
		return nil, ErrStale
	}
	return p, nil
}

type propTest struct {
	h *harness
	m *model
	// sessions and the first answers of their requests, for retries.
	sessions []uint64
	nextRID  map[uint64]uint64
	answers  []answer
	restores int
	// seen holds each process as the last check saw it, at seenIndex: the
	// change feed (WalkModified, WalkSignalsSince) must show every change
	// since.
	seen      map[uint64]Process
	seenSigs  map[sigKeyT]bool
	seenIndex uint64
}

type sigKeyT struct{ pid, id uint64 }

type answer struct {
	data []byte
	r    *Result
}

// exec applies c, wrapped in a session when the test draws one, and checks
// the error against want.
func (pt *propTest) exec(t *rapid.T, c Command, want error) *Result {
	var data []byte
	inSession := len(pt.sessions) > 0 && rapid.Bool().Draw(t, "in-session")
	if inSession {
		sid := rapid.SampledFrom(pt.sessions).Draw(t, "sid")
		pt.nextRID[sid]++
		data = Encode(&SessionRequest{SessionID: sid, RequestID: pt.nextRID[sid], Now: pt.h.now, Command: c})
	} else {
		data = Encode(c)
	}
	r := pt.h.raw(data).(*Result)
	if !errors.Is(r.Err, want) && (want != nil || r.Err != nil) {
		t.Fatalf("%v %+v: got error %v, want %v", c.Type(), c, r.Err, want)
	}
	if inSession {
		pt.answers = append(pt.answers, answer{data: data, r: r})
	}
	return r
}

func (pt *propTest) pickPID(t *rapid.T) uint64 {
	return pt.pickWhere(t, func(p *mproc) bool { return true })
}

// pickWhere draws a PID, mostly one of a process that satisfies pred, and
// sometimes any PID: init, a zombie or one not in the table.
func (pt *propTest) pickWhere(t *rapid.T, pred func(p *mproc) bool) uint64 {
	var fit []uint64
	for _, pid := range pt.m.sorted() {
		if pid != 1 && pred(pt.m.procs[pid]) {
			fit = append(fit, pid)
		}
	}
	if len(fit) == 0 || rapid.IntRange(0, 9).Draw(t, "any") == 0 {
		all := append(pt.m.sorted(), pt.m.nextPID) // nextPID is not in the table
		return rapid.SampledFrom(all).Draw(t, "pid")
	}
	return rapid.SampledFrom(fit).Draw(t, "pid")
}

func onNode(p *mproc) bool { return p.state.OnNode() }

func (pt *propTest) pickNode(t *rapid.T) string {
	return rapid.SampledFrom([]string{"n1", "n2", "n3"}).Draw(t, "node")
}

func (pt *propTest) spawn(t *rapid.T) {
	m := pt.m
	parent := uint64(1)
	if rapid.Bool().Draw(t, "child") {
		parent = pt.pickPID(t)
	}
	policy := rapid.SampledFrom([]RestartPolicy{RestartNever, RestartOnFailure, RestartAlways}).Draw(t, "policy")
	maxR := rapid.IntRange(0, 3).Draw(t, "max")
	newGroup := parent != 1 && rapid.Bool().Draw(t, "new-group")
	c := &Spawn{Parent: parent, NewGroup: newGroup, Now: pt.h.now, Spec: Spec{
		Command:  "p",
		Priority: rapid.IntRange(1, 100).Draw(t, "prio"),
		// A 1 ns backoff, so that the model need not track time.
		Restart: Restart{Policy: policy, MaxRestarts: maxR, BackoffBase: 1, BackoffMax: 1},
	}}
	// Sometimes the leader chose a node at once: the spawn is placed there
	// if the node is alive, and pending otherwise.
	if rapid.Bool().Draw(t, "place-at-spawn") {
		c.Place = pt.pickNode(t)
	}
	var want error
	pp := m.procs[parent]
	if pp == nil || !pp.state.Live() {
		want = ErrNoSuchProcess
	}
	r := pt.exec(t, c, want)
	if want != nil {
		return
	}
	if r.PID != m.nextPID {
		t.Fatalf("spawn got pid %d, want %d", r.PID, m.nextPID)
	}
	pgid := pp.pgid
	if parent == 1 || newGroup {
		pgid = r.PID
	}
	np := &mproc{parent: parent, pgid: pgid, state: StatePending, inc: 1, policy: policy, max: maxR}
	if c.Place != "" && m.nodes[c.Place] == NodeAlive {
		np.state, np.node = StatePlaced, c.Place
	}
	if r.State != np.state {
		t.Fatalf("spawn placed on %q: got state %s, want %s", c.Place, r.State, np.state)
	}
	m.procs[r.PID] = np
	m.nextPID++
}

func (pt *propTest) place(t *rapid.T) {
	m := pt.m
	pid := pt.pickWhere(t, func(p *mproc) bool { return p.state == StatePending })
	node := pt.pickNode(t)
	var inc uint64 = 1
	if p := m.procs[pid]; p != nil {
		inc = p.inc
	}
	if rapid.IntRange(0, 9).Draw(t, "stale") == 0 {
		inc++
	}
	p := m.procs[pid]
	var want error
	switch {
	case p == nil:
		want = ErrNoSuchProcess
	case p.inc != inc || p.state != StatePending:
		want = ErrStale
	case m.nodes[node] != NodeAlive:
		want = ErrStale
	}
	pt.exec(t, &Place{PID: pid, Incarnation: inc, ExpectState: StatePending, Node: node, Now: pt.h.now}, want)
	if want == nil {
		p.state, p.node = StatePlaced, node
	}
}

// target draws a (pid, incarnation, node) that is usually right.
func (pt *propTest) target(t *rapid.T, pred func(p *mproc) bool) (uint64, uint64, string) {
	pid := pt.pickWhere(t, pred)
	inc, node := uint64(1), "n1"
	if p := pt.m.procs[pid]; p != nil {
		inc, node = p.inc, p.node
	}
	switch rapid.IntRange(0, 9).Draw(t, "wrong") {
	case 0:
		inc++
	case 1:
		node = pt.pickNode(t)
	}
	return pid, inc, node
}

func (pt *propTest) started(t *rapid.T) {
	pid, inc, node := pt.target(t, func(p *mproc) bool { return p.state == StatePlaced })
	p, want := pt.m.event(pid, inc, node)
	if want == nil && p.state != StateRunning {
		if p.state != StatePlaced {
			want = ErrStale
			if p.killed {
				want = ErrKilled
			}
		}
	}
	pt.exec(t, &Started{PID: pid, Incarnation: inc, Node: node, Now: pt.h.now}, want)
	if want == nil {
		p.state = StateRunning
	}
}

func (pt *propTest) exited(t *rapid.T) {
	pid, inc, node := pt.target(t, onNode)
	st := Status{Exited: true, Code: rapid.SampledFrom([]int{0, 1}).Draw(t, "code")}
	if rapid.Bool().Draw(t, "by-signal") {
		st = Status{Signal: rapid.SampledFrom([]int{9, 15}).Draw(t, "sig")}
	}
	p, want := pt.m.event(pid, inc, node)
	// Started (a start reported with the exit) changes no state.
	started := rapid.Bool().Draw(t, "with-start")
	pt.exec(t, &Exited{PID: pid, Incarnation: inc, Node: node, Status: st, Now: pt.h.now, Started: started}, want)
	if want == nil && p.state.Live() {
		pt.m.finish(pid, p, st, false)
	}
}

func (pt *propTest) signal(t *rapid.T) {
	m := pt.m
	sig := rapid.SampledFrom([]int{0, 15, SIGKILL}).Draw(t, "signal")
	pid := pt.pickWhere(t, func(p *mproc) bool { return p.state.Live() })
	group := rapid.Bool().Draw(t, "group")
	target := int64(pid)
	var members []uint64
	var want error
	if group {
		target = -int64(pid)
		for _, q := range m.sorted() {
			if q != 1 && m.procs[q].pgid == pid {
				members = append(members, q)
			}
		}
		if pid == 1 {
			want = ErrInvalid // -1 is not a group
		} else if len(members) == 0 {
			want = ErrNoSuchProcess
		}
	} else {
		members = []uint64{pid}
		if pid == 1 {
			want = ErrPermission
		} else if m.procs[pid] == nil {
			want = ErrNoSuchProcess
		}
	}
	r := pt.exec(t, &Signal{Target: target, Signal: sig, Now: pt.h.now}, want)
	if want != nil {
		return
	}
	var reached []Target
	for _, q := range members {
		p := m.procs[q]
		if !p.state.Live() {
			continue
		}
		reached = append(reached, Target{q, p.inc})
		if sig == SIGKILL {
			p.killed = true
			if p.state == StatePending || p.state == StatePlaced {
				m.terminate(q, p, StateExited)
			}
		}
	}
	if !slices.Equal(reached, r.Targets) {
		t.Fatalf("signal %d to %d reached %v, want %v", sig, target, r.Targets, reached)
	}
}

func (pt *propTest) reap(t *rapid.T) {
	pid := pt.pickWhere(t, func(p *mproc) bool { return !p.state.Live() })
	p := pt.m.procs[pid]
	var want error
	switch {
	case pid == 1:
		want = ErrPermission
	case p == nil:
		want = ErrNoSuchProcess
	case p.state.Live():
		want = ErrNotExited
	}
	pt.exec(t, &Reap{PID: pid}, want)
	if want == nil {
		delete(pt.m.procs, pid)
	}
}

func (pt *propTest) preempt(t *rapid.T) {
	pid, inc, _ := pt.target(t, onNode)
	p := pt.m.procs[pid]
	var want error
	switch {
	case pid == 1:
		want = ErrPermission
	case p == nil:
		want = ErrNoSuchProcess
	case p.inc != inc || !p.state.OnNode():
		want = ErrStale
	case p.killed:
		want = ErrKilled
	}
	pt.exec(t, &Preempt{PID: pid, Incarnation: inc, Now: pt.h.now}, want)
	if want != nil || p.evicting {
		return
	}
	if p.state == StatePlaced {
		pt.m.requeue(p, false)
	} else {
		p.evicting = true
	}
}

func (pt *propTest) nodeUp(t *rapid.T) {
	node := pt.pickNode(t)
	st := rapid.SampledFrom([]NodeStatus{"", NodeAlive, NodeDown}).Draw(t, "status")
	pt.exec(t, &NodeUpsert{ID: node, Status: st, Now: pt.h.now}, nil)
	switch {
	case st != "":
		pt.m.nodes[node] = st
	case pt.m.nodes[node] == "":
		pt.m.nodes[node] = NodeAlive
	}
}

func (pt *propTest) nodeLost(t *rapid.T) {
	m := pt.m
	node := pt.pickNode(t)
	st, ok := m.nodes[node]
	var want error
	if !ok {
		want = ErrNoSuchNode
	}
	r := pt.exec(t, &NodeLost{Node: node, Now: pt.h.now}, want)
	if want != nil {
		return
	}
	var moved []Target
	for _, pid := range m.sorted() {
		p := m.procs[pid]
		if p.node == node && p.state.OnNode() {
			m.finish(pid, p, Status{}, true)
			moved = append(moved, Target{pid, p.inc})
		}
	}
	if !slices.Equal(moved, r.Targets) {
		t.Fatalf("node lost moved %v, want %v", r.Targets, moved)
	}
	if st == NodeAlive || st == NodeSuspect {
		m.nodes[node] = NodeDown
	}
	for _, o := range m.objects {
		if o.node == node {
			o.lost = true
		}
	}
}

func (pt *propTest) create(t *rapid.T) {
	kind := rapid.SampledFrom([]Kind{KindFIFO, KindMQ, KindSHM}).Draw(t, "kind")
	name := rapid.SampledFrom([]string{"/a", "/b", "/c"}).Draw(t, "name")
	node := pt.pickNode(t)
	key := string(kind) + ":" + name
	var want error
	switch {
	case pt.m.nodes[node] == "":
		want = ErrNoSuchNode
	case pt.m.objects[key] != nil:
		want = ErrNameExists
	}
	pt.exec(t, &RegistryCreate{Kind: kind, Name: name, Node: node, Now: pt.h.now}, want)
	if want == nil {
		pt.m.objects[key] = &mobj{node: node}
	}
}

func (pt *propTest) unlink(t *rapid.T) {
	kind := rapid.SampledFrom([]Kind{KindFIFO, KindMQ, KindSHM}).Draw(t, "kind")
	name := rapid.SampledFrom([]string{"/a", "/b", "/c"}).Draw(t, "name")
	key := string(kind) + ":" + name
	var want error
	if pt.m.objects[key] == nil {
		want = ErrNoSuchName
	}
	pt.exec(t, &RegistryUnlink{Kind: kind, Name: name}, want)
	delete(pt.m.objects, key)
}

func (pt *propTest) register(t *rapid.T) {
	pt.h.now++
	r := pt.h.ok(&RegisterSession{Now: pt.h.now})
	pt.sessions = append(pt.sessions, r.SessionID)
}

// retry re-sends a session request and wants the first answer, with no
// change to the table.
func (pt *propTest) retry(t *rapid.T) {
	if len(pt.answers) == 0 {
		return
	}
	a := rapid.SampledFrom(pt.answers).Draw(t, "answer")
	next := pt.h.f.NextPID()
	r := pt.h.raw(a.data).(*Result)
	if r.Index != a.r.Index || r.PID != a.r.PID || Code(r.Err) != Code(a.r.Err) || !slices.Equal(r.Targets, a.r.Targets) {
		t.Fatalf("retry got %+v, want the first answer %+v", r, a.r)
	}
	if pt.h.f.NextPID() != next {
		t.Fatalf("retry moved NextPID from %d to %d", next, pt.h.f.NextPID())
	}
}

// snapshot persists the table, restores it into a fresh FSM, checks the
// hash and goes on with the restored FSM. It also restores into an FSM
// whose counter is ahead, which must not rewind.
func (pt *propTest) snapshot(t *rapid.T) {
	h := pt.h
	snap := h.f.Snapshot()
	want := h.f.Hash()
	// Apply more before persisting: the snapshot must not see it.
	h.now++
	h.ok(&Tick{Now: h.now})
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	f, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got := f.Hash(); got != want {
		t.Fatalf("restored hash %x, want %x", got, want)
	}
	ahead, _ := New(DefaultConfig())
	ahead.Apply(1, Encode(&RaisePIDFloor{Floor: pt.m.nextPID + 10}))
	if err := ahead.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got := ahead.NextPID(); got != pt.m.nextPID+10 {
		t.Fatalf("restore rewound the counter to %d, want %d", got, pt.m.nextPID+10)
	}
	// Replace the live FSM by the restored one, brought up to date.
	f.Apply(h.idx, h.log[len(h.log)-1])
	if f.Hash() != h.f.Hash() || f.AppliedIndex() != h.idx {
		t.Fatal("restored FSM diverged after replaying the last entry")
	}
	h.f = f
	pt.restores++
}

// check compares the FSM with the model.
func (pt *propTest) check(t *rapid.T) {
	v := pt.h.f.View()
	m := pt.m
	if v.NextPID() != m.nextPID {
		t.Fatalf("NextPID %d, want %d", v.NextPID(), m.nextPID)
	}
	if v.Len() != len(m.procs) {
		t.Fatalf("%d processes, model has %d", v.Len(), len(m.procs))
	}
	var pending []uint64
	for pid, mp := range m.procs {
		p, ok := v.Get(pid)
		if !ok {
			t.Fatalf("pid %d missing", pid)
		}
		if p.State != mp.state || p.Incarnation != mp.inc || p.Parent != mp.parent || p.Pgid != mp.pgid ||
			p.Killed != mp.killed || p.Evicting != mp.evicting || p.Restarts != mp.restarts ||
			(p.State != StateExited && p.State != StateLost && p.Node != mp.node) {
			t.Fatalf("pid %d: got %s inc %d parent %d pgid %d node %q killed %v evicting %v restarts %d; model %+v",
				pid, p.State, p.Incarnation, p.Parent, p.Pgid, p.Node, p.Killed, p.Evicting, p.Restarts, *mp)
		}
		if mp.state == StatePending {
			pending = append(pending, pid)
		}
		if sigs := v.SignalsFor(pid); !mp.state.Live() && len(sigs) > 0 {
			t.Fatalf("zombie %d has pending signals %v", pid, sigs)
		}
	}
	// The live-on-node index agrees with the model.
	onNode := map[string][]uint64{}
	for pid, mp := range m.procs {
		if mp.state.OnNode() && mp.node != "" {
			onNode[mp.node] = append(onNode[mp.node], pid)
		}
	}
	live := 0
	for _, l := range onNode {
		live += len(l)
	}
	if got := v.s.onNode.Len(); got != live {
		t.Fatalf("the live-on-node index holds %d entries, model %d", got, live)
	}
	for _, n := range v.Nodes() {
		want := onNode[n.ID]
		slices.Sort(want)
		if got := pids(v.List(Filter{Node: n.ID, OnNodeOnly: true})); !slices.Equal(got, want) {
			t.Fatalf("live on %s: %v, model %v", n.ID, got, want)
		}
		// The usage index counts the same processes and their memory.
		var mem int64
		for _, pid := range want {
			q, _ := v.Get(pid)
			mem += q.Spec.MemoryDemand()
		}
		if got, want := v.NodeUsage(n.ID), (Usage{Procs: len(want), Memory: mem}); got != want {
			t.Fatalf("usage of %s: %+v, want %+v", n.ID, got, want)
		}
	}
	got := pids(v.Pending())
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	slices.Sort(pending)
	if !slices.Equal(got, pending) {
		t.Fatalf("pending %v, model %v", got, pending)
	}
	objs := v.Objects("")
	if len(objs) != len(m.objects) {
		t.Fatalf("%d objects, model has %d", len(objs), len(m.objects))
	}
	for _, o := range objs {
		mo := m.objects[string(o.Kind)+":"+o.Name]
		if mo == nil || mo.node != o.Node || mo.lost != o.Lost {
			t.Fatalf("object %s %s on %s lost=%v, model %+v", o.Kind, o.Name, o.Node, o.Lost, mo)
		}
	}
	for id, st := range m.nodes {
		if n, ok := v.Node(id); !ok || n.Status != st {
			t.Fatalf("node %s: %+v, model %s", id, n, st)
		}
	}
	pt.checkChangeFeed(t, v)
}

// checkChangeFeed checks the change indexes: the modified feed in index
// order, holding every record changed after the index it starts from; one
// entry per signal request; and since the last check, WalkModified visits
// exactly the processes whose ModifyIndex moved past it (when it knows
// them all), and every process whose state, node, incarnation or kill flag
// changed has a new ModifyIndex; WalkSignalsSince visits exactly the
// requests made pending since.
func (pt *propTest) checkChangeFeed(t *rapid.T, v *View) {
	fed := map[pairKey]bool{}
	f := &v.s.modified
	for i := f.first; i < f.n; i++ {
		k := f.at(i)
		if i > f.first && k.a < f.at(i-1).a || k.a < f.from || fed[k] {
			t.Fatalf("modified feed pair %d %+v out of order or repeated (from %d)", i, k, f.from)
		}
		fed[k] = true
	}
	v.Walk(Filter{}, func(p *Process) bool {
		if p.ModifyIndex > f.from && !fed[pairKey{p.ModifyIndex, p.PID}] {
			t.Fatalf("pid %d modified at %d is not in the modified feed", p.PID, p.ModifyIndex)
		}
		return true
	})
	if got, want := v.s.sigIndexes.Len(), v.s.signals.Len(); got != want {
		t.Fatalf("the signal index holds %d entries for %d requests", got, want)
	}
	changed := map[uint64]bool{}
	last := uint64(0)
	known := v.WalkModified(pt.seenIndex, func(p *Process) bool {
		if p.ModifyIndex <= pt.seenIndex || p.ModifyIndex < last || changed[p.PID] {
			t.Fatalf("WalkModified(%d) visited pid %d at index %d after index %d", pt.seenIndex, p.PID, p.ModifyIndex, last)
		}
		last = p.ModifyIndex
		changed[p.PID] = true
		return true
	})
	now := map[uint64]Process{}
	v.Walk(Filter{}, func(p *Process) bool {
		now[p.PID] = *p
		if known && (p.ModifyIndex > pt.seenIndex) != changed[p.PID] {
			t.Fatalf("pid %d modified at %d: visited %v by WalkModified(%d)", p.PID, p.ModifyIndex, changed[p.PID], pt.seenIndex)
		}
		if old, ok := pt.seen[p.PID]; ok && p.ModifyIndex <= pt.seenIndex &&
			(old.State != p.State || old.Node != p.Node || old.Incarnation != p.Incarnation || old.Killed != p.Killed) {
			t.Fatalf("pid %d changed from %+v to %+v without a new ModifyIndex", p.PID, old, *p)
		}
		return true
	})
	sigs := map[sigKeyT]bool{}
	v.s.signals.Ascend(func(it sigItem) bool {
		sigs[sigKeyT{it.pid, it.id}] = true
		return true
	})
	added := map[sigKeyT]bool{}
	v.WalkSignalsSince(pt.seenIndex, func(r *SignalRequest) bool {
		if r.Index <= pt.seenIndex {
			t.Fatalf("WalkSignalsSince(%d) visited a request made pending at %d", pt.seenIndex, r.Index)
		}
		added[sigKeyT{r.PID, r.ID}] = true
		return true
	})
	for k := range sigs {
		if !pt.seenSigs[k] && !added[k] && pt.seenSigs != nil {
			t.Fatalf("signal request %+v pending since the last check, not visited by WalkSignalsSince(%d)", k, pt.seenIndex)
		}
	}
	// The reaps since the last check: exactly the processes gone since,
	// unless the FSM was restored from a snapshot taken before then.
	reaped := map[uint64]bool{}
	complete := v.WalkReaped(pt.seenIndex, func(pid uint64) bool {
		if reaped[pid] {
			t.Fatalf("WalkReaped(%d) visited pid %d twice", pt.seenIndex, pid)
		}
		reaped[pid] = true
		return true
	})
	if complete {
		for pid := range pt.seen {
			if _, ok := now[pid]; !ok && !reaped[pid] {
				t.Fatalf("pid %d was reaped since index %d, not visited by WalkReaped", pid, pt.seenIndex)
			}
		}
		for pid := range reaped {
			if _, ok := now[pid]; ok {
				t.Fatalf("WalkReaped(%d) visited pid %d, which is in the table", pt.seenIndex, pid)
			}
			if _, ok := pt.seen[pid]; !ok && pt.seen != nil {
				t.Fatalf("WalkReaped(%d) visited pid %d, which the last check did not see", pt.seenIndex, pid)
			}
		}
	} else if v.s.reapsFrom <= pt.seenIndex {
		t.Fatalf("WalkReaped(%d) incomplete, though the feed starts at %d", pt.seenIndex, v.s.reapsFrom)
	}
	pt.seen, pt.seenSigs, pt.seenIndex = now, sigs, v.Index()
}

func newPropTest(t *rapid.T) *propTest {
	pt := &propTest{h: newHarness(t), m: newModel(), nextRID: map[uint64]uint64{}}
	for _, n := range []string{"n1", "n2"} {
		pt.h.ok(&NodeUpsert{ID: n, Now: pt.h.now})
		pt.m.nodes[n] = NodeAlive
	}
	return pt
}

// run draws steps actions, weighted towards the lifecycle, and checks the
// FSM against the model after each.
func (pt *propTest) run(t *rapid.T, steps int) {
	actions := []struct {
		weight int
		fn     func(*rapid.T)
	}{
		{6, pt.spawn}, {5, pt.place}, {4, pt.started}, {5, pt.exited}, {3, pt.signal},
		{2, pt.reap}, {1, pt.preempt}, {1, pt.nodeUp}, {1, pt.nodeLost}, {2, pt.create},
		{1, pt.unlink}, {1, pt.register}, {2, pt.retry}, {1, pt.snapshot},
	}
	var deck []int
	for i, a := range actions {
		for range a.weight {
			deck = append(deck, i)
		}
	}
	for range steps {
		// Time moves before the action builds its command, so that the
		// command and its session envelope carry the same leader time.
		pt.h.now += rapid.Int64Range(1, int64(1e9)).Draw(t, "dt")
		actions[rapid.SampledFrom(deck).Draw(t, "action")].fn(t)
		pt.check(t)
	}
}

func TestPropertyModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pt := newPropTest(t)
		pt.run(t, rapid.IntRange(1, 300).Draw(t, "steps"))
		// Replaying the same log on a fresh FSM gives the same state.
		f, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range pt.h.log {
			f.Apply(uint64(i+1), e)
		}
		if f.Hash() != pt.h.f.Hash() {
			t.Fatal("replaying the log gave a different hash")
		}
		// And a snapshot of the end state restores to the same hash.
		var buf bytes.Buffer
		if err := pt.h.f.Snapshot().Persist(&buf); err != nil {
			t.Fatal(err)
		}
		g, _ := New(DefaultConfig())
		if err := g.Restore(&buf); err != nil {
			t.Fatal(err)
		}
		if g.Hash() != f.Hash() || g.AppliedIndex() != pt.h.idx {
			t.Fatal(fmt.Sprintf("final snapshot: hash or index differ (index %d, want %d)", g.AppliedIndex(), pt.h.idx))
		}
	})
}
