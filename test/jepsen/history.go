//go:build linux

package jepsen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Clock reads CLOCK_MONOTONIC and reports nanoseconds since the clock was
// made. Every time of a history comes from one Clock. Heartbeats read the
// same kernel clock from other processes, so FromMono turns their readings
// into the history's time.
type Clock struct {
	base int64 // CLOCK_MONOTONIC at creation, ns; read-only
}

// NewClock returns a clock whose zero is now.
func NewClock() *Clock { return &Clock{base: MonoNow()} }

// Now returns the nanoseconds since the clock was made.
func (c *Clock) Now() int64 { return MonoNow() - c.base }

// FromMono turns an absolute CLOCK_MONOTONIC reading into the clock's time.
func (c *Clock) FromMono(mono int64) int64 { return mono - c.base }

// Base returns the CLOCK_MONOTONIC reading of the clock's zero.
func (c *Clock) Base() int64 { return c.base }

// MonoNow reads CLOCK_MONOTONIC, in nanoseconds.
func MonoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("jepsen: CLOCK_MONOTONIC unreadable: " + err.Error()) // a broken invariant of the host
	}
	return ts.Nano()
}

// Unknown is the Return time of an operation whose outcome is unknown: it
// may take effect at any time after its call, as in etcd's robustness tests.
const Unknown = math.MaxInt64

// OpKind names an operation of the workload.
type OpKind string

// Operation kinds.
const (
	OpSpawn  OpKind = "spawn"  // POST /v1/spawn
	OpKill   OpKind = "kill"   // POST /v1/kill, one target
	OpGet    OpKind = "get"    // GET /v1/procs/{pid}
	OpWait   OpKind = "wait"   // GET /v1/procs/{pid}/wait
	OpList   OpKind = "list"   // GET /v1/procs?all
	OpCreate OpKind = "create" // create a FIFO or queue name
	OpUnlink OpKind = "unlink" // unlink a FIFO or queue name
)

// Outcome is how an operation ended.
type Outcome string

// Outcomes. A definite failure the system answered (no_such_process,
// name_exists, …) is OutcomeFail with Code set; so is a refusal before
// dispatch (not_leader, a refused connection), which tells nothing about the
// state and is left out of the models.
const (
	OutcomeOK      Outcome = "ok"
	OutcomeFail    Outcome = "fail"
	OutcomeUnknown Outcome = "unknown"
)

// Op is one operation of a history: its input, its output, and its call and
// return times on the history's Clock. An operation whose outcome is unknown
// has Return == Unknown.
type Op struct {
	ID     int    `json:"id"`     // its place in the history
	Client int    `json:"client"` // the worker that issued it
	Stream int    `json:"stream"` // the client stream (session); a new one after every unknown outcome
	Node   string `json:"node"`   // the node it was sent to first
	Kind   OpKind `json:"kind"`   // what it did
	Call   int64  `json:"call"`   // when it was called
	Return int64  `json:"return"` // when it returned, or Unknown

	Outcome Outcome `json:"outcome"`         // how it ended
	Code    string  `json:"code,omitempty"`  // the API error code of a failure
	Error   string  `json:"error,omitempty"` // the error text of a failure or unknown outcome

	// Input.
	PID      uint64   `json:"pid,omitempty"`      // kill, get, wait: the target
	Signal   int      `json:"signal,omitempty"`   // kill
	Command  string   `json:"command,omitempty"`  // spawn
	Args     []string `json:"args,omitempty"`     // spawn
	Restart  bool     `json:"restart,omitempty"`  // spawn: with a restart policy
	Token    string   `json:"token,omitempty"`    // spawn: the owner tag naming this operation
	Registry string   `json:"registry,omitempty"` // create, unlink: fifo or mq
	Name     string   `json:"name,omitempty"`     // create, unlink

	// Output.
	RetPID      uint64   `json:"ret_pid,omitempty"`     // spawn: the PID (also set for an unknown spawn found by its token)
	Resolved    bool     `json:"resolved,omitempty"`    // an unknown spawn whose PID the final read revealed
	State       string   `json:"state,omitempty"`       // get, wait: the table state
	Incarnation uint64   `json:"incarnation,omitempty"` // get, wait; kill: the incarnation reached
	Reached     bool     `json:"reached,omitempty"`     // kill: the answer named the incarnation reached
	Status      string   `json:"status,omitempty"`      // get, wait: the final status of an exited process
	PIDs        []uint64 `json:"pids,omitempty"`        // list
	Attempts    int      `json:"attempts,omitempty"`    // how many times it was sent
}

