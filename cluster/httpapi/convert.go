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
)

// Conversions between the API's JSON (package api), the replicated table
// (package fsm) and the local kernel (package node), and the parsers of the
// command-line grammars a SpawnRequest carries.

// StdinMarker is the environment entry that records, in the table's spec,
// that a spawn asked for standard input: fsm.Spec has no field for it. The
// runner strips it before the process starts, so the program never sees it;
// a client may not set it itself.
const StdinMarker = "VPROC_STDIN=1"

// reservedEnvPrefix is the key a client's environment may not use.
const reservedEnvPrefix = "VPROC_STDIN="

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
func spawnCommand(req *api.SpawnRequest, programs *node.Registry) (*fsm.Spawn, error) {
	if req.Command == "" {
		return nil, badRequest("command is empty")
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
		if strings.HasPrefix(e, reservedEnvPrefix) {
			return nil, badRequest("env key %q is reserved", strings.TrimSuffix(reservedEnvPrefix, "="))
		}
	}
	limits, err := parseLimits(req.Limits)
	if err != nil {
		return nil, err
	}
	restart, err := parseRestart(req.Restart)
	if err != nil {
		return nil, err
	}
	cons, err := parseConstraints(req.Constraints)
	if err != nil {
		return nil, err
	}
	uses, err := parseUses(req.Uses)
	if err != nil {
		return nil, err
	}
	env := req.Env
	if req.Stdin {
		env = append(append(make([]string, 0, len(req.Env)+1), req.Env...), StdinMarker)
	}
	owner := req.Owner
	if owner == "" {
		owner = "root"
	}
	return &fsm.Spawn{
		Parent: fsm.InitPID,
		Owner:  owner,
		Spec: fsm.Spec{
			Command:     req.Command,
			Args:        req.Args,
			Env:         env,
			Cwd:         req.Cwd,
			Priority:    req.Priority,
			Limits:      limits,
			Restart:     restart,
			Constraints: cons,
			Node:        req.Node,
			Uses:        uses,
		},
	}, nil
}

// parseLimits parses limit items in node.ParseLimits's grammar
// ("cpu=2s:5s,mem=64M"), each later item adding to the earlier ones. A
// resource left out is inherited from the parent (for init: unlimited).
// The table stores 0 for "unlimited", so a limit of 0 cannot be expressed
// and is rejected.
func parseLimits(items []string) (fsm.Limits, error) {
	var out fsm.Limits
	for _, item := range items {
		rl, err := node.ParseLimits(nil, item)
		if err != nil {
			return fsm.Limits{}, badRequest("%v", err)
		}
		// Only the resources this item names change: find them by parsing
		// each name again.
		for _, part := range strings.Split(item, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			r, ok := resourceByName(name)
			if !ok {
				continue
			}
			l := rl[r]
			if l.Soft == 0 || l.Hard == 0 {
				return fsm.Limits{}, badRequest("bad limit %q: a limit of 0 is not supported (leave the resource out for no limit)", strings.TrimSpace(part))
			}
			*limitField(&out, r) = fsm.Limit{Soft: fromInfinity(l.Soft), Hard: fromInfinity(l.Hard)}
		}
	}
	return out, nil
}

func resourceByName(name string) (node.Resource, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for r := node.RCPU; r <= node.RFSize; r++ {
		if r.String() == name {
			return r, true
		}
	}
	return 0, false
}

func limitField(l *fsm.Limits, r node.Resource) *fsm.Limit {
	switch r {
	case node.RCPU:
		return &l.CPU
	case node.RWall:
		return &l.Wall
	case node.RNoFile:
		return &l.NoFile
	case node.RNProc:
		return &l.NProc
	case node.RMem:
		return &l.Mem
	default:
		return &l.FSize
	}
}

func fromInfinity(v uint64) uint64 {
	if v == node.Infinity {
		return 0
	}
	return v
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
	for r := node.RCPU; r <= node.RFSize; r++ {
		f := limitField(&l, r)
		if f.Soft == 0 && f.Hard == 0 {
			continue
		}
		soft, hard := toInfinity(f.Soft), toInfinity(f.Hard)
		if soft > hard {
			soft = hard
		}
		out[r] = node.Rlimit{Soft: soft, Hard: hard}
	}
	return out
}

// formatLimits formats the table's limits in the limit grammar.
func formatLimits(l fsm.Limits) string { return nodeLimits(l).String() }

