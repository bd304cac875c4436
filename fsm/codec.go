package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The encoding is hand-written and compact: unsigned integers are uvarints,
// signed ones zig-zag varints, strings and slices a uvarint length followed
// by their bytes or elements, booleans one byte (0 or 1). Every command body
// and every snapshot record starts with a version byte, so that a later
// release can add fields and still decode what an earlier one wrote.

// errDecode is wrapped by every decoding error.
var errDecode = errors.New("fsm: malformed encoding")

type encoder struct {
	b []byte
}

func (e *encoder) byte(v byte)   { e.b = append(e.b, v) }
func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(v string)  { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) raw(v []byte)  { e.uint(uint64(len(v))); e.b = append(e.b, v...) }

// begin and end write what is encoded between them as raw would write it
// (its length, then its bytes) without a buffer of its own: begin leaves
// one byte for the length, and end moves the bytes if it needs more.
func (e *encoder) begin() int {
	e.b = append(e.b, 0)
	return len(e.b) - 1
}

func (e *encoder) end(at int) {
	n := len(e.b) - at - 1
	if n < 0x80 {
		e.b[at] = byte(n)
		return
	}
	var l [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(l[:], uint64(n))
	e.b = append(e.b, l[1:k]...) // room for the longer length
	copy(e.b[at+k:], e.b[at+1:at+1+n])
	copy(e.b[at:], l[:k])
}
func (e *encoder) bool(v bool)         { e.b = append(e.b, b2u(v)) }
func (e *encoder) dur(v time.Duration) { e.int(int64(v)) }

func b2u(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func (e *encoder) strs(v []string) {
	e.uint(uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}

// decoder reads what encoder wrote. Its first error sticks: later reads
// return zero values, and err says what went wrong first.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errDecode, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("unexpected end")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// smallInt reads a varint that must fit in an int32, such as a priority, a
// code or a signal number.
// smallInt decodes an int. It accepts every value the encoder can write
// from an int (a value encoding accepts and decoding refuses would turn a
// client's input into a "corrupt" log entry and panic every replica).
func (d *decoder) smallInt() int {
	v := d.int()
	if v < math.MinInt || v > math.MaxInt {
		d.fail("integer out of range")
		return 0
	}
	return int(v)
}

func (d *decoder) dur() time.Duration { return time.Duration(d.int()) }

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad bool")
	return false
}

func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length past end")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	return string(d.bytes())
}

// count reads the length of a slice whose elements take at least one byte
// each, so that a corrupt length cannot make the decoder allocate more than
// the input could fill.
func (d *decoder) count() int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)) {
		d.fail("count past end")
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.str()
	}
	return v
}

// version reads a version byte and checks that it is between 1 and max.
func (d *decoder) version(max byte, what string) byte {
	v := d.byte()
	if d.err == nil && (v == 0 || v > max) {
		d.fail(fmt.Sprintf("%s: unknown version %d", what, v))
	}
	return v
}

// end checks that everything was consumed.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}

// Enumerations are encoded as their strings, so that a command can carry any
// value and Apply decides whether it is valid. Decoding interns the known
// values (codes), so that a decoded table does not hold one copy of
// "running" per process.
func decodeEnum[T ~string](d *decoder, codes []T) T {
	b := d.bytes()
	for _, s := range codes {
		if string(b) == string(s) {
			return s
		}
	}
	return T(b)
}

func (d *decoder) state() State           { return decodeEnum(d, stateCodes) }
func (d *decoder) policy() RestartPolicy  { return decodeEnum(d, policyCodes) }
func (d *decoder) kind() Kind             { return decodeEnum(d, kindCodes) }
func (d *decoder) nodeStatus() NodeStatus { return decodeEnum(d, nodeStatusCodes) }
func (d *decoder) strategy() Strategy     { return decodeEnum(d, strategyCodes) }

// Records.

// Spec versions: 1 has no Stdin; 2 adds it, and is written only when Stdin
// is set; 3 adds Files, and is written only when there are some, so that
// every other spec encodes as it always did.
const (
	specVersion1     = 1
	specVersionStdin = 2
	specVersionFiles = 3
)

func (e *encoder) spec(s *Spec) {
	v := byte(specVersion1)
	if s.Stdin {
		v = specVersionStdin
	}
	if len(s.Files) > 0 {
		v = specVersionFiles
	}
	e.byte(v)
	e.str(s.Command)
	e.strs(s.Args)
	e.strs(s.Env)
	e.str(s.Cwd)
	e.int(int64(s.Priority))
	for _, l := range limitPairs(&s.Limits) {
		e.uint(l.Soft)
		e.uint(l.Hard)
	}
	e.str(s.Promises)
	e.uint(uint64(len(s.Unveil)))
	for _, u := range s.Unveil {
		e.str(u.Path)
		e.str(u.Perms)
	}
	e.str(string(s.Restart.Policy))
	e.int(int64(s.Restart.MaxRestarts))
	e.dur(s.Restart.BackoffBase)
	e.dur(s.Restart.BackoffMax)
	e.uint(uint64(len(s.Constraints)))
	for _, c := range s.Constraints {
		e.str(c.Label)
		e.str(c.Value)
	}
	e.str(s.Node)
	e.uint(uint64(len(s.Uses)))
	for _, u := range s.Uses {
		e.str(string(u.Kind))
		e.str(u.Name)
	}
	e.uint(s.InheritsPipesFrom)
	if v >= specVersionStdin {
		e.bool(s.Stdin)
	}
	if v >= specVersionFiles {
		e.uint(uint64(len(s.Files)))
		for _, f := range s.Files {
			e.int(int64(f.Fd))
			e.str(f.Node)
			e.uint(f.Export)
			e.int(int64(f.Flags))
		}
	}
}

