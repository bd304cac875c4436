package fsm

import (
	"errors"
	"fmt"
	"strconv"
)

// Type is the first byte of a log entry: the command type. The list of types
// only grows; a value is never reused.
type Type uint8

// IgnoreIfUnknown is the high bit of a Type. A replica that does not know a
// type with this bit set skips the entry (its Result has Ignored set); an
// unknown type without it is a corrupt log and Apply panics.
const IgnoreIfUnknown Type = 0x80

// The command types. Append only.
const (
	TypeBatch              Type = 0x01
	TypeRegisterSession    Type = 0x02
	TypeSessionRequest     Type = 0x03
	TypeTick               Type = 0x04
	TypeSpawn              Type = 0x05
	TypePlace              Type = 0x06
	TypeStarted            Type = 0x07
	TypeStopped            Type = 0x08
	TypeContinued          Type = 0x09
	TypeExited             Type = 0x0a
	TypeReap               Type = 0x0b
	TypeLost               Type = 0x0c
	TypeNodeLost           Type = 0x0d
	TypePreempt            Type = 0x0e
	TypeSignal             Type = 0x0f
	TypeSignalDelivered    Type = 0x10
	TypeNodeUpsert         Type = 0x11
	TypeSetNodeStatus      Type = 0x12
	TypeRegistryCreate     Type = 0x13
	TypeRegistryUnlink     Type = 0x14
	TypeSetSchedulerConfig Type = 0x15
	TypeRaisePIDFloor      Type = 0x16
	TypeRegistryLost       Type = 0x17
	TypeACLBootstrap       Type = 0x18
	TypeACLTokenCreate     Type = 0x19
	TypeACLTokenDelete     Type = 0x1a
)

var typeNames = map[Type]string{
	TypeBatch:              "batch",
	TypeRegisterSession:    "register-session",
	TypeSessionRequest:     "session-request",
	TypeTick:               "tick",
	TypeSpawn:              "spawn",
	TypePlace:              "place",
	TypeStarted:            "started",
	TypeStopped:            "stopped",
	TypeContinued:          "continued",
	TypeExited:             "exited",
	TypeReap:               "reap",
	TypeLost:               "lost",
	TypeNodeLost:           "node-lost",
	TypePreempt:            "preempt",
	TypeSignal:             "signal",
	TypeSignalDelivered:    "signal-delivered",
	TypeNodeUpsert:         "node-upsert",
	TypeSetNodeStatus:      "set-node-status",
	TypeRegistryCreate:     "registry-create",
	TypeRegistryUnlink:     "registry-unlink",
	TypeSetSchedulerConfig: "set-scheduler-config",
	TypeRaisePIDFloor:      "raise-pid-floor",
	TypeRegistryLost:       "registry-lost",
	TypeACLBootstrap:       "acl-bootstrap",
	TypeACLTokenCreate:     "acl-token-create",
	TypeACLTokenDelete:     "acl-token-delete",
}

// String returns the command's name, such as "spawn".
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// Errors of Decode. They never appear in a Result: Apply panics on them.
var (
	// ErrMalformed means that a body could not be decoded.
	ErrMalformed = errDecode
	// ErrUnknownType means an unknown type without the ignore-if-unknown bit.
	ErrUnknownType = errors.New("fsm: unknown command type")
)

// Command is one decoded log command. Encode turns it into a log entry.
type Command interface {
	// Type returns the command's type byte.
	Type() Type
	encodeBody(e *encoder)
}

// Encode returns the log entry of c: its type byte and its encoded body.
func Encode(c Command) []byte {
	return AppendEncode(make([]byte, 0, 64), c)
}

// AppendEncode appends the log entry of c to dst and returns the result.
func AppendEncode(dst []byte, c Command) []byte {
	e := encoder{b: append(dst, byte(c.Type()))}
	c.encodeBody(&e)
	return e.b
}

