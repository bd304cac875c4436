package api

import (
	"net/http"
	"strconv"
	"time"
)

// MaxBodyBytes caps every request body except snapshot restores and stdin.
const MaxBodyBytes = 1 << 20

// Headers.
const (
	HeaderSession = "X-Vproc-Session"   // the client's session id
	HeaderRequest = "X-Vproc-Request"   // the request id within the session, increasing
	HeaderAcked   = "X-Vproc-Acked"     // every request id below this has been answered
	HeaderIndex   = "X-Vproc-Index"     // the raft index the answer reflects
	HeaderStale   = "X-Vproc-Stale"     // "true" on an answer from a possibly stale local read
	HeaderLeader  = "X-Vproc-Leader"    // the HTTP address of the leader, when known
	HeaderNode    = "X-Vproc-Node"      // the name of the node that answered
	HeaderFwd     = "X-Vproc-Forwarded" // set on a request forwarded to the leader, to stop loops
	HeaderOffset  = "X-Vproc-Offset"    // on a log stream: the log offset of its first byte
	HeaderTarget  = "X-Vproc-Target"    // on logs or stdin forwarded to the node that runs the process: that node's name
)

// SetSession sets the headers of a write made in a client session: the
// session, the request id (none when 0: a merged request's items carry
// theirs) and the id below which every request has been answered.
func SetSession(h http.Header, session, request, acked uint64) {
	h.Set(HeaderSession, strconv.FormatUint(session, 10))
	if request != 0 {
		h.Set(HeaderRequest, strconv.FormatUint(request, 10))
	}
	h.Set(HeaderAcked, strconv.FormatUint(acked, 10))
}

// MaxSnapshotBytes caps the body of PUT /v1/snapshot.
const MaxSnapshotBytes = 1 << 30

// Session is the answer to POST /v1/session.
type Session struct {
	ID uint64 `json:"id"`
}

// SpawnRequest asks for a new process. Limits, Restart, Constraints and Uses
// use the grammar of a spawn (package spec, and ParseSpec):
// "cpu=2s:5s,mem=64M", "on-failure[:max[:backoff]]", "label=value",
// "mq:/q".
type SpawnRequest struct {
	Command     string   `json:"command"`
	Args        []string `json:"args,omitempty"`
	Env         []string `json:"env,omitempty"`
	Cwd         string   `json:"cwd,omitempty"`
	Priority    int      `json:"priority,omitempty"`
	Limits      []string `json:"limits,omitempty"`
	Restart     string   `json:"restart,omitempty"`
	Node        string   `json:"node,omitempty"`
	Constraints []string `json:"constraints,omitempty"`
	Uses        []string `json:"uses,omitempty"`
	Owner       string   `json:"owner,omitempty"`
	// Stdin asks for standard input to be attached (POST .../stdin);
	// without it the process reads EOF.
	Stdin bool `json:"stdin,omitempty"`
	// Pledge is the process's pledge(2) promises, such as "stdio rpath"
	// (empty: all); Unveil its unveil(2) list, each "PATH:PERMS" with
	// PERMS from rwxc (empty: everything visible).
	Pledge string   `json:"pledge,omitempty"`
	Unveil []string `json:"unveil,omitempty"`
}

// SpawnResponse is the answer to a spawn: the PID once the spawn (and its
// placement) has committed.
type SpawnResponse struct {
	PID   uint64 `json:"pid"`
	Index uint64 `json:"index"`
}

// MaxSpawnBatch caps the items of one POST /v1/spawn/batch.
const MaxSpawnBatch = 1024

// Caps on what one spawn or kill may store or cost, each refused with a 4xx
// naming it (what Linux's execve(2) and NAME_MAX allow, at most).
const (
	// MaxArgBytes caps one argument or environment entry (Linux's
	// MAX_ARG_STRLEN).
	MaxArgBytes = 128 << 10
	// MaxArgvEnvBytes caps a spawn's arguments and environment together,
	// each string counted with its terminating NUL as execve(2) does.
	MaxArgvEnvBytes = 512 << 10
	// MaxNameBytes caps a name: the command, owner, node, working
	// directory, constraint labels and values, and the IPC names a spawn
	// uses.
	MaxNameBytes = 255
	// MaxKillTargets caps the targets of one POST /v1/kill.
	MaxKillTargets = 1000
)

// SpawnBatchRequest asks for many processes in one request: POST
// /v1/spawn/batch. It is how a client merges concurrent spawns. Each item
// is a spawn of its own: with HeaderSession set, each carries its own
// request id of that session (distinct, non-zero; HeaderAcked applies to
// all and HeaderRequest must not be set), so that a retry of the batch,
// or of any item in a later batch, returns that item's first answer
// (Guarantee 9); without a session every Request is 0.
type SpawnBatchRequest struct {
	Items []SpawnBatchItem `json:"items"`
}