// Informative reports whether the operation's answer says something about
// the state: a success, an unknown outcome (which may have applied), or a
// domain failure the state machine answered.
func (o *Op) Informative() bool {
	switch o.Outcome {
	case OutcomeOK, OutcomeUnknown:
		return true
	}
	return domainCode(o.Code)
}

// domainCode reports whether an error code is an answer of the table rather
// than a refusal or a transport failure.
func domainCode(code string) bool {
	switch code {
	case "no_such_process", "no_such_name", "name_exists", "killed", "conflict", "not_exited", "stale",
		"EEXIST", "ENOENT": // the IPC routes answer with errno names
		return true
	}
	return false
}

// Beat is one heartbeat line: a running incarnation of a PID completed a
// system call at At (history time; Mono is the raw CLOCK_MONOTONIC reading).
type Beat struct {
	PID         uint64 `json:"pid"`  // the process
	Incarnation uint64 `json:"inc"`  // its incarnation
	Node        string `json:"node"` // the node that ran it
	Mono        int64  `json:"mono"` // CLOCK_MONOTONIC, ns
	At          int64  `json:"at"`   // the same instant in history time
}

// Delivery is one signal a heartbeat process reported catching.
type Delivery struct {
	PID         uint64 `json:"pid"`  // the process
	Incarnation uint64 `json:"inc"`  // its incarnation
	Node        string `json:"node"` // the node that ran it
	Signal      int    `json:"sig"`  // the signal caught
	Mono        int64  `json:"mono"` // CLOCK_MONOTONIC, ns
	At          int64  `json:"at"`   // the same instant in history time
}

// Fault is one injected fault, from the end of its injection to the end of
// its healing (history time). End is Unknown for a fault never healed.
type Fault struct {
	Kind    FaultKind `json:"kind"`              // what fault
	Targets []string  `json:"targets,omitempty"` // the nodes it hit
	Detail  string    `json:"detail,omitempty"`  // the cut, the netem settings, …
	Start   int64     `json:"start"`             // injected (history time)
	End     int64     `json:"end"`               // healed (history time)
	Error   string    `json:"error,omitempty"`   // why it failed to inject or heal, if it did
}

// History records operations, heartbeats, deliveries and faults. It is safe
// for concurrent use.
type History struct {
	clock *Clock // read-only

	mu         sync.Mutex
	ops        []Op                  // guarded by mu
	beats      []Beat                // guarded by mu
	beatSeen   map[Beat]struct{}     // guarded by mu; to drop lines read twice
	deliveries []Delivery            // guarded by mu
	delivSeen  map[Delivery]struct{} // guarded by mu
	faults     []Fault               // guarded by mu
	nextStream int                   // guarded by mu
}

// NewHistory returns an empty history on clock.
func NewHistory(clock *Clock) *History {
	return &History{
		clock:     clock,
		beatSeen:  make(map[Beat]struct{}),
		delivSeen: make(map[Delivery]struct{}),
	}
}

// Clock returns the history's clock.
func (h *History) Clock() *Clock { return h.clock }

// NewStream returns a fresh client stream id.
func (h *History) NewStream() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.nextStream
	h.nextStream++
	return s
}

// Add records a completed operation and returns its id.
func (h *History) Add(op Op) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	op.ID = len(h.ops)
	h.ops = append(h.ops, op)
	return op.ID
}