// EncodeBatch wraps entries that are already encoded (such as session
// requests collected from many clients) in one Batch entry, for group
// commit. An entry may not be empty or itself a batch.
func EncodeBatch(entries [][]byte) ([]byte, error) {
	n := 8
	for _, en := range entries {
		if len(en) == 0 {
			return nil, fmt.Errorf("fsm: empty entry in batch")
		}
		if Type(en[0]) == TypeBatch {
			return nil, fmt.Errorf("fsm: batch inside batch")
		}
		n += len(en) + 4
	}
	e := encoder{b: make([]byte, 0, n)}
	e.byte(byte(TypeBatch))
	e.byte(batchVersion)
	e.uint(uint64(len(entries)))
	for _, en := range entries {
		e.raw(en)
	}
	return e.b, nil
}

// Decode decodes a log entry. It returns an *Unknown for an unknown type with
// the ignore-if-unknown bit, and an error wrapping ErrUnknownType or
// ErrMalformed when the entry cannot be applied. It never panics.
func Decode(data []byte) (Command, error) {
	return decode(data, true)
}

func decode(data []byte, top bool) (Command, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty entry", errDecode)
	}
	t := Type(data[0])
	d := decoder{b: data[1:]}
	var c Command
	switch t {
	case TypeBatch:
		if !top {
			return nil, fmt.Errorf("%w: batch nested in another command", errDecode)
		}
		c = decodeBatch(&d)
	case TypeSessionRequest:
		c = decodeSessionRequest(&d, top)
	default:
		f := decoders[t]
		if f == nil {
			if t&IgnoreIfUnknown != 0 {
				return &Unknown{T: t, Body: append([]byte(nil), data[1:]...)}, nil
			}
			return nil, fmt.Errorf("%w 0x%02x", ErrUnknownType, byte(t))
		}
		c = f(&d)
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("%v: %w", t, err)
	}
	return c, nil
}

var decoders = map[Type]func(d *decoder) Command{
	TypeRegisterSession:    decodeRegisterSession,
	TypeTick:               decodeTick,
	TypeSpawn:              decodeSpawn,
	TypePlace:              decodePlace,
	TypeStarted:            decodeStarted,
	TypeStopped:            decodeStopped,
	TypeContinued:          decodeContinued,
	TypeExited:             decodeExited,
	TypeReap:               decodeReap,
	TypeLost:               decodeLost,
	TypeNodeLost:           decodeNodeLost,
	TypePreempt:            decodePreempt,
	TypeSignal:             decodeSignal,
	TypeSignalDelivered:    decodeSignalDelivered,
	TypeNodeUpsert:         decodeNodeUpsert,
	TypeSetNodeStatus:      decodeSetNodeStatus,
	TypeRegistryCreate:     decodeRegistryCreate,
	TypeRegistryUnlink:     decodeRegistryUnlink,
	TypeSetSchedulerConfig: decodeSetSchedulerConfig,
	TypeRaisePIDFloor:      decodeRaisePIDFloor,
	TypeRegistryLost:       decodeRegistryLost,
	TypeACLBootstrap:       decodeACLBootstrap,
	TypeACLTokenCreate:     decodeACLTokenCreate,
	TypeACLTokenDelete:     decodeACLTokenDelete,
}

// Unknown is an entry of a type this release does not know, carrying the
// ignore-if-unknown bit. Apply skips it.
type Unknown struct {
	T    Type
	Body []byte
}

// Type returns the entry's type byte.
func (c *Unknown) Type() Type { return c.T }

func (c *Unknown) encodeBody(e *encoder) { e.b = append(e.b, c.Body...) }

// Batch carries several commands in one log entry (group commit). Apply
// returns one *Result per command, in order. A batch may not contain a batch.
type Batch struct {
	Commands []Command
}

const batchVersion = 1

// Type returns TypeBatch.
func (c *Batch) Type() Type { return TypeBatch }

func (c *Batch) encodeBody(e *encoder) {
	e.byte(batchVersion)
	e.uint(uint64(len(c.Commands)))
	var tmp []byte
	for _, ic := range c.Commands {
		tmp = AppendEncode(tmp[:0], ic)
		e.raw(tmp)
	}
}

func decodeBatch(d *decoder) Command {
	d.version(batchVersion, "batch")
	n := d.count()
	c := &Batch{Commands: make([]Command, 0, n)}
	for i := 0; i < n && d.err == nil; i++ {
		ic, err := decode(d.bytes(), false)
		if err != nil {
			if d.err == nil {
				d.err = err
			}
			break
		}
		c.Commands = append(c.Commands, ic)
	}
	return c
}