// SpawnBatchItem is one spawn of a SpawnBatchRequest.
type SpawnBatchItem struct {
	Request uint64       `json:"request,omitempty"`
	Spawn   SpawnRequest `json:"spawn"`
}

// SpawnBatchResponse is the answer to a SpawnBatchRequest: one result per
// item, in order, and the highest index among them. A malformed request
// as a whole (bad JSON, too many items, bad session headers) gets an
// ordinary error answer instead.
type SpawnBatchResponse struct {
	Results []SpawnBatchResult `json:"results"`
	Index   uint64             `json:"index"`
}

// SpawnBatchResult is the outcome of one item: its PID and index, or
// Error with the HTTP status (Status) the same spawn would have got alone.
// An item that failed with CodeNotLeader or CodeNoLeader was not
// dispatched; one with CodeUnknownOutcome may have committed and is
// retried with the same request id.
type SpawnBatchResult struct {
	PID    uint64 `json:"pid,omitempty"`
	Index  uint64 `json:"index,omitempty"`
	Status int    `json:"status,omitempty"`
	Error  *Error `json:"error,omitempty"`
}

// KillRequest signals targets: a PID, or -PGID for a whole group.
type KillRequest struct {
	Targets []int64 `json:"targets"`
	Signal  int     `json:"signal"`
}

// KillResponse lists the (pid, incarnation) pairs each signal request was
// made pending in. It returns once the request has committed. When some
// targets fail and others are reached, the answer is 200 and Errors lists
// the failures; when every target fails, the answer is the first failure.
type KillResponse struct {
	Reached []Target      `json:"reached"`
	Index   uint64        `json:"index"`
	Errors  []TargetError `json:"errors,omitempty"`
}