// AddBeat records a heartbeat line; a line read twice is recorded once.
func (h *History) AddBeat(b Beat) {
	b.At = h.clock.FromMono(b.Mono)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.beatSeen[b]; dup {
		return
	}
	h.beatSeen[b] = struct{}{}
	h.beats = append(h.beats, b)
}

// AddDelivery records a signal delivery line; a line read twice is
// recorded once.
func (h *History) AddDelivery(d Delivery) {
	d.At = h.clock.FromMono(d.Mono)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.delivSeen[d]; dup {
		return
	}
	h.delivSeen[d] = struct{}{}
	h.deliveries = append(h.deliveries, d)
}

// AddFault records a fault.
func (h *History) AddFault(f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, f)
}

// Ops returns a copy of the operations, ordered by id.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// Beats returns a copy of the heartbeats.
func (h *History) Beats() []Beat {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Beat(nil), h.beats...)
}

// Deliveries returns a copy of the signal deliveries.
func (h *History) Deliveries() []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Delivery(nil), h.deliveries...)
}

// Faults returns a copy of the faults.
func (h *History) Faults() []Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Fault(nil), h.faults...)
}

// ResolveSpawns gives every unknown spawn whose owner tag the final read
// shows the PID it got (it did apply), and returns the tags found on more
// than one PID: a spawn applied twice, which breaks Guarantee 9. owners maps
// each PID of the final read to its owner.
func ResolveSpawns(ops []Op, owners map[uint64]string) (dups map[string][]uint64) {
	byToken := make(map[string][]uint64)
	for pid, owner := range owners {
		if owner != "" {
			byToken[owner] = append(byToken[owner], pid)
		}
	}
	dups = make(map[string][]uint64)
	for i := range ops {
		op := &ops[i]
		if op.Kind != OpSpawn || op.Token == "" {
			continue
		}
		pids := byToken[op.Token]
		sort.Slice(pids, func(a, b int) bool { return pids[a] < pids[b] })
		if len(pids) > 1 {
			dups[op.Token] = pids
		}
		if op.Outcome == OutcomeUnknown && op.RetPID == 0 && len(pids) > 0 {
			op.RetPID = pids[0]
			op.Resolved = true
		}
	}
	return dups
}

// ParseLogLine parses one line of a heartbeat process's output. It returns
// a Beat or a Delivery (Mono set, At not) and ok, or ok false for a line of
// any other shape.
func ParseLogLine(line string) (b *Beat, d *Delivery, ok bool) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return nil, nil, false
	}
	kv := make(map[string]string, len(f))
	for _, t := range f[1:] {
		if k, v, found := strings.Cut(t, "="); found {
			kv[k] = v
		}
	}
	pid, err1 := strconv.ParseUint(kv["pid"], 10, 64)
	inc, err2 := strconv.ParseUint(kv["inc"], 10, 64)
	mono, err3 := strconv.ParseInt(kv["mono"], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || pid == 0 {
		return nil, nil, false
	}
	switch f[0] {
	case "hb", "heartbeat":
		return &Beat{PID: pid, Incarnation: inc, Node: kv["node"], Mono: mono}, nil, true
	case "sig", "signal":
		sig, err := strconv.Atoi(kv["sig"])
		if err != nil || sig <= 0 {
			return nil, nil, false
		}
		return nil, &Delivery{PID: pid, Incarnation: inc, Node: kv["node"], Signal: sig, Mono: mono}, true
	}
	return nil, nil, false
}

// WriteJSONLines writes one JSON document per element of v (a slice) to
// path.
func WriteJSONLines[T any](path string, v []T) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range v {
		if err := enc.Encode(&v[i]); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return w.Flush()
}

// ReadJSONLines reads what WriteJSONLines wrote.
func ReadJSONLines[T any](r io.Reader) ([]T, error) {
	var out []T
	dec := json.NewDecoder(r)
	for {
		var v T
		if err := dec.Decode(&v); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}