// RegisterSession opens a client session. Its Result carries the SessionID.
type RegisterSession struct {
	Now int64 // leader time, unix ns
}

// Type returns TypeRegisterSession.
func (c *RegisterSession) Type() Type { return TypeRegisterSession }

func (c *RegisterSession) encodeBody(e *encoder) { e.byte(1); e.int(c.Now) }

func decodeRegisterSession(d *decoder) Command {
	d.version(1, "register-session")
	return &RegisterSession{Now: d.int()}
}

// SessionRequest wraps a command in a client session (Guarantee 9). If the
// session already answered RequestID, Apply returns that answer and does not
// apply Command again. AckedBelow tells that the client has seen every
// answer below it, which frees them.
type SessionRequest struct {
	SessionID  uint64
	RequestID  uint64 // > 0, unique within the session
	AckedBelow uint64
	Now        int64
	// Command may not be a Batch, a SessionRequest or a RegisterSession.
	Command Command
}

// Type returns TypeSessionRequest.
func (c *SessionRequest) Type() Type { return TypeSessionRequest }

func (c *SessionRequest) encodeBody(e *encoder) {
	e.byte(1)
	e.uint(c.SessionID)
	e.uint(c.RequestID)
	e.uint(c.AckedBelow)
	e.int(c.Now)
	if c.Command == nil {
		e.raw(nil)
		return
	}
	e.raw(AppendEncode(nil, c.Command))
}

func decodeSessionRequest(d *decoder, top bool) Command {
	d.version(1, "session-request")
	c := &SessionRequest{
		SessionID:  d.uint(),
		RequestID:  d.uint(),
		AckedBelow: d.uint(),
		Now:        d.int(),
	}
	inner := d.bytes()
	if d.err != nil {
		return c
	}
	if len(inner) > 0 {
		switch Type(inner[0]) {
		case TypeBatch, TypeSessionRequest, TypeRegisterSession:
			d.fail("session request wraps a " + Type(inner[0]).String())
			return c
		}
	}
	ic, err := decode(inner, false)
	if err != nil {
		d.err = err
		return c
	}
	c.Command = ic
	return c
}

// Tick advances the state machine's clock to leader time Now and expires
// sessions and signal ids that have lived past the session TTL. The leader
// commits one now and then when idle.
type Tick struct {
	Now int64
}

// Type returns TypeTick.
func (c *Tick) Type() Type { return TypeTick }

func (c *Tick) encodeBody(e *encoder) { e.byte(1); e.int(c.Now) }

func decodeTick(d *decoder) Command {
	d.version(1, "tick")
	return &Tick{Now: d.int()}
}

// Spawn allocates a PID and records a new pending process.
type Spawn struct {
	// Parent is the parent PID; 0 means init.
	Parent uint64
	Owner  string
	// NewSession makes the process a session and group leader (setsid). A
	// child of init always is one.
	NewSession bool
	// NewGroup makes the process a group leader in its parent's session
	// (setpgid(0, 0)).
	NewGroup bool
	// JoinGroup, if not 0, puts the process in that existing group of its
	// parent's session (setpgid(0, pgid)).
	JoinGroup uint64
	Spec      Spec
	Now       int64
	// Place, if set, is the node the leader chose for the process when it
	// received the spawn, so that one entry both allocates the PID and
	// places it. Apply re-checks the choice as it checks a Place command
	// (the node is in the table and alive, the spec's required node and
	// constraints, locality) and, when the node can no longer take the
	// process, leaves it pending for the placement loop instead: the spawn
	// itself still succeeds. Encoded from body version 2 on.
	Place string
}

// Spawn body versions: 1 has no Place; 2 adds it, and is written only when
// Place is set, so that a spawn without one encodes as it always did.
const (
	spawnVersion1     = 1
	spawnVersionPlace = 2
)

// Type returns TypeSpawn.
func (c *Spawn) Type() Type { return TypeSpawn }

func (c *Spawn) encodeBody(e *encoder) {
	v := byte(spawnVersion1)
	if c.Place != "" {
		v = spawnVersionPlace
	}
	e.byte(v)
	e.uint(c.Parent)
	e.str(c.Owner)
	e.bool(c.NewSession)
	e.bool(c.NewGroup)
	e.uint(c.JoinGroup)
	e.spec(&c.Spec)
	e.int(c.Now)
	if v >= spawnVersionPlace {
		e.str(c.Place)
	}
}

