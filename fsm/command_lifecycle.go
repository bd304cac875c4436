package fsm

import "fmt"

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
