package fsm

// TypeSetGroup is SetGroup's type. It carries the ignore-if-unknown bit: a
// replica of a release that does not know it keeps the group a process was
// spawned in, which misses the change as kills of the group did before the
// command existed, but applies every other entry.
const TypeSetGroup Type = IgnoreIfUnknown | 0x18

func init() {
	typeNames[TypeSetGroup] = "set-group"
	decoders[TypeSetGroup] = decodeSetGroup
}

// SetGroup reports that an incarnation changed its process group or
// session after its spawn, by setpgid(2) or setsid(2) on its node, so that
// a signal to the group from any node reaches it (the group index follows).
// A setpgid keeps the session; a setsid makes the process lead a new
// session and group named after its PID.
type SetGroup struct {
	PID         uint64
	Incarnation uint64
	Node        string
	Now         int64
	Pgid        uint64
	Sid         uint64
}

// Type returns TypeSetGroup.
func (c *SetGroup) Type() Type { return TypeSetGroup }

func (c *SetGroup) encodeBody(e *encoder) {
	encodeEvent(e, c.PID, c.Incarnation, c.Node, c.Now)
	e.uint(c.Pgid)
	e.uint(c.Sid)
}

func decodeSetGroup(d *decoder) Command {
	c := &SetGroup{}
	c.PID, c.Incarnation, c.Node, c.Now = decodeEvent(d, "set-group")
	c.Pgid = d.uint()
	c.Sid = d.uint()
	return c
}

// setGroup applies a SetGroup from the process's node: ErrStale for another
// incarnation or node, ErrInvalid for a change neither setpgid nor setsid
// can make (a new session not led by the process, a group of another
// session's number 0). A process that has ended keeps its group.
func (a *applier) setGroup(c *SetGroup) *Result {
	a.advance(c.Now)
	p, r := a.event(c.PID, c.Incarnation, c.Node)
	if r != nil {
		return r
	}
	switch {
	case c.Pgid == 0 || c.Sid == 0:
		return failf(ErrInvalid, "pid %d: group %d session %d", c.PID, c.Pgid, c.Sid)
	case c.Sid != p.Sid && (c.Sid != c.PID || c.Pgid != c.PID):
		return failf(ErrInvalid, "pid %d: a new session %d must be its own, with its own group (got group %d)", c.PID, c.Sid, c.Pgid)
	}
	if !p.State.Live() || (p.Pgid == c.Pgid && p.Sid == c.Sid) {
		return current(p)
	}
	np := *p
	a.s.groups.Delete(pairKey{p.Pgid, p.PID})
	np.Pgid, np.Sid = c.Pgid, c.Sid
	a.s.groups.ReplaceOrInsert(pairKey{np.Pgid, np.PID})
	np.ModifyIndex = a.index
	a.put(&np)
	return current(&np)
}