func decodeSpawn(d *decoder) Command {
	v := d.version(spawnVersionPlace, "spawn")
	c := &Spawn{Parent: d.uint(), Owner: d.str(), NewSession: d.bool(), NewGroup: d.bool(), JoinGroup: d.uint()}
	d.spec(&c.Spec)
	c.Now = d.int()
	if v >= spawnVersionPlace {
		// Version 2 exists to carry a node: an empty one is not what the
		// encoder writes.
		if c.Place = d.str(); c.Place == "" && d.err == nil {
			d.fail("spawn: version 2 without a node")
		}
	}
	return c
}

// Place assigns a pending process to a node. The scheduler's expectation
// (pid, incarnation, state) must still hold and the node must be alive, or
// the result is ErrStale.
type Place struct {
	PID         uint64
	Incarnation uint64
	// ExpectState is pending, or placed to move a placed process.
	ExpectState State
	Node        string
	Now         int64
}

// Type returns TypePlace.
func (c *Place) Type() Type { return TypePlace }

func (c *Place) encodeBody(e *encoder) {
	e.byte(1)
	e.uint(c.PID)
	e.uint(c.Incarnation)
	e.str(string(c.ExpectState))
	e.str(c.Node)
	e.int(c.Now)
}

func decodePlace(d *decoder) Command {
	d.version(1, "place")
	return &Place{PID: d.uint(), Incarnation: d.uint(), ExpectState: d.state(), Node: d.str(), Now: d.int()}
}

// Started reports that a node started an incarnation.
type Started struct {
	PID         uint64
	Incarnation uint64
	Node        string
	Now         int64
}

// Type returns TypeStarted.
func (c *Started) Type() Type { return TypeStarted }

func (c *Started) encodeBody(e *encoder) { encodeEvent(e, c.PID, c.Incarnation, c.Node, c.Now) }

// encodeEvent writes a node event's body, version 1: its version byte and
// eventFields.
func encodeEvent(e *encoder, pid, inc uint64, node string, now int64) {
	e.byte(1)
	eventFields(e, pid, inc, node, now)
}

// eventFields writes the fields every node event starts with.
func eventFields(e *encoder, pid, inc uint64, node string, now int64) {
	e.uint(pid)
	e.uint(inc)
	e.str(node)
	e.int(now)
}

func decodeEvent(d *decoder, what string) (pid, inc uint64, node string, now int64) {
	d.version(1, what)
	return decodeEventFields(d)
}

func decodeEventFields(d *decoder) (pid, inc uint64, node string, now int64) {
	return d.uint(), d.uint(), d.str(), d.int()
}

func decodeStarted(d *decoder) Command {
	c := &Started{}
	c.PID, c.Incarnation, c.Node, c.Now = decodeEvent(d, "started")
	return c
}

// Stopped reports that an incarnation was stopped by a signal.
type Stopped struct {
	PID         uint64
	Incarnation uint64
	Node        string
	Signal      int
	Now         int64
}

// Type returns TypeStopped.
func (c *Stopped) Type() Type { return TypeStopped }

func (c *Stopped) encodeBody(e *encoder) {
	encodeEvent(e, c.PID, c.Incarnation, c.Node, c.Now)
	e.int(int64(c.Signal))
}

func decodeStopped(d *decoder) Command {
	c := &Stopped{}
	c.PID, c.Incarnation, c.Node, c.Now = decodeEvent(d, "stopped")
	c.Signal = d.smallInt()
	return c
}

// Continued reports that a stopped incarnation was continued.
type Continued struct {
	PID         uint64
	Incarnation uint64
	Node        string
	Now         int64
}

// Type returns TypeContinued.
func (c *Continued) Type() Type { return TypeContinued }

func (c *Continued) encodeBody(e *encoder) { encodeEvent(e, c.PID, c.Incarnation, c.Node, c.Now) }

func decodeContinued(d *decoder) Command {
	c := &Continued{}
	c.PID, c.Incarnation, c.Node, c.Now = decodeEvent(d, "continued")
	return c
}

