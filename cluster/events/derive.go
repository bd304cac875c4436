package events

import (
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
)

// record is an event as the ring holds it: what a reader filters on, and
// the change it comes from. Its time and detail are formatted only when a
// reader takes it (record.event), so that applying an entry pays for no
// map and no text when nobody reads the stream. Records of the table are
// immutable (fsm.Change), so keeping the change's pointers is safe.
type record struct {
	index uint64
	topic string
	typ   string
	pid   uint64
	node  string
	c     fsm.Change
}

// derive appends the records of the events of the entry at index to out,
// from what it changed, in the entry's order. A change that shows nothing
// an operator follows (a reparenting, a reap, a lost object's mark, a
// SIGCHLD the table sends a parent) gives none.
func derive(out []record, index uint64, changes []fsm.Change) []record {
	for i := range changes {
		out = appendRecords(out, index, &changes[i])
	}
	return out
}

func appendRecords(out []record, index uint64, c *fsm.Change) []record {
	rec := func(topic, typ string, pid uint64, node string) record {
		return record{index: index, topic: topic, typ: typ, pid: pid, node: node, c: *c}
	}
	switch c.Kind {
	case fsm.ChangeProcess:
		return appendProcRecords(out, c, rec)
	case fsm.ChangeSignal:
		s := c.Signal
		if s.Signal == 0 {
			return out
		}
		return append(out, rec(api.EventTopicProc, api.EventSignalled, s.PID, s.Node))
	case fsm.ChangeNode:
		n := c.NewNode
		was := fsm.NodeStatus("")
		if c.OldNode != nil {
			was = c.OldNode.Status
		}
		if n.Status == was {
			return out
		}
		switch n.Status {
		case fsm.NodeAlive:
			return append(out, rec(api.EventTopicNode, api.EventUp, 0, n.ID))
		case fsm.NodeDown, fsm.NodeLeft:
			return append(out, rec(api.EventTopicNode, api.EventDown, 0, n.ID))
		}
		return out // suspect: gossip's doubt, not yet a change of the node
	case fsm.ChangeNodeLost:
		return append(out, rec(api.EventTopicNode, api.EventLost, 0, c.NewNode.ID))
	case fsm.ChangeObject:
		switch {
		case c.OldObject == nil:
			return append(out, rec(api.EventTopicIPC, api.EventCreated, 0, c.NewObject.Node))
		case c.NewObject == nil:
			return append(out, rec(api.EventTopicIPC, api.EventRemoved, 0, c.OldObject.Node))
		}
	}
	return out
}

type recordFunc func(topic, typ string, pid uint64, node string) record

// appendProcRecords maps a process record's change: created (spawned, and
// placed when the spawn placed it), a new state of the same incarnation,
// or a requeue, which ends the incarnation before (exited or lost, with
// restarting set) unless a preemption took it back before it started.
func appendProcRecords(out []record, c *fsm.Change, rec recordFunc) []record {
	o, n := c.OldProc, c.NewProc
	if n == nil || n.PID == fsm.InitPID {
		return out // reaped, or init, which never runs
	}
	if o == nil {
		out = append(out, rec(api.EventTopicProc, api.EventSpawned, n.PID, ""))
		if n.State == fsm.StatePlaced {
			out = append(out, rec(api.EventTopicProc, api.EventPlaced, n.PID, n.Node))
		}
		return out
	}
	if n.Incarnation != o.Incarnation {
		if n.State != fsm.StatePending || n.Status == o.Status {
			return out
		}
		return append(out, rec(api.EventTopicProc, endingType(n.Status), n.PID, o.Node))
	}
	if n.State == o.State {
		return out
	}
	switch n.State {
	case fsm.StatePlaced:
		return append(out, rec(api.EventTopicProc, api.EventPlaced, n.PID, n.Node))
	case fsm.StateRunning:
		if o.State == fsm.StatePlaced {
			return append(out, rec(api.EventTopicProc, api.EventStarted, n.PID, n.Node))
		}
	case fsm.StateExited, fsm.StateLost:
		if o.State == fsm.StatePlaced && n.StartedAt != 0 {
			// A short process: its node reported the start with the
			// exit (fsm.Exited.Started).
			out = append(out, rec(api.EventTopicProc, api.EventStarted, n.PID, n.Node))
		}
		typ := endingType(n.Status)
		if n.State == fsm.StateLost {
			typ = api.EventLost
		}
		return append(out, rec(api.EventTopicProc, typ, n.PID, n.Node))
	}
	return out
}

// event formats the record as the stream serves it.
func (r *record) event() api.Event {
	return api.Event{Index: r.index, Topic: r.topic, Type: r.typ, PID: r.pid, Node: r.node,
		Time: formatTime(r.c.Time), Detail: r.detail()}
}

// detail returns what the event says beyond its header, from the change it
// comes from.
func (r *record) detail() map[string]any {
	c := &r.c
	switch c.Kind {
	case fsm.ChangeProcess:
		o, n := c.OldProc, c.NewProc
		switch r.typ {
		case api.EventSpawned:
			return map[string]any{"command": n.Spec.Command, "owner": n.Owner, "parent": n.Parent}
		case api.EventPlaced, api.EventStarted:
			return incDetail(n)
		}
		// The end of an incarnation: of the one before a requeue, or of
		// the current one.
		d := endingDetail(n.Status)
		if o != nil && n.Incarnation != o.Incarnation {
			d["incarnation"] = o.Incarnation
			d["restarting"] = true
		} else {
			d["incarnation"] = n.Incarnation
		}
		return d
	case fsm.ChangeSignal:
		s := c.Signal
		d := map[string]any{"signal": ipc.Signal(s.Signal).String(), "incarnation": s.Incarnation}
		if s.Sender != 0 {
			d["sender"] = s.Sender
		}
		if c.Reason != "" {
			d["reason"] = c.Reason
		}
		return d
	case fsm.ChangeNode, fsm.ChangeNodeLost:
		n := c.NewNode
		d := map[string]any{"name": n.Name, "status": string(n.Status)}
		if c.Kind == fsm.ChangeNodeLost {
			d["reason"] = c.Reason
		} else if n.Status == fsm.NodeAlive && n.HTTPAddr != "" {
			d["http_addr"] = n.HTTPAddr
		}
		return d
	case fsm.ChangeObject:
		o := c.NewObject
		if o == nil {
			o = c.OldObject
		}
		return map[string]any{"kind": string(o.Kind), "name": o.Name, "owner": o.Owner}
	}
	return nil
}

func incDetail(p *fsm.Process) map[string]any {
	return map[string]any{"incarnation": p.Incarnation}
}

// endingType returns the type of an incarnation that ended with st:
// exited (with an exit code or a signal) or lost (neither).
func endingType(st fsm.Status) string {
	if st.Exited || st.Signal != 0 {
		return api.EventExited
	}
	return api.EventLost
}

// endingDetail returns the detail of an incarnation that ended with st:
// exit_code or signal, and the reason when there is one.
func endingDetail(st fsm.Status) map[string]any {
	d := map[string]any{}
	if st.Reason != "" {
		d["reason"] = st.Reason
	}
	switch {
	case st.Exited:
		d["exit_code"] = st.Code
	case st.Signal != 0:
		d["signal"] = ipc.Signal(st.Signal).String()
	}
	return d
}

func formatTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
