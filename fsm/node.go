package fsm

import (
	"fmt"
	"sort"
	"strings"
)

// Nodes, the registry of named IPC objects and the scheduler configuration.

func validNodeID(id string) error {
	if id == "" || len(id) > 255 || strings.IndexByte(id, 0) >= 0 {
		return errorf(ErrInvalid, fmt.Sprintf("node id %q", id))
	}
	return nil
}

func validNodeStatus(s NodeStatus) bool {
	switch s {
	case NodeAlive, NodeSuspect, NodeDown, NodeLeft:
		return true
	}
	return false
}

func (a *applier) nodeUpsert(c *NodeUpsert) *Result {
	a.advance(c.Now)
	s := a.s
	if err := validNodeID(c.ID); err != nil {
		return fail(err)
	}
	if c.Capacity.Slots < 0 || c.Capacity.Memory < 0 {
		return failf(ErrInvalid, "negative capacity")
	}
	if c.Status != "" && !validNodeStatus(c.Status) {
		return failf(ErrInvalid, "node status %q", c.Status)
	}
	labels := append([]Label(nil), c.Labels...)
	sort.Slice(labels, func(i, j int) bool { return labels[i].Key < labels[j].Key })
	for i, l := range labels {
		if l.Key == "" || i > 0 && labels[i-1].Key == l.Key {
			return failf(ErrInvalid, "label key %q empty or repeated", l.Key)
		}
	}
	if len(labels) == 0 {
		labels = nil
	}
	n := &Node{
		ID:          c.ID,
		Name:        c.Name,
		RaftAddr:    c.RaftAddr,
		HTTPAddr:    c.HTTPAddr,
		Capacity:    c.Capacity,
		Labels:      labels,
		Status:      c.Status,
		CreatedAt:   s.clock,
		UpdatedAt:   s.clock,
		CreateIndex: a.index,
		ModifyIndex: a.index,
	}
	if n.Name == "" {
		n.Name = n.ID
	}
	if old := s.node(c.ID); old != nil {
		n.CreatedAt, n.CreateIndex = old.CreatedAt, old.CreateIndex
		if n.Status == "" {
			n.Status = old.Status
		}
	}
	if n.Status == "" {
		n.Status = NodeAlive
	}
	old, _ := s.nodes.ReplaceOrInsert(nodeItem{id: n.ID, n: n})
	a.note(Change{Kind: ChangeNode, OldNode: old.n, NewNode: n})
	return &Result{}
}

func (a *applier) setNodeStatus(c *SetNodeStatus) *Result {
	a.advance(c.Now)
	if !validNodeStatus(c.Status) {
		return failf(ErrInvalid, "node status %q", c.Status)
	}
	n := a.s.node(c.ID)
	if n == nil {
		return failf(ErrNoSuchNode, "%q", c.ID)
	}
	nn := *n
	nn.Status = c.Status
	nn.UpdatedAt = a.s.clock
	nn.ModifyIndex = a.index
	a.s.nodes.ReplaceOrInsert(nodeItem{id: nn.ID, n: &nn})
	a.note(Change{Kind: ChangeNode, OldNode: n, NewNode: &nn})
	return &Result{}
}

// Name limits: PATH_MAX for a FIFO's path, NAME_MAX for a queue or a
// segment.
const (
	maxPathLen = 4096
	maxNameLen = 255
)

// validName checks a registry name. All names are absolute. A queue or
// segment name is "/" and a name without further slashes (mq_overview(7),
// shm_overview(7)); a FIFO name is a path in the node's namespace.
func validName(kind Kind, name string) error {
	bad := len(name) < 2 || name[0] != '/' || strings.IndexByte(name, 0) >= 0
	switch kind {
	case KindFIFO:
		bad = bad || len(name) > maxPathLen || strings.HasSuffix(name, "/")
	case KindMQ, KindSHM:
		bad = bad || len(name) > maxNameLen || strings.IndexByte(name[1:], '/') >= 0
	default:
		return errorf(ErrInvalid, fmt.Sprintf("object kind %q", kind))
	}
	if bad {
		return errorf(ErrInvalid, fmt.Sprintf("%s name %q", kind, name))
	}
	return nil
}