// Exited reports that an incarnation ended with a wait status. The restart
// policy then either requeues the process or makes it a zombie.
type Exited struct {
	PID         uint64
	Incarnation uint64
	Node        string
	Status      Status
	Now         int64
	// Started says that the node started the incarnation and reports its
	// start with its exit instead of in a Started of its own (a short
	// process's two reports leave the node together). A process still
	// placed then gets StartedAt as well as ExitedAt from this command.
	// Without it, an exit of a placed process is one the node could not
	// start, and StartedAt stays 0. Encoded from body version 2 on.
	Started bool
}

// Exited body versions: 1 has no Started; 2 adds it, and is written only
// when Started is set, so that other exits encode as they always did.
const (
	exitedVersion1       = 1
	exitedVersionStarted = 2
)

// Type returns TypeExited.
func (c *Exited) Type() Type { return TypeExited }

func (c *Exited) encodeBody(e *encoder) {
	v := byte(exitedVersion1)
	if c.Started {
		v = exitedVersionStarted
	}
	e.byte(v)
	eventFields(e, c.PID, c.Incarnation, c.Node, c.Now)
	e.status(&c.Status)
	if v >= exitedVersionStarted {
		e.bool(c.Started)
	}
}

func decodeExited(d *decoder) Command {
	c := &Exited{}
	v := d.version(exitedVersionStarted, "exited")
	c.PID, c.Incarnation, c.Node, c.Now = decodeEventFields(d)
	d.status(&c.Status)
	if v >= exitedVersionStarted {
		if c.Started = d.bool(); !c.Started {
			d.fail("exited: version 2 without started")
		}
	}
	return c
}

// Reap removes a zombie (exited or lost) from the table, as waitpid(2)
// does. Its Result carries the final status.
type Reap struct {
	PID uint64
}

// Type returns TypeReap.
func (c *Reap) Type() Type { return TypeReap }

func (c *Reap) encodeBody(e *encoder) {
	e.byte(1)
	e.uint(c.PID)
}

func decodeReap(d *decoder) Command {
	d.version(1, "reap")
	return &Reap{PID: d.uint()}
}

// Lost reports that a node lost track of one incarnation. It is treated like
// the loss of the process's node, for that process only.
type Lost struct {
	PID         uint64
	Incarnation uint64
	Node        string
	Reason      string
	Now         int64
}

// Type returns TypeLost.
func (c *Lost) Type() Type { return TypeLost }

func (c *Lost) encodeBody(e *encoder) {
	encodeEvent(e, c.PID, c.Incarnation, c.Node, c.Now)
	e.str(c.Reason)
}

func decodeLost(d *decoder) Command {
	c := &Lost{}
	c.PID, c.Incarnation, c.Node, c.Now = decodeEvent(d, "lost")
	c.Reason = d.str()
	return c
}

// NodeLost declares a node lost (Guarantee 3): its status becomes down, each
// of its placed, running or stopped processes is requeued or lost per its
// restart policy, and its registry objects are marked lost.
type NodeLost struct {
	Node   string
	Reason string
	Now    int64
}

// Type returns TypeNodeLost.
func (c *NodeLost) Type() Type { return TypeNodeLost }

func (c *NodeLost) encodeBody(e *encoder) {
	e.byte(1)
	e.str(c.Node)
	e.str(c.Reason)
	e.int(c.Now)
}

func decodeNodeLost(d *decoder) Command {
	d.version(1, "node-lost")
	return &NodeLost{Node: d.str(), Reason: d.str(), Now: d.int()}
}

// Preempt evicts an incarnation so that a higher priority can run. Being
// preempted is not a kill: the process is requeued, and the requeue does
// not count as a restart.
//
// Signal is the signal made pending in the victim, normally SIGTERM: its
// node then gives it a grace period and SIGKILLs it if it is still there.
// 0 means SIGKILL at once (the only behaviour of body version 1).
type Preempt struct {
	PID         uint64
	Incarnation uint64
	Reason      string
	Now         int64
	Signal      int
}

// Preempt body versions: 2 adds Signal.
const (
	preemptVersion1      = 1
	preemptVersionSignal = 2
)

// Type returns TypePreempt.
func (c *Preempt) Type() Type { return TypePreempt }