// parseRestart parses "never|on-failure|always[:max[:backoff]]": max is
// the number of restarts (0: no bound) and backoff the delay before the
// first restart (a Go duration; it doubles up to max(1m, backoff)).
func parseRestart(s string) (fsm.Restart, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return fsm.Restart{}, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return fsm.Restart{}, badRequest("bad restart %q: want never|on-failure|always[:max[:backoff]]", s)
	}
	var r fsm.Restart
	switch p := fsm.RestartPolicy(strings.ToLower(parts[0])); p {
	case fsm.RestartNever, fsm.RestartOnFailure, fsm.RestartAlways:
		r.Policy = p
	default:
		return fsm.Restart{}, badRequest("bad restart policy %q: want never, on-failure or always", parts[0])
	}
	if len(parts) > 1 && r.Policy == fsm.RestartNever {
		return fsm.Restart{}, badRequest("bad restart %q: never takes no max or backoff", s)
	}
	if len(parts) > 1 && parts[1] != "" {
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 0 || n > math.MaxInt32 {
			return fsm.Restart{}, badRequest("bad restart %q: max must be a count from 0 to %d", s, math.MaxInt32)
		}
		r.MaxRestarts = n
	}
	if len(parts) > 2 {
		d, err := time.ParseDuration(parts[2])
		if err != nil || d <= 0 {
			return fsm.Restart{}, badRequest("bad restart %q: backoff must be a positive duration such as 1s", s)
		}
		r.BackoffBase = d
	}
	return r, nil
}

// formatRestart formats a restart policy in parseRestart's grammar.
func formatRestart(r fsm.Restart) string {
	if r.Policy == "" || r.Policy == fsm.RestartNever {
		return string(fsm.RestartNever)
	}
	s := string(r.Policy)
	if r.MaxRestarts != 0 || (r.BackoffBase != 0 && r.BackoffBase != fsm.DefaultBackoffBase) {
		s += ":" + strconv.Itoa(r.MaxRestarts)
		if r.BackoffBase != 0 && r.BackoffBase != fsm.DefaultBackoffBase {
			s += ":" + r.BackoffBase.String()
		}
	}
	return s
}

// parseConstraints parses "label=value" items.
func parseConstraints(items []string) ([]fsm.Constraint, error) {
	var out []fsm.Constraint
	for _, it := range items {
		k, v, ok := strings.Cut(strings.TrimSpace(it), "=")
		if !ok || k == "" {
			return nil, badRequest("bad constraint %q: want label=value", it)
		}
		out = append(out, fsm.Constraint{Label: k, Value: v})
	}
	return out, nil
}

// parseUses parses "kind:name" items, each possibly a comma-separated list
// ("mq:/q,fifo:/run/f,shm:/s").
func parseUses(items []string) ([]fsm.Use, error) {
	var out []fsm.Use
	for _, item := range items {
		for _, it := range strings.Split(item, ",") {
			it = strings.TrimSpace(it)
			if it == "" {
				continue
			}
			k, name, ok := strings.Cut(it, ":")
			kind := fsm.Kind(strings.ToLower(k))
			switch {
			case !ok || name == "":
				return nil, badRequest("bad use %q: want mq:/name, fifo:/path or shm:/name", it)
			case kind != fsm.KindMQ && kind != fsm.KindFIFO && kind != fsm.KindSHM:
				return nil, badRequest("bad use %q: kind must be mq, fifo or shm", it)
			case !strings.HasPrefix(name, "/"):
				return nil, badRequest("bad use %q: the name must start with /", it)
			}
			out = append(out, fsm.Use{Kind: kind, Name: name})
		}
	}
	return out, nil
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
		Limits:      formatLimits(p.Spec.Limits),
		Restart:     formatRestart(p.Spec.Restart),
		CreatedAt:   unixTime(p.CreatedAt),
		StartedAt:   unixTime(p.StartedAt),
		ExitedAt:    unixTime(p.ExitedAt),
	}
	if out.Args == nil {
		out.Args = []string{}
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
// It strips the stdin marker and reports whether it was there.
//
// The process also learns where and as which incarnation it runs, through
// VPROC_NODE and VPROC_INCARNATION (the fault suite's heartbeat prints them).
func KernelSpec(p *fsm.Process) (node.Spec, bool, error) {
	env := make([]string, 0, len(p.Spec.Env)+2)
	stdin := false
	for _, e := range p.Spec.Env {
		if e == StdinMarker {
			stdin = true
			continue
		}
		env = append(env, e)
	}
	env = append(env, "VPROC_NODE="+p.Node, "VPROC_INCARNATION="+strconv.FormatUint(p.Incarnation, 10))
	promises, err := security.ParsePromises(p.Spec.Promises)
	if err != nil {
		return node.Spec{}, false, fmt.Errorf("promises %q: %w", p.Spec.Promises, err)
	}
	var unveil []security.UnveilPath
	for _, u := range p.Spec.Unveil {
		unveil = append(unveil, security.UnveilPath{Path: u.Path, Perms: u.Perms})
	}
	if p.PID > math.MaxInt {
		return node.Spec{}, false, errors.New("pid out of the kernel's range")
	}
	if p.Pgid > math.MaxInt || p.Sid > math.MaxInt || p.Parent > math.MaxInt {
		return node.Spec{}, false, errors.New("group, session or parent out of the kernel's range")
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
	}, stdin, nil
}

// wantsStdin reports whether the spec asked for standard input.
func wantsStdin(s *fsm.Spec) bool {
	for _, e := range s.Env {
		if e == StdinMarker {
			return true
		}
	}
	return false
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
	}
}
