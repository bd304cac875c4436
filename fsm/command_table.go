package fsm

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
	// Unstarted applies the signal's default action to a target that has
	// not run yet (pending or placed), as to a process that has installed
	// no handler: a fatal signal ends it, exited by that signal; SIGSTOP
	// and the other stop signals hold a pending one from placement and
	// SIGCONT releases it; an ignored one is dropped. Without it only
	// SIGKILL ends such a target and the others wait for it to run. It is
	// written as body version 2, which only the replicas that know it
	// decode.
	Unstarted bool
}

// Type returns TypeSignal.
func (c *Signal) Type() Type { return TypeSignal }

// signalVersionUnstarted is the Signal body version that carries
// Unstarted.
const signalVersionUnstarted = 2

func (c *Signal) encodeBody(e *encoder) {
	v := byte(1)
	if c.Unstarted {
		v = signalVersionUnstarted
	}
	e.byte(v)
	e.uint(c.ID)
	e.int(c.Target)
	e.int(int64(c.Signal))
	e.uint(c.Sender)
	e.int(c.Now)
	if v >= 2 {
		e.bool(c.Unstarted)
	}
}

func decodeSignal(d *decoder) Command {
	v := d.version(2, "signal")
	c := &Signal{ID: d.uint(), Target: d.int(), Signal: d.smallInt(), Sender: d.uint(), Now: d.int()}
	if v >= 2 {
		c.Unstarted = d.bool()
	}
	return c
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