func (c *Preempt) encodeBody(e *encoder) {
	v := byte(preemptVersion1)
	if c.Signal != 0 {
		v = preemptVersionSignal
	}
	e.byte(v)
	e.uint(c.PID)
	e.uint(c.Incarnation)
	e.str(c.Reason)
	e.int(c.Now)
	if v >= preemptVersionSignal {
		e.int(int64(c.Signal))
	}
}

func decodePreempt(d *decoder) Command {
	v := d.version(preemptVersionSignal, "preempt")
	c := &Preempt{PID: d.uint(), Incarnation: d.uint(), Reason: d.str(), Now: d.int()}
	if v >= preemptVersionSignal {
		sig := d.int()
		if (sig <= 0 || sig >= NSIG) && d.err == nil {
			d.fail(fmt.Sprintf("preempt: signal %d", sig))
		}
		c.Signal = int(sig)
	}
	return c
}

// Signal sends a signal to a PID (Target > 0) or to every member of a
// process group (Target < -1 is -pgid). Signal 0 only checks existence.
type Signal struct {
	// ID identifies the request: a second Signal with the same ID returns
	// the first result and changes nothing. 0 lets the state machine pick
	// one. IDs with the high bit set are reserved for the state machine.
	ID     uint64
	Target int64
	Signal int
	Sender uint64 // PID of the sender, 0 for a client
	Now    int64
}

// Type returns TypeSignal.
func (c *Signal) Type() Type { return TypeSignal }

func (c *Signal) encodeBody(e *encoder) {
	e.byte(1)
	e.uint(c.ID)
	e.int(c.Target)
	e.int(int64(c.Signal))
	e.uint(c.Sender)
	e.int(c.Now)
}

func decodeSignal(d *decoder) Command {
	d.version(1, "signal")
	return &Signal{ID: d.uint(), Target: d.int(), Signal: d.smallInt(), Sender: d.uint(), Now: d.int()}
}

// SignalDelivered acknowledges that a node made a signal request pending in
// its incarnation. It removes the request and is idempotent.
type SignalDelivered struct {
	ID          uint64
	PID         uint64
	Incarnation uint64
}

// Type returns TypeSignalDelivered.
func (c *SignalDelivered) Type() Type { return TypeSignalDelivered }

func (c *SignalDelivered) encodeBody(e *encoder) {
	e.byte(1)
	e.uint(c.ID)
	e.uint(c.PID)
	e.uint(c.Incarnation)
}

func decodeSignalDelivered(d *decoder) Command {
	d.version(1, "signal-delivered")
	return &SignalDelivered{ID: d.uint(), PID: d.uint(), Incarnation: d.uint()}
}

// NodeUpsert adds a node or updates its addresses, capacity and labels.
type NodeUpsert struct {
	ID       string
	Name     string
	RaftAddr string
	HTTPAddr string
	Capacity Capacity
	Labels   []Label
	// Status, if set, replaces the node's status. A new node without one
	// is alive.
	Status NodeStatus
	Now    int64
}

// Type returns TypeNodeUpsert.
func (c *NodeUpsert) Type() Type { return TypeNodeUpsert }

func (c *NodeUpsert) encodeBody(e *encoder) {
	e.byte(1)
	e.str(c.ID)
	e.str(c.Name)
	e.str(c.RaftAddr)
	e.str(c.HTTPAddr)
	e.int(c.Capacity.Slots)
	e.int(c.Capacity.Memory)
	e.labels(c.Labels)
	e.str(string(c.Status))
	e.int(c.Now)
}

func decodeNodeUpsert(d *decoder) Command {
	d.version(1, "node-upsert")
	c := &NodeUpsert{ID: d.str(), Name: d.str(), RaftAddr: d.str(), HTTPAddr: d.str()}
	c.Capacity.Slots = d.int()
	c.Capacity.Memory = d.int()
	c.Labels = d.labels()
	c.Status = d.nodeStatus()
	c.Now = d.int()
	return c
}

// SetNodeStatus changes a node's membership status. It does not move the
// node's processes: NodeLost does.
type SetNodeStatus struct {
	ID     string
	Status NodeStatus
	Now    int64
}

// Type returns TypeSetNodeStatus.
func (c *SetNodeStatus) Type() Type { return TypeSetNodeStatus }

