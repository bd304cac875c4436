package events

import (
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
)

// Derive returns the events of the entry at index from what it changed, in
// the entry's order. A change that shows nothing an operator follows (a
// reparenting, a reap, a lost object's mark, a SIGCHLD the table sends a
// parent) gives none.
func Derive(index uint64, changes []fsm.Change) []api.Event {
	var out []api.Event
	var t timeCache
	for i := range changes {
		out = appendEvents(out, index, &changes[i], t.format(changes[i].Time))
	}
	return out
}

// timeCache formats the times of an entry's changes, which mostly share
// one, once.
type timeCache struct {
	ns int64
	s  string
}

func (c *timeCache) format(ns int64) string {
	if ns != c.ns || c.s == "" {
		c.ns, c.s = ns, formatTime(ns)
	}
	return c.s
}

func appendEvents(out []api.Event, index uint64, c *fsm.Change, at string) []api.Event {
	ev := func(topic, typ string, pid uint64, node string, detail map[string]any) api.Event {
		return api.Event{Index: index, Topic: topic, Type: typ, PID: pid, Node: node, Time: at, Detail: detail}
	}
	switch c.Kind {
	case fsm.ChangeProcess:
		return appendProcEvents(out, c, ev)
	case fsm.ChangeSignal:
		s := c.Signal
		if s.Signal == 0 {
			return out
		}
		d := map[string]any{"signal": ipc.Signal(s.Signal).String(), "incarnation": s.Incarnation}
		if s.Sender != 0 {
			d["sender"] = s.Sender
		}
		if c.Reason != "" {
			d["reason"] = c.Reason
		}
		return append(out, ev(api.EventTopicProc, api.EventSignalled, s.PID, s.Node, d))
	case fsm.ChangeNode:
		n := c.NewNode
		was := fsm.NodeStatus("")
		if c.OldNode != nil {
			was = c.OldNode.Status
		}
		if n.Status == was {
			return out
		}
		d := map[string]any{"name": n.Name, "status": string(n.Status)}
		switch n.Status {
		case fsm.NodeAlive:
			if n.HTTPAddr != "" {
				d["http_addr"] = n.HTTPAddr
			}
			return append(out, ev(api.EventTopicNode, api.EventUp, 0, n.ID, d))
		case fsm.NodeDown, fsm.NodeLeft:
			return append(out, ev(api.EventTopicNode, api.EventDown, 0, n.ID, d))
		}
		return out // suspect: gossip's doubt, not yet a change of the node
	case fsm.ChangeNodeLost:
		n := c.NewNode
		return append(out, ev(api.EventTopicNode, api.EventLost, 0, n.ID,
			map[string]any{"name": n.Name, "status": string(n.Status), "reason": c.Reason}))
	case fsm.ChangeObject:
		switch {
		case c.OldObject == nil:
			o := c.NewObject
			return append(out, ev(api.EventTopicIPC, api.EventCreated, 0, o.Node, objectDetail(o)))
		case c.NewObject == nil:
			o := c.OldObject
			return append(out, ev(api.EventTopicIPC, api.EventRemoved, 0, o.Node, objectDetail(o)))
		}
	}
	return out
}

func objectDetail(o *fsm.Object) map[string]any {
	return map[string]any{"kind": string(o.Kind), "name": o.Name, "owner": o.Owner}
}

type eventFunc func(topic, typ string, pid uint64, node string, detail map[string]any) api.Event

// appendProcEvents maps a process record's change: created (spawned, and
// placed when the spawn placed it), a new state of the same incarnation,
// or a requeue, which ends the incarnation before (exited or lost, with
// restarting set) unless a preemption took it back before it started.
func appendProcEvents(out []api.Event, c *fsm.Change, ev eventFunc) []api.Event {
	o, n := c.OldProc, c.NewProc
	if n == nil || n.PID == fsm.InitPID {
		return out // reaped, or init, which never runs
	}
	if o == nil {
		d := map[string]any{"command": n.Spec.Command, "owner": n.Owner, "parent": n.Parent}
		out = append(out, ev(api.EventTopicProc, api.EventSpawned, n.PID, "", d))
		if n.State == fsm.StatePlaced {
			out = append(out, ev(api.EventTopicProc, api.EventPlaced, n.PID, n.Node, incDetail(n)))
		}
		return out
	}
	if n.Incarnation != o.Incarnation {
		if n.State != fsm.StatePending || n.Status == o.Status {
			return out
		}
		typ, d := ending(n.Status)
		d["incarnation"] = o.Incarnation
		d["restarting"] = true
		return append(out, ev(api.EventTopicProc, typ, n.PID, o.Node, d))
	}
	if n.State == o.State {
		return out
	}
	switch n.State {
	case fsm.StatePlaced:
		return append(out, ev(api.EventTopicProc, api.EventPlaced, n.PID, n.Node, incDetail(n)))
	case fsm.StateRunning:
		if o.State == fsm.StatePlaced {
			return append(out, ev(api.EventTopicProc, api.EventStarted, n.PID, n.Node, incDetail(n)))
		}
	case fsm.StateExited, fsm.StateLost:
		if o.State == fsm.StatePlaced && n.StartedAt != 0 {
			// A short process: its node reported the start with the
			// exit (fsm.Exited.Started).
			out = append(out, ev(api.EventTopicProc, api.EventStarted, n.PID, n.Node, incDetail(n)))
		}
		typ, d := ending(n.Status)
		if n.State == fsm.StateLost {
			typ = api.EventLost
		}
		d["incarnation"] = n.Incarnation
		return append(out, ev(api.EventTopicProc, typ, n.PID, n.Node, d))
	}
	return out
}

func incDetail(p *fsm.Process) map[string]any {
	return map[string]any{"incarnation": p.Incarnation}
}

// ending returns the type and detail of an incarnation that ended with st:
// exited with exit_code or signal, or lost (neither).
func ending(st fsm.Status) (string, map[string]any) {
	d := map[string]any{}
	if st.Reason != "" {
		d["reason"] = st.Reason
	}
	switch {
	case st.Exited:
		d["exit_code"] = st.Code
	case st.Signal != 0:
		d["signal"] = ipc.Signal(st.Signal).String()
	default:
		return api.EventLost, d
	}
	return api.EventExited, d
}

func formatTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