func (d *decoder) spec(s *Spec) {
	v := d.version(specVersionFiles, "spec")
	s.Command = d.str()
	s.Args = d.strs()
	s.Env = d.strs()
	s.Cwd = d.str()
	s.Priority = d.smallInt()
	for _, l := range limitPairs(&s.Limits) {
		l.Soft = d.uint()
		l.Hard = d.uint()
	}
	s.Promises = d.str()
	if n := d.count(); n > 0 {
		s.Unveil = make([]Unveil, n)
		for i := range s.Unveil {
			s.Unveil[i] = Unveil{Path: d.str(), Perms: d.str()}
		}
	}
	s.Restart.Policy = d.policy()
	s.Restart.MaxRestarts = d.smallInt()
	s.Restart.BackoffBase = d.dur()
	s.Restart.BackoffMax = d.dur()
	if n := d.count(); n > 0 {
		s.Constraints = make([]Constraint, n)
		for i := range s.Constraints {
			s.Constraints[i] = Constraint{Label: d.str(), Value: d.str()}
		}
	}
	s.Node = d.str()
	if n := d.count(); n > 0 {
		s.Uses = make([]Use, n)
		for i := range s.Uses {
			s.Uses[i] = Use{Kind: d.kind(), Name: d.str()}
		}
	}
	s.InheritsPipesFrom = d.uint()
	if v >= specVersionStdin {
		// Version 2 exists to carry Stdin: false is not what the encoder
		// writes.
		if s.Stdin = d.bool(); v == specVersionStdin && !s.Stdin && d.err == nil {
			d.fail("spec: version 2 without stdin")
		}
	}
	if v >= specVersionFiles {
		n := d.count()
		if n == 0 && d.err == nil {
			d.fail("spec: version 3 without files")
		}
		if n > 0 {
			s.Files = make([]FileRef, n)
			for i := range s.Files {
				s.Files[i] = FileRef{Fd: d.smallInt(), Node: d.str(), Export: d.uint(), Flags: d.smallInt()}
			}
		}
	}
}

func (e *encoder) status(s *Status) {
	e.bool(s.Exited)
	e.int(int64(s.Code))
	e.int(int64(s.Signal))
	e.bool(s.Core)
	e.str(s.Reason)
}

func (d *decoder) status(s *Status) {
	s.Exited = d.bool()
	s.Code = d.smallInt()
	s.Signal = d.smallInt()
	s.Core = d.bool()
	s.Reason = d.str()
}

const processVersion = 1

func (e *encoder) process(p *Process) {
	e.byte(processVersion)
	e.uint(p.PID)
	e.uint(p.Incarnation)
	e.uint(p.Parent)
	e.uint(p.Pgid)
	e.uint(p.Sid)
	e.str(p.Owner)
	e.spec(p.Spec)
	e.str(p.Node)
	e.str(string(p.State))
	e.status(&p.Status)
	e.int(int64(p.Restarts))
	e.int(p.NotBefore)
	e.bool(p.Killed)
	e.bool(p.Evicting)
	e.str(p.EvictReason)
	e.int(p.CreatedAt)
	e.int(p.StartedAt)
	e.int(p.ExitedAt)
	e.uint(p.CreateIndex)
	e.uint(p.ModifyIndex)
	e.uint(p.QueueIndex)
	e.uint(p.PlaceIndex)
}

func (d *decoder) process(p *Process) {
	d.version(processVersion, "process")
	p.PID = d.uint()
	p.Incarnation = d.uint()
	p.Parent = d.uint()
	p.Pgid = d.uint()
	p.Sid = d.uint()
	p.Owner = d.str()
	p.Spec = new(Spec)
	d.spec(p.Spec)
	p.Node = d.str()
	p.State = d.state()
	d.status(&p.Status)
	p.Restarts = d.smallInt()
	p.NotBefore = d.int()
	p.Killed = d.bool()
	p.Evicting = d.bool()
	p.EvictReason = d.str()
	p.CreatedAt = d.int()
	p.StartedAt = d.int()
	p.ExitedAt = d.int()
	p.CreateIndex = d.uint()
	p.ModifyIndex = d.uint()
	p.QueueIndex = d.uint()
	p.PlaceIndex = d.uint()
}

func (e *encoder) labels(ls []Label) {
	e.uint(uint64(len(ls)))
	for _, l := range ls {
		e.str(l.Key)
		e.str(l.Value)
	}
}

