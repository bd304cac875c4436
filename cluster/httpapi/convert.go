package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/security"
	"github.com/vproc/vproc/spec"
)

// Conversions between the API's JSON (package api), the replicated table
// (package fsm) and the local kernel (package node). The grammars a
// SpawnRequest carries are parsed by package spec (api.SpawnRequest.ParseSpec).

// httpError is an error answer: an HTTP status and an api.Error body.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.code + ": " + e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf(format, args...)}
}

// domainStatus is the HTTP status of each domain code of the table. Codes
// not listed are 500.
var domainStatus = map[string]int{
	api.CodeNoSuchProcess:  http.StatusNotFound,
	"not_exited":           http.StatusConflict,
	"stale":                http.StatusConflict,
	"killed":               http.StatusConflict,
	"permission":           http.StatusForbidden,
	"invalid":              http.StatusBadRequest,
	"no_such_node":         http.StatusNotFound,
	"name_exists":          http.StatusConflict,
	"no_such_name":         http.StatusNotFound,
	api.CodeSessionExpired: http.StatusGone,
	"request_too_old":      http.StatusConflict,
	api.CodeQuotaExceeded:  http.StatusTooManyRequests,
	"version_not_agreed":   http.StatusConflict,
}

// domainError turns a domain error of the table (a Result's Err) into an
// error answer whose code is fsm.Code's.
func domainError(err error) *httpError {
	code := fsm.Code(err)
	st, ok := domainStatus[code]
	if !ok {
		st = http.StatusInternalServerError
	}
	return &httpError{st, code, err.Error()}
}

// spawnCommand checks a SpawnRequest and builds the fsm.Spawn it asks for.
// The parent is init (PID 1): processes spawned through the API belong to
// init, which reaps them after the retention. programs, if not nil, is the
// local kernel's registry: every node runs the same binary, so a command it
// does not know is unknown_program everywhere.
func spawnCommand(req *api.SpawnRequest, programs node.Resolver) (*fsm.Spawn, error) {
	if req.Command == "" {
		return nil, badRequest("command is empty")
	}
	if err := checkName("command", req.Command); err != nil {
		return nil, err
	}
	if programs != nil {
		if _, ok := programs.Lookup(req.Command); !ok {
			return nil, &httpError{http.StatusBadRequest, api.CodeUnknownProgram, fmt.Sprintf("unknown program %q", req.Command)}
		}
	}
	if req.Priority != 0 && (req.Priority < fsm.MinPriority || req.Priority > fsm.MaxPriority) {
		return nil, badRequest("priority %d is outside %d..%d", req.Priority, fsm.MinPriority, fsm.MaxPriority)
	}
	for _, e := range req.Env {
		if !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
			return nil, badRequest("env entry %q is not KEY=VALUE", e)
		}
	}
	parsed, err := req.ParseSpec()
	if err != nil {
		return nil, badRequest("%v", err)
	}
	promises, err := security.ParsePromises(req.Pledge)
	if err != nil {
		return nil, badRequest("pledge %q: %v", req.Pledge, err)
	}
	var unveil []fsm.Unveil
	for _, u := range req.Unveil {
		pu, err := security.ParseUnveil(u)
		if err != nil {
			return nil, badRequest("unveil %q: %v: want PATH:PERMS, PERMS from rwxc", u, err)
		}
		unveil = append(unveil, fsm.Unveil{Path: pu.Path, Perms: pu.Perms})
	}
	owner := req.Owner
	if owner == "" {
		owner = "root"
	}
	sp := &fsm.Spawn{
		Parent: fsm.InitPID,
		Owner:  owner,
		Spec: fsm.Spec{
			Command:     req.Command,
			Args:        req.Args,
			Env:         req.Env,
			Cwd:         req.Cwd,
			Priority:    req.Priority,
			Limits:      parsed.Limits,
			Restart:     fsm.Restart{Policy: parsed.Restart.Policy, MaxRestarts: parsed.Restart.Max, BackoffBase: parsed.Restart.Backoff},
			Constraints: parsed.Constraints,
			Node:        req.Node,
			Uses:        parsed.Uses,
			Stdin:       req.Stdin,
			Promises:    promises.String(),
			Unveil:      unveil,
		},
	}
	if err := checkSpawnCaps(sp); err != nil {
		return nil, err
	}
	return sp, nil
}

// nodeResource maps the grammar's resources to the kernel's.
var nodeResource = [spec.NumResources]node.Resource{
	spec.CPU:    node.RCPU,
	spec.Wall:   node.RWall,
	spec.NoFile: node.RNoFile,
	spec.NProc:  node.RNProc,
	spec.Mem:    node.RMem,
	spec.FSize:  node.RFSize,
}

func toInfinity(v uint64) uint64 {
	if v == 0 {
		return node.Infinity
	}
	return v
}

// nodeLimits converts the table's limits (0: unlimited) to the kernel's.
func nodeLimits(l fsm.Limits) *node.ResourceLimits {
	if l == (fsm.Limits{}) {
		return nil
	}
	out := node.NewLimits()
	for r := range spec.Resource(spec.NumResources) {
		f := l.Get(r)
		if f.Soft == 0 && f.Hard == 0 {
			continue
		}
		soft, hard := toInfinity(f.Soft), toInfinity(f.Hard)
		if soft > hard {
			soft = hard
		}
		out[nodeResource[r]] = node.Rlimit{Soft: soft, Hard: hard}
	}
	return out
}

