package fsm

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// FSM is the replicated process table. Apply, Snapshot and Restore are
// called by one goroutine (raft's FSM loop); the read methods may be called
// from any goroutine at the same time.
type FSM struct {
	cfg Config
	// reads is Config.Reads, or Known when that is unset; readsAll says
	// it covers Known, so that Apply need not check versions.
	reads    Versions
	readsAll bool

	mu sync.Mutex // guards st and view
	// st is the working state. Apply and Restore change it under mu.
	st *state
	// view is an immutable clone of st, made on demand and dropped by the
	// next change, so that readers between two applies share one clone.
	view *View

	// applied is the index of the last entry whose effects are visible to
	// readers: it is stored after Apply's changes, under mu.
	applied atomic.Uint64
}

// New returns an FSM whose table holds only init (PID 1).
func New(cfg Config) (*FSM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st := newState()
	initp := initProcess()
	st.procs.ReplaceOrInsert(pidItem{pid: InitPID, p: initp})
	st.indexModified(nil, initp)
	st.groups.ReplaceOrInsert(pairKey{InitPID, InitPID})
	reads := cfg.Reads
	if reads.Commands == nil {
		reads = Known()
	}
	return &FSM{cfg: cfg, reads: reads.Clone(), readsAll: reads.Covers(Known()), st: st}, nil
}

// Apply applies one log entry at index and returns a *Result, or a
// []*Result for a Batch. Domain failures are in Result.Err. An entry that
// cannot be decoded, or has an unknown type without the ignore-if-unknown
// bit, means a corrupt log: Apply panics and changes nothing.
func (f *FSM) Apply(index uint64, data []byte) any {
	out, err := f.ApplyEntry(index, data)
	if err != nil {
		panic(err.Error())
	}
	return out
}

// ApplyEntry is Apply that returns an error instead of panicking when the
// entry cannot be applied: it does not decode, its checksum does not
// match (ErrChecksum), its type is unknown, or it needs a type or version
// beyond Config.Reads (ErrVersion). The error names the index; nothing
// was changed, and the log must not be applied past it.
func (f *FSM) ApplyEntry(index uint64, data []byte) (any, error) {
	_, out, err := f.ApplyDecoded(index, data, nil)
	return out, err
}