func (d *decoder) labels() []Label {
	n := d.count()
	if n == 0 {
		return nil
	}
	ls := make([]Label, n)
	for i := range ls {
		ls[i] = Label{Key: d.str(), Value: d.str()}
	}
	return ls
}

const nodeVersion = 1

func (e *encoder) node(n *Node) {
	e.byte(nodeVersion)
	e.str(n.ID)
	e.str(n.Name)
	e.str(n.RaftAddr)
	e.str(n.HTTPAddr)
	e.int(n.Capacity.Slots)
	e.int(n.Capacity.Memory)
	e.labels(n.Labels)
	e.str(string(n.Status))
	e.int(n.CreatedAt)
	e.int(n.UpdatedAt)
	e.uint(n.CreateIndex)
	e.uint(n.ModifyIndex)
}

func (d *decoder) node(n *Node) {
	d.version(nodeVersion, "node")
	n.ID = d.str()
	n.Name = d.str()
	n.RaftAddr = d.str()
	n.HTTPAddr = d.str()
	n.Capacity.Slots = d.int()
	n.Capacity.Memory = d.int()
	n.Labels = d.labels()
	n.Status = d.nodeStatus()
	n.CreatedAt = d.int()
	n.UpdatedAt = d.int()
	n.CreateIndex = d.uint()
	n.ModifyIndex = d.uint()
}

func (e *encoder) attrs(a *Attrs) {
	e.int(a.MaxMsg)
	e.int(a.MsgSize)
	e.int(a.Size)
}

func (d *decoder) attrs(a *Attrs) {
	a.MaxMsg = d.int()
	a.MsgSize = d.int()
	a.Size = d.int()
}

const objectVersion = 1

func (e *encoder) object(o *Object) {
	e.byte(objectVersion)
	e.str(string(o.Kind))
	e.str(o.Name)
	e.str(o.Node)
	e.str(o.Owner)
	e.uint(uint64(o.Mode))
	e.attrs(&o.Attrs)
	e.bool(o.Lost)
	e.int(o.CreatedAt)
	e.uint(o.CreateIndex)
	e.uint(o.ModifyIndex)
}

func (d *decoder) mode() uint32 {
	v := d.uint()
	if v > math.MaxUint32 {
		d.fail("mode out of range")
	}
	return uint32(v)
}

func (d *decoder) object(o *Object) {
	d.version(objectVersion, "object")
	o.Kind = d.kind()
	o.Name = d.str()
	o.Node = d.str()
	o.Owner = d.str()
	o.Mode = d.mode()
	d.attrs(&o.Attrs)
	o.Lost = d.bool()
	o.CreatedAt = d.int()
	o.CreateIndex = d.uint()
	o.ModifyIndex = d.uint()
}

const signalVersion = 1

func (e *encoder) signal(r *SignalRequest) {
	e.byte(signalVersion)
	e.uint(r.ID)
	e.uint(r.PID)
	e.uint(r.Incarnation)
	e.int(int64(r.Signal))
	e.uint(r.Sender)
	e.int(r.CreatedAt)
	e.uint(r.Index)
}

func (d *decoder) signal(r *SignalRequest) {
	d.version(signalVersion, "signal request")
	r.ID = d.uint()
	r.PID = d.uint()
	r.Incarnation = d.uint()
	r.Signal = d.smallInt()
	r.Sender = d.uint()
	r.CreatedAt = d.int()
	r.Index = d.uint()
}

const sessionVersion = 1

func (e *encoder) session(s *Session) {
	e.byte(sessionVersion)
	e.uint(s.ID)
	e.int(s.CreatedAt)
	e.int(s.LastActive)
	e.uint(s.Floor)
	e.int(int64(s.Cached))
}

func (d *decoder) session(s *Session) {
	d.version(sessionVersion, "session")
	s.ID = d.uint()
	s.CreatedAt = d.int()
	s.LastActive = d.int()
	s.Floor = d.uint()
	s.Cached = d.smallInt()
}

const resultVersion = 1

func (e *encoder) result(r *Result) {
	e.byte(resultVersion)
	e.uint(r.Index)
	code, detail := errorDetail(r.Err)
	e.str(code)
	e.str(detail)
	e.uint(r.PID)
	e.uint(r.Incarnation)
	e.str(string(r.State))
	e.status(&r.Status)
	e.uint(uint64(len(r.Targets)))
	for _, t := range r.Targets {
		e.uint(t.PID)
		e.uint(t.Incarnation)
	}
	e.uint(r.SessionID)
	e.bool(r.Ignored)
}

func (d *decoder) result(r *Result) {
	d.version(resultVersion, "result")
	r.Index = d.uint()
	code, detail := d.str(), d.str()
	r.Err = ErrorForCode(code, detail)
	r.PID = d.uint()
	r.Incarnation = d.uint()
	r.State = d.state()
	d.status(&r.Status)
	if n := d.count(); n > 0 {
		r.Targets = make([]Target, n)
		for i := range r.Targets {
			r.Targets[i] = Target{PID: d.uint(), Incarnation: d.uint()}
		}
	}
	r.SessionID = d.uint()
	r.Ignored = d.bool()
}