func (a *applier) registryCreate(c *RegistryCreate) *Result {
	a.advance(c.Now)
	s := a.s
	if err := validName(c.Kind, c.Name); err != nil {
		return fail(err)
	}
	if c.Mode > 0o7777 || c.Attrs.MaxMsg < 0 || c.Attrs.MsgSize < 0 || c.Attrs.Size < 0 {
		return failf(ErrInvalid, "mode or attributes out of range")
	}
	if s.node(c.Node) == nil {
		return failf(ErrNoSuchNode, "%q", c.Node)
	}
	if s.object(c.Kind, c.Name) != nil {
		return failf(ErrNameExists, "%s %s", c.Kind, c.Name)
	}
	if err := s.checkIPCQuota(c.Owner); err != nil {
		return fail(err)
	}
	o := &Object{
		Kind:        c.Kind,
		Name:        c.Name,
		Node:        c.Node,
		Owner:       c.Owner,
		Mode:        c.Mode,
		Attrs:       c.Attrs,
		CreatedAt:   s.clock,
		CreateIndex: a.index,
		ModifyIndex: a.index,
	}
	s.objects.ReplaceOrInsert(objItem{kind: o.Kind, name: o.Name, o: o})
	a.note(Change{Kind: ChangeObject, NewObject: o})
	return &Result{}
}

func (a *applier) registryUnlink(c *RegistryUnlink) *Result {
	if err := validName(c.Kind, c.Name); err != nil {
		return fail(err)
	}
	o := a.s.object(c.Kind, c.Name)
	if o == nil {
		return failf(ErrNoSuchName, "%s %s", c.Kind, c.Name)
	}
	a.s.objects.Delete(objItem{kind: c.Kind, name: c.Name})
	a.note(Change{Kind: ChangeObject, OldObject: o})
	return &Result{}
}

func (a *applier) registryLost(c *RegistryLost) *Result {
	if err := validName(c.Kind, c.Name); err != nil {
		return fail(err)
	}
	o := a.s.object(c.Kind, c.Name)
	switch {
	case o == nil:
		return failf(ErrNoSuchName, "%s %s", c.Kind, c.Name)
	case o.Node != c.Node:
		return failf(ErrStale, "%s %s is held by node %q, not %q", c.Kind, c.Name, o.Node, c.Node)
	case o.Lost:
		return &Result{}
	}
	a.markLost(o)
	return &Result{}
}

// markLost marks one object lost.
func (a *applier) markLost(o *Object) {
	no := *o
	no.Lost = true
	no.ModifyIndex = a.index
	a.s.objects.ReplaceOrInsert(objItem{kind: no.Kind, name: no.Name, o: &no})
	a.note(Change{Kind: ChangeObject, OldObject: o, NewObject: &no})
}

// markObjectsLost marks the objects held by a lost node. Their names stay
// taken until unlinked: a name is never silently freed.
func (a *applier) markObjectsLost(node string) {
	var lost []*Object
	a.s.objects.Ascend(func(it objItem) bool {
		if it.o.Node == node && !it.o.Lost {
			lost = append(lost, it.o)
		}
		return true
	})
	for _, o := range lost {
		a.markLost(o)
	}
}

func (a *applier) setSchedulerConfig(c *SetSchedulerConfig) *Result {
	switch c.Strategy {
	case StrategySpread, StrategyBinpack:
	default:
		return failf(ErrInvalid, "strategy %q", c.Strategy)
	}
	a.s.sched = SchedulerConfig{Strategy: c.Strategy, ModifyIndex: a.index}
	return &Result{}
}
