package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// The node-to-leader routes: POST /v1/internal/command (the commands a node
// reports, checked by nodeMayReport), POST /v1/internal/lease (lease
// renewals) and POST /v1/internal/readindex (a follower's linearizable
// read of its own table).

// handleCommand takes a command a node reports (POST /v1/internal/command).
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request) (any, error) {
	from := s.requestNode(r)
	if !isMember(s.core.LocalView(), from) {
		return nil, &httpError{http.StatusForbidden, "permission", fmt.Sprintf("%q is not a node of the cluster", from)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, "command too large"}
		}
		return nil, badRequest("reading the command: %v", err)
	}
	cmd, err := fsm.Decode(body)
	if err != nil {
		return nil, badRequest("bad command: %v", err)
	}
	if b, ok := cmd.(*fsm.Batch); ok {
		return s.handleCommandBatch(w, r, from, b.Commands)
	}
	if err := nodeMayReport(s.core.LocalView(), cmd, from); err != nil {
		return nil, err
	}
	if sp, ok := cmd.(*fsm.Spawn); ok {
		if err := checkSpawnCaps(sp); err != nil {
			return nil, err
		}
	}
	sess, err := sessionFrom(r)
	if err != nil {
		return nil, err
	}
	stampNow(cmd, time.Now().UnixNano())
	res, err := s.core.Submit(r.Context(), sess, cmd)
	if err != nil {
		return nil, err
	}
	out := api.CommandResult{Index: res.Index, PID: res.PID, Incarnation: res.Incarnation, State: string(res.State)}
	if res.Err != nil {
		out.Code, out.Message = fsm.Code(res.Err), res.Err.Error()
	}
	s.readHeaders(w, res.Index, false)
	return out, nil
}

// handleCommandBatch takes the commands a node reports together, as one
// fsm Batch: it checks every one first (the whole batch is refused if one
// may not be sent), commits them in order through group commit, and
// answers a CommandResults with one result per command. Commands that
// failed to replicate carry Failure; the node sends those again.
func (s *Server) handleCommandBatch(w http.ResponseWriter, r *http.Request, from string, cmds []fsm.Command) (any, error) {
	if r.Header.Get(api.HeaderSession) != "" || r.Header.Get(api.HeaderRequest) != "" {
		return nil, badRequest("a batch of commands travels outside sessions")
	}
	if len(cmds) > MaxReportBatch {
		return nil, &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("%d commands in a batch; at most %d", len(cmds), MaxReportBatch)}
	}
	v := s.core.LocalView()
	for _, c := range cmds {
		if err := nodeMayReport(v, c, from); err != nil {
			return nil, err
		}
	}
	now := time.Now().UnixNano()
	for _, c := range cmds {
		stampNow(c, now)
	}
	outs := s.core.SubmitBatch(r.Context(), nil, cmds)
	res := api.CommandResults{Results: make([]api.CommandResult, len(outs))}
	for i, o := range outs {
		res.Results[i] = commandResult(o.Res, o.Err)
		res.Index = max(res.Index, res.Results[i].Index)
	}
	s.readHeaders(w, res.Index, false)
	return res, nil
}

// commandResult is the answer for one command of a batch.
func commandResult(res *fsm.Result, err error) api.CommandResult {
	switch {
	case err == nil:
		out := api.CommandResult{Index: res.Index, PID: res.PID, Incarnation: res.Incarnation, State: string(res.State)}
		if res.Err != nil {
			out.Code, out.Message = fsm.Code(res.Err), res.Err.Error()
		}
		return out
	case errors.Is(err, commit.ErrNotLeader):
		return api.CommandResult{Failure: api.CodeNotLeader, Message: err.Error()}
	case errors.Is(err, commit.ErrNoLeader):
		return api.CommandResult{Failure: api.CodeNoLeader, Message: err.Error()}
	}
	return api.CommandResult{Failure: api.CodeUnknownOutcome, Message: err.Error()}
}

// runsOn reports whether the table assigns pid to node (it may have
// ended there since).
func runsOn(v *fsm.View, pid uint64, node string) bool {
	if v == nil {
		return false
	}
	p, ok := v.Get(pid)
	return ok && p.Node == node
}

func isMember(v *fsm.View, name string) bool {
	if name == "" || v == nil {
		return false
	}
	for _, n := range v.Nodes() {
		if n.ID == name || n.Name == name {
			return true
		}
	}
	return false
}