// TargetError is a kill target that could not be signalled.
type TargetError struct {
	Target  int64  `json:"target"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Target is one process a signal reached.
type Target struct {
	PID         uint64 `json:"pid"`
	Incarnation uint64 `json:"incarnation"`
}

// Process is a process of the table as clients see it. ExitCode and Signal
// are null unless they apply; MicroState and CPUMillis come from the node
// that runs the process when it can be reached.
type Process struct {
	PID        uint64   `json:"pid"`
	PPID       uint64   `json:"ppid"`
	Pgid       uint64   `json:"pgid"`
	Sid        uint64   `json:"sid"`
	State      string   `json:"state"`
	MicroState string   `json:"micro_state"`
	Node       string   `json:"node"`
	Command    string   `json:"command"`
	Args       []string `json:"args"`
	Priority   int      `json:"priority"`
	ExitCode   *int     `json:"exit_code"`
	Signal     *int     `json:"signal"`
	Core       bool     `json:"core,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	CPUMillis  int64    `json:"cpu_ms"`
	Owner      string   `json:"owner"`
	// Env is shown, with ACLs on, to the owner and to management tokens
	// only; with ACLs off never.
	Env         []string  `json:"env,omitempty"`
	Incarnation uint64    `json:"incarnation"`
	Restarts    int       `json:"restarts"`
	Limits      string    `json:"limits,omitempty"`
	Restart     string    `json:"restart,omitempty"`
	Pledge      string    `json:"pledge,omitempty"`
	Unveil      []string  `json:"unveil,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	ExitedAt    time.Time `json:"exited_at,omitzero"`
	// PendingReason says why a pending process is not placed yet.
	PendingReason string `json:"pending_reason,omitempty"`
}

// Exited reports whether the process has a final status.
func (p *Process) Exited() bool { return p.State == "exited" || p.State == "lost" }

// ProcessList is the answer to GET /v1/procs.
type ProcessList struct {
	Processes []Process `json:"processes"`
	Index     uint64    `json:"index"`
	// Next, when not 0, is the after= of the next page: the listing was
	// cut at its limit.
	Next uint64 `json:"next,omitempty"`
}

// MaxListPage caps the limit= of GET /v1/procs.
const MaxListPage = 10000

// Node is a member of the cluster.
type Node struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Status   string            `json:"status"` // alive, suspect, down, left
	HTTPAddr string            `json:"http_addr"`
	RaftAddr string            `json:"raft_addr"`
	Slots    int               `json:"slots"`
	Memory   int64             `json:"memory"`
	Labels   map[string]string `json:"labels,omitempty"`
	Load     Load              `json:"load"`
	Voter    bool              `json:"voter"`
	Leader   bool              `json:"leader"`
	// Lease is the node's lease as the leader sees it (Guarantee 3):
	// "held" when the leader renewed it within the fence timeout,
	// "expired" when it did not (placement skips the node), and empty in
	// an answer from a node that is not the leader (?stale).
	Lease string `json:"lease,omitempty"`
	// Capacity is how many processes placement puts on the node: its
	// slots times the scheduler's processes per slot.
	Capacity int `json:"capacity"`
	// Assigned and AssignedMemory are what the table assigns to the node
	// (processes placed, running or stopped there, and the sum of their
	// memory limits): the load placement counts against the capacity.
	Assigned       int   `json:"assigned"`
	AssignedMemory int64 `json:"assigned_memory"`
}

// Load is a node's gossiped load.
type Load struct {
	BusySlots int `json:"busy_slots"`
	RunQueue  int `json:"run_queue"`
	Procs     int `json:"procs"`
}

// NodeList is the answer to GET /v1/nodes.
type NodeList struct {
	Nodes []Node `json:"nodes"`
	Index uint64 `json:"index"`
}

// Peer is a raft server.
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // voter, nonvoter
	Leader   bool   `json:"leader"`
}

// PeerList is the answer to GET /v1/operator/raft/peers.
type PeerList struct {
	Peers []Peer `json:"peers"`
}

// SchedulerConfig is the cluster-wide scheduler configuration, the answer
// to GET and PUT /v1/operator/scheduler. Strategy is "spread" (the default)
// or "binpack". ModifyIndex is the raft index of the last change, 0 when it
// was never set.
type SchedulerConfig struct {
	Strategy    string `json:"strategy"`
	ModifyIndex uint64 `json:"modify_index"`
}

// SchedulerConfigRequest sets the cluster-wide scheduler configuration
// (PUT /v1/operator/scheduler).
type SchedulerConfigRequest struct {
	Strategy string `json:"strategy"`
}

// Health is the answer to GET /v1/health.
type Health struct {
	Node   string `json:"node"`
	Leader string `json:"leader"` // the leader's name, "" when there is none
	OK     bool   `json:"ok"`
	// Disk, when set, says that the node's disk is full ("ENOSPC on
	// <dir>: ..."): it cannot write the raft log until space is freed.
	Disk string `json:"disk,omitempty"`
}

// StateInfo is the answer to GET /v1/state: what the answering node has
// applied, for convergence checks.
type StateInfo struct {
	Node         string `json:"node"`
	AppliedIndex uint64 `json:"applied_index"`
	Hash         string `json:"hash"`
}

// CommandResult is the answer to POST /v1/internal/command: the result of
// one table command a node reported. Code and Message are set when the
// command failed in the table (a domain error, fsm.Code); that is still a
// 200 answer, since the command was applied (as a no-op).
type CommandResult struct {
	Index       uint64 `json:"index"`
	PID         uint64 `json:"pid,omitempty"`
	Incarnation uint64 `json:"incarnation,omitempty"`
	State       string `json:"state,omitempty"`
	Code        string `json:"code,omitempty"`
	Message     string `json:"message,omitempty"`
	// Failure is set, in a CommandResults only, when this command did not
	// replicate: CodeNotLeader or CodeNoLeader (it was not dispatched) or
	// CodeUnknownOutcome (it may have committed). Message says why; the
	// other fields are empty. The node sends the command again.
	Failure string `json:"failure,omitempty"`
}

// CommandResults is the answer to a batch of commands on POST
// /v1/internal/command: one CommandResult per command, in order, and the
// highest index among them.
type CommandResults struct {
	Results []CommandResult `json:"results"`
	Index   uint64          `json:"index"`
}

// LeaseGrant is the leader's answer to a node's lease renewal (POST
// /v1/internal/lease): its last log index, which a node whose lease had
// ended applies before it lets its processes run again.
type LeaseGrant struct {
	Index uint64 `json:"index"`
}

// ReadIndex is the leader's answer to POST /v1/internal/readindex: a node
// whose table has applied Index may read it linearizably.
type ReadIndex struct {
	Index uint64 `json:"index"`
}

// Error is the body of every error response.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes. Domain codes of the table (fsm.Code) pass through unchanged.
const (
	CodeBadRequest     = "bad_request"     // malformed body, unknown field, bad grammar
	CodeTooLarge       = "too_large"       // request body over MaxBodyBytes
	CodeUnplaceable    = "unplaceable"     // no node of the cluster can ever take the spawn
	CodeNoSpace        = "no_space"        // the answering node's disk is full: ENOSPC on its data dir
	CodeNotFound       = "not_found"       // no such route
	CodeNoSuchProcess  = "no_such_process" // ESRCH
	CodeUnknownProgram = "unknown_program" // 127
	CodeNoLeader       = "no_leader"       // no leader is known: retry
	CodeNotLeader      = "not_leader"      // refused before dispatch: a plain retry
	CodeUnknownOutcome = "unknown_outcome" // may have applied: retry with the same request id
	CodeSessionExpired = "session_expired" // the session is gone: register a new one
	CodeTimeout        = "timeout"         // a blocking query ran out of time
	CodeUnavailable    = "unavailable"     // the answering node can't serve it now
	CodeConflict       = "conflict"        // stdin already attached, or the process has exited
	CodeNotAllowed     = "method_not_allowed"
	CodeInternal       = "internal"
)