// ApplyDecoded is ApplyEntry that also returns the command it decoded
// (nil on an error), so that a caller can look at what was applied
// without decoding the entry again, and, when changes is not nil, appends
// to it what the entry changed (see ApplyEntryChanges).
func (f *FSM) ApplyDecoded(index uint64, data []byte, changes *[]Change) (Command, any, error) {
	cmd, err := Decode(data)
	if err == nil && !f.readsAll {
		err = f.reads.admitsEntry(data, cmd)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("fsm: corrupt log entry at index %d: %w", index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.view = nil
	a := applier{cfg: &f.cfg, s: f.st, index: index, changes: changes}
	var out any
	if b, ok := cmd.(*Batch); ok {
		rs := make([]*Result, len(b.Commands))
		for i, c := range b.Commands {
			rs[i] = a.apply(c)
		}
		out = rs
	} else {
		out = a.apply(cmd)
	}
	f.st.index = index
	f.applied.Store(index)
	return cmd, out, nil
}

// AppliedIndex returns the index of the last entry applied (or restored).
// Once it is at least an index, every read shows that entry's effects; this
// is the index Guarantee 6 waits for, not raft's.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// View returns an immutable picture of the table as of AppliedIndex. It is
// O(1) and stays valid while Apply goes on.
func (f *FSM) View() *View {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.view == nil {
		f.view = &View{s: f.st.clone()}
	}
	return f.view
}

// Hash returns the SHA-256 of the table's canonical encoding: equal on every
// replica with the same state, whatever the order of insertion. It does not
// cover the applied index (see AppliedIndex), which a replica that restored
// a snapshot reaches by another path. It walks the whole table.
func (f *FSM) Hash() [32]byte { return f.View().Hash() }

// Get returns the process with the PID.
func (f *FSM) Get(pid uint64) (Process, bool) { return f.View().Get(pid) }

// List returns the processes that filter selects, in PID order.
func (f *FSM) List(filter Filter) []Process { return f.View().List(filter) }

// Pending returns the processes waiting for placement, in placement order.
func (f *FSM) Pending() []Process { return f.View().Pending() }

// Nodes returns every node, by ID.
func (f *FSM) Nodes() []Node { return f.View().Nodes() }

// Node returns the node with the ID.
func (f *FSM) Node(id string) (Node, bool) { return f.View().Node(id) }

// Objects returns the registry entries of one kind, or of all if kind is "".
func (f *FSM) Objects(kind Kind) []Object { return f.View().Objects(kind) }

// Object returns the registry entry for a name.
func (f *FSM) Object(kind Kind, name string) (Object, bool) { return f.View().Object(kind, name) }

// SchedulerConfig returns the cluster-wide scheduler configuration.
func (f *FSM) SchedulerConfig() SchedulerConfig { return f.View().SchedulerConfig() }

// PendingSignals returns the signal requests the node has to deliver.
func (f *FSM) PendingSignals(node string) []SignalRequest { return f.View().PendingSignals(node) }

// Sessions returns the number of live client sessions.
func (f *FSM) Sessions() int { return f.View().Sessions() }

// NextPID returns the PID the next spawn will get.
func (f *FSM) NextPID() uint64 { return f.View().NextPID() }

// applier applies commands to the working state for one log entry.
type applier struct {
	cfg        *Config
	s          *state
	index      uint64
	sessionSeq uint64 // sessions registered so far in this entry
	// changes, if not nil, collects what the entry changes (changes.go).
	changes *[]Change
}

// advance moves the clock to the leader time of a command. The clock never
// goes back, even when a new leader's clock is behind the old one's.
func (a *applier) advance(now int64) {
	if now > a.s.clock {
		a.s.clock = now
	}
}

func (a *applier) apply(c Command) *Result {
	var r *Result
	switch c := c.(type) {
	case *Unknown:
		r = &Result{Ignored: true}
	case *SessionRequest:
		return a.sessionRequest(c)
	case *RegisterSession:
		r = a.registerSession(c)
	case *Tick:
		a.advance(c.Now)
		a.sweepSessions()
		a.sweepOutcomes()
		r = &Result{}
	case *Spawn:
		r = a.spawn(c)
	case *Place:
		r = a.place(c)
	case *Started:
		r = a.started(c)
	case *Stopped:
		r = a.stopped(c)
	case *Continued:
		r = a.continued(c)
	case *Exited:
		r = a.exited(c)
	case *Reap:
		r = a.reap(c)
	case *Lost:
		r = a.lost(c)
	case *NodeLost:
		r = a.nodeLost(c)
	case *Preempt:
		r = a.preempt(c)
	case *Signal:
		r = a.signal(c)
	case *SignalDelivered:
		r = a.signalDelivered(c)
	case *NodeUpsert:
		r = a.nodeUpsert(c)
	case *SetNodeStatus:
		r = a.setNodeStatus(c)
	case *RegistryCreate:
		r = a.registryCreate(c)
	case *RegistryUnlink:
		r = a.registryUnlink(c)
	case *RegistryLost:
		r = a.registryLost(c)
	case *SetSchedulerConfig:
		r = a.setSchedulerConfig(c)
	case *ACLBootstrap:
		r = a.aclBootstrap(c)
	case *ACLTokenCreate:
		r = a.aclTokenCreate(c)
	case *ACLTokenDelete:
		r = a.aclTokenDelete(c)
	case *ProgramAdd:
		r = a.programAdd(c)
	case *ProgramRemove:
		r = a.programRemove(c)
	case *ProgramHolder:
		r = a.programHolder(c)
	case *SetGroup:
		r = a.setGroup(c)
	case *RaisePIDFloor:
		if c.Floor > a.s.nextPID {
			a.s.nextPID = c.Floor
		}
		r = &Result{}
	default:
		// Decode never returns anything else; a Batch inside a batch is
		// rejected there.
		panic(fmt.Sprintf("fsm: cannot apply %T at index %d", c, a.index))
	}
	if r.Index == 0 {
		r.Index = a.index
	}
	return r
}

func fail(err error) *Result { return &Result{Err: err} }

func failf(sentinel error, format string, args ...any) *Result {
	return &Result{Err: errorf(sentinel, fmt.Sprintf(format, args...))}
}

// addSat adds a non-negative delay to a time without overflowing.
func addSat(t, d int64) int64 {
	if d > 0 && t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}