// eventNode returns the node named by a lifecycle event of an incarnation.
func eventNode(c fsm.Command) (string, bool) {
	switch c := c.(type) {
	case *fsm.Started:
		return c.Node, true
	case *fsm.Stopped:
		return c.Node, true
	case *fsm.Continued:
		return c.Node, true
	case *fsm.Exited:
		return c.Node, true
	case *fsm.Lost:
		return c.Node, true
	case *fsm.SetGroup:
		return c.Node, true
	}
	return "", false
}

// nodeMayReport checks that a node reports only what a node may: events
// of its own incarnations, delivered signals, the children of its
// processes (spawned and placed on itself, spawned on the node they name,
// killed when their spawn failed, reaped when their parent waited for
// them), and the signals its processes send. v is the leader's table, in
// which the parent or the sender must run on the node.
func nodeMayReport(v *fsm.View, c fsm.Command, from string) error {
	deny := func(why string) error {
		return &httpError{http.StatusForbidden, "permission", fmt.Sprintf("node %q may not send %v: %s", from, c.Type(), why)}
	}
	if node, ok := eventNode(c); ok {
		if node != from {
			return deny("another node's event")
		}
		return nil
	}
	switch c := c.(type) {
	case *fsm.SignalDelivered, *fsm.RegistryUnlink:
	case *fsm.Reap:
		// A local parent reaped the child: the table checks that it has
		// exited.
	case *fsm.RegistryCreate:
		if c.Node != from {
			return deny("only a name held by itself")
		}
	case *fsm.RegistryLost:
		if c.Node != from {
			return deny("only a name held by itself")
		}
	case *fsm.ProgramAdd:
		// The node that took an upload stores it first.
		if !slices.Contains(c.Holders, from) {
			return deny("only a program it holds")
		}
	case *fsm.ProgramRemove:
		// Relayed for a client, as the upload is.
	case *fsm.ProgramHolder:
		if c.Node != from {
			return deny("only itself as a holder")
		}
	case *fsm.Spawn:
		// Place is the leader's: a spawn that reached an earlier leader
		// on this node and is sent again carries that leader's choice,
		// which the spec binds to its node.
		if c.Place != "" && c.Place != from && c.Place != c.Spec.Node {
			return deny("only a child placed on itself or on the node it names")
		}
		for _, f := range c.Spec.Files {
			if f.Node != from {
				return deny("only descriptors it exports itself")
			}
		}
		if c.Parent > fsm.InitPID && c.Spec.Node == from && c.Spec.InheritsPipesFrom == c.Parent {
			return nil // a child on the parent's node
		}
		if c.Parent <= fsm.InitPID || c.Spec.Node == "" || c.Spec.InheritsPipesFrom != 0 || !runsOn(v, c.Parent, from) {
			return deny("only a child of a local process, bound to a node")
		}
	case *fsm.Place:
		if c.Node != from || c.ExpectState != fsm.StatePending {
			return deny("only a placement on itself")
		}
	case *fsm.Signal:
		if c.Sender > fsm.InitPID && c.ID != 0 && runsOn(v, c.Sender, from) {
			return nil // a local process's kill
		}
		if c.Signal != fsm.SIGKILL || c.Target <= int64(fsm.InitPID) || c.ID != 0 {
			return deny("only SIGKILL of a child, or a signal from a local process")
		}
	default:
		return deny("not a node's command")
	}
	return nil
}

// handleLease answers POST /v1/internal/lease: a node's lease renewal. Only
// the leader answers; it is never forwarded.
func (s *Server) handleLease(w http.ResponseWriter, r *http.Request) (any, error) {
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1024))
	from := s.requestNode(r)
	if from == "" || len(from) > 128 {
		return nil, badRequest("a lease renewal names its node in %s", api.HeaderNode)
	}
	index, err := s.core.RenewLease(r.Context(), from)
	if err != nil {
		return nil, err
	}
	return api.LeaseGrant{Index: index}, nil
}

// handleReadIndex answers POST /v1/internal/readindex on the leader; it is
// never forwarded.
func (s *Server) handleReadIndex(w http.ResponseWriter, r *http.Request) (any, error) {
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1024))
	index, err := s.core.ReadIndex(r.Context())
	if err != nil {
		return nil, err
	}
	return api.ReadIndex{Index: index}, nil
}