// formatRestart formats the table's restart policy in the restart grammar,
// leaving out the default backoff.
func formatRestart(r fsm.Restart) string {
	if r.Policy == "" || r.Policy == fsm.RestartNever {
		return string(fsm.RestartNever)
	}
	out := spec.Restart{Policy: r.Policy, Max: r.MaxRestarts, Backoff: r.BackoffBase}
	if out.Backoff == fsm.DefaultBackoffBase {
		out.Backoff = 0
	}
	return out.String()
}

// apiProcess converts a table record to the API's Process. MicroState and
// CPUMillis are left for the caller, who asks the node that runs it.
func apiProcess(p *fsm.Process) api.Process {
	out := api.Process{
		PID:         p.PID,
		PPID:        p.Parent,
		Pgid:        p.Pgid,
		Sid:         p.Sid,
		State:       string(p.State),
		Node:        p.Node,
		Command:     p.Spec.Command,
		Args:        p.Spec.Args,
		Priority:    p.Spec.Priority,
		Owner:       p.Owner,
		Incarnation: p.Incarnation,
		Restarts:    p.Restarts,
		Limits:      p.Spec.Limits.String(),
		Restart:     formatRestart(p.Spec.Restart),
		Pledge:      p.Spec.Promises,
		CreatedAt:   unixTime(p.CreatedAt),
		StartedAt:   unixTime(p.StartedAt),
		ExitedAt:    unixTime(p.ExitedAt),
	}
	if out.Args == nil {
		out.Args = []string{}
	}
	for _, u := range p.Spec.Unveil {
		out.Unveil = append(out.Unveil, u.Path+":"+u.Perms)
	}
	if !p.State.Live() {
		st := p.Status
		if st.Exited {
			code := st.Code
			out.ExitCode = &code
		} else if st.Signal != 0 {
			sig := st.Signal
			out.Signal = &sig
		}
		out.Core = st.Core
		out.Reason = st.Reason
	} else if p.Evicting {
		out.Reason = "preempted: " + p.EvictReason
	}
	return out
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// FSMStatus converts a kernel wait status to the table's.
func FSMStatus(ws node.WaitStatus, reason string) fsm.Status {
	switch {
	case ws.Signaled():
		return fsm.Status{Signal: int(ws.Signal()), Core: ws.CoreDump(), Reason: reason}
	case ws.Exited():
		return fsm.Status{Exited: true, Code: ws.ExitStatus(), Reason: reason}
	}
	// Neither an exit nor a death by signal: the kernel never reports one
	// at exit, but the table needs a valid status.
	return fsm.Status{Signal: int(ipc.SIGKILL), Reason: reason}
}

// KernelSpec builds the kernel's spec for an incarnation of a table record.
//
// The process also learns where and as which incarnation it runs, through
// VPROC_NODE and VPROC_INCARNATION (the fault suite's heartbeat prints them).
func KernelSpec(p *fsm.Process) (node.Spec, error) {
	env := make([]string, 0, len(p.Spec.Env)+2)
	env = append(env, p.Spec.Env...)
	env = append(env, "VPROC_NODE="+p.Node, "VPROC_INCARNATION="+strconv.FormatUint(p.Incarnation, 10))
	promises, err := security.ParsePromises(p.Spec.Promises)
	if err != nil {
		return node.Spec{}, fmt.Errorf("promises %q: %w", p.Spec.Promises, err)
	}
	var unveil []security.UnveilPath
	for _, u := range p.Spec.Unveil {
		unveil = append(unveil, security.UnveilPath{Path: u.Path, Perms: u.Perms})
	}
	if p.PID > math.MaxInt {
		return node.Spec{}, errors.New("pid out of the kernel's range")
	}
	if p.Pgid > math.MaxInt || p.Sid > math.MaxInt || p.Parent > math.MaxInt {
		return node.Spec{}, errors.New("group, session or parent out of the kernel's range")
	}
	ppid := 0
	if p.Parent > fsm.InitPID {
		ppid = int(p.Parent) // a parent on another node
	}
	return node.Spec{
		PID:          int(p.PID),
		Pgid:         int(p.Pgid),
		Sid:          int(p.Sid),
		ParentPID:    ppid,
		Command:      p.Spec.Command,
		Args:         p.Spec.Args,
		Env:          env,
		Cwd:          p.Spec.Cwd,
		Priority:     p.Spec.Priority,
		Limits:       nodeLimits(p.Spec.Limits),
		Owner:        p.Owner,
		Capabilities: promises,
		UnveilPaths:  unveil,
	}, nil
}

// checkEncodable makes sure that cmd survives the log's encoding: a value
// the decoder rejects (an integer out of its range) would be a corrupt log
// entry on every replica.
func checkEncodable(cmd fsm.Command) error {
	if _, err := fsm.Decode(fsm.Encode(cmd)); err != nil {
		return badRequest("the request cannot be recorded: %v", err)
	}
	return nil
}

// stampNow sets the leader time of a command that carries one. The leader
// stamps every command it submits (fsm README, "The command pipeline").
func stampNow(c fsm.Command, now int64) {
	switch c := c.(type) {
	case *fsm.Spawn:
		c.Now = now
	case *fsm.Place:
		c.Now = now
	case *fsm.Started:
		c.Now = now
	case *fsm.Stopped:
		c.Now = now
	case *fsm.Continued:
		c.Now = now
	case *fsm.Exited:
		c.Now = now
	case *fsm.Lost:
		c.Now = now
	case *fsm.Signal:
		c.Now = now
	case *fsm.Preempt:
		c.Now = now
	case *fsm.NodeLost:
		c.Now = now
	case *fsm.RegistryCreate:
		c.Now = now
	case *fsm.SetGroup:
		c.Now = now
	}
}