func (c *SetNodeStatus) encodeBody(e *encoder) {
	e.byte(1)
	e.str(c.ID)
	e.str(string(c.Status))
	e.int(c.Now)
}

func decodeSetNodeStatus(d *decoder) Command {
	d.version(1, "set-node-status")
	return &SetNodeStatus{ID: d.str(), Status: d.nodeStatus(), Now: d.int()}
}

// RegistryCreate creates a FIFO, message-queue or shared-memory name.
type RegistryCreate struct {
	Kind  Kind
	Name  string
	Node  string // the node that holds the object
	Owner string
	Mode  uint32
	Attrs Attrs
	Now   int64
}

// Type returns TypeRegistryCreate.
func (c *RegistryCreate) Type() Type { return TypeRegistryCreate }

func (c *RegistryCreate) encodeBody(e *encoder) {
	e.byte(1)
	e.str(string(c.Kind))
	e.str(c.Name)
	e.str(c.Node)
	e.str(c.Owner)
	e.uint(uint64(c.Mode))
	e.attrs(&c.Attrs)
	e.int(c.Now)
}

func decodeRegistryCreate(d *decoder) Command {
	d.version(1, "registry-create")
	c := &RegistryCreate{Kind: d.kind(), Name: d.str(), Node: d.str(), Owner: d.str(), Mode: d.mode()}
	d.attrs(&c.Attrs)
	c.Now = d.int()
	return c
}

// RegistryUnlink removes a name. The object itself lives on where it is
// until its last user lets go.
type RegistryUnlink struct {
	Kind Kind
	Name string
}

// Type returns TypeRegistryUnlink.
func (c *RegistryUnlink) Type() Type { return TypeRegistryUnlink }

func (c *RegistryUnlink) encodeBody(e *encoder) {
	e.byte(1)
	e.str(string(c.Kind))
	e.str(c.Name)
}

func decodeRegistryUnlink(d *decoder) Command {
	d.version(1, "registry-unlink")
	return &RegistryUnlink{Kind: d.kind(), Name: d.str()}
}

// RegistryLost reports that the node holding a name no longer has its
// object: the agent restarted, and the object died with the old process.
// The object is marked lost, as a lost node's are; its name stays taken
// until it is unlinked. It applies only while Node still holds the name.
type RegistryLost struct {
	Kind Kind
	Name string
	Node string
}

// Type returns TypeRegistryLost.
func (c *RegistryLost) Type() Type { return TypeRegistryLost }

func (c *RegistryLost) encodeBody(e *encoder) {
	e.byte(1)
	e.str(string(c.Kind))
	e.str(c.Name)
	e.str(c.Node)
}

func decodeRegistryLost(d *decoder) Command {
	d.version(1, "registry-lost")
	return &RegistryLost{Kind: d.kind(), Name: d.str(), Node: d.str()}
}

// SetSchedulerConfig sets the cluster-wide scheduler configuration.
type SetSchedulerConfig struct {
	Strategy Strategy
}

// Type returns TypeSetSchedulerConfig.
func (c *SetSchedulerConfig) Type() Type { return TypeSetSchedulerConfig }

func (c *SetSchedulerConfig) encodeBody(e *encoder) {
	e.byte(1)
	e.str(string(c.Strategy))
}

func decodeSetSchedulerConfig(d *decoder) Command {
	d.version(1, "set-scheduler-config")
	return &SetSchedulerConfig{Strategy: d.strategy()}
}

// RaisePIDFloor raises the PID counter to at least Floor; it never lowers
// it. After an operator restores an old snapshot into a running cluster,
// the leader commits one with its pre-restore counter, so that every
// replica agrees on the next PID and none is handed out twice.
type RaisePIDFloor struct {
	Floor uint64
}

// Type returns TypeRaisePIDFloor.
func (c *RaisePIDFloor) Type() Type { return TypeRaisePIDFloor }

func (c *RaisePIDFloor) encodeBody(e *encoder) {
	e.byte(1)
	e.uint(c.Floor)
}

func decodeRaisePIDFloor(d *decoder) Command {
	d.version(1, "raise-pid-floor")
	return &RaisePIDFloor{Floor: d.uint()}
}
