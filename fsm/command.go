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
	TypeProgramAdd         Type = 0x1c
	TypeProgramRemove      Type = 0x1d
	TypeProgramHolder      Type = 0x1e
	// TypeChecked (0x30), the checksummed envelope, is in checksum.go.
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
	TypeProgramAdd:         "program-add",
	TypeProgramRemove:      "program-remove",
	TypeProgramHolder:      "program-holder",
	TypeChecked:            "checked",
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
	return AppendEncode(make([]byte, 0, encodeCap), c)
}

// encodeCap is the first capacity of an encoding: room for a spawn of a
// short command line in its session request, without growing.
const encodeCap = 256

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
// the ignore-if-unknown bit, and an error wrapping ErrUnknownType,
// ErrMalformed or ErrChecksum when the entry cannot be applied. A sealed
// entry (TypeChecked) decodes as the command it carries, once its checksum
// matches. It never panics.
func Decode(data []byte) (Command, error) {
	if Sealed(data) {
		inner, err := unseal(data)
		if err != nil {
			return nil, err
		}
		data = inner
	}
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
	TypeProgramAdd:         decodeProgramAdd,
	TypeProgramRemove:      decodeProgramRemove,
	TypeProgramHolder:      decodeProgramHolder,
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
	at := e.begin()
	e.byte(byte(c.Command.Type()))
	c.Command.encodeBody(e)
	e.end(at)
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
