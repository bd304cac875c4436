//go:build linux

package jepsen

import (
	"fmt"
	"sort"

	"github.com/vproc/vproc/cluster/api"
)

// Status is a checker's verdict.
type Status string

// Verdicts. Only StatusFail fails the run: a check that could not run is
// skipped, and one that ran out of time is inconclusive.
const (
	StatusPass         Status = "pass"
	StatusFail         Status = "FAIL"
	StatusSkipped      Status = "skipped"
	StatusInconclusive Status = "inconclusive"
)

// maxViolations bounds the violations a verdict lists.
const maxViolations = 20

// Verdict is the result of one checker.
type Verdict struct {
	Check      string   `json:"check"`                // the checker's name
	Status     Status   `json:"status"`               // its verdict
	Summary    string   `json:"summary"`              // one line on what was checked, or why not
	Violations []string `json:"violations,omitempty"` // the first violations found
	Artifact   string   `json:"artifact,omitempty"`   // a file that shows the failure, such as porcupine's visualisation
}

// violations collects the violations of one check, keeping the first
// maxViolations and counting the rest.
type violations struct {
	list  []string
	total int
}

func (v *violations) addf(format string, args ...any) {
	v.total++
	if len(v.list) < maxViolations {
		v.list = append(v.list, fmt.Sprintf(format, args...))
	}
}

// verdict returns a pass or a fail with the collected violations.
func (v *violations) verdict(check, pass string) Verdict {
	if v.total == 0 {
		return Verdict{Check: check, Status: StatusPass, Summary: pass}
	}
	list := v.list
	if v.total > len(list) {
		list = append(list, fmt.Sprintf("… and %d more", v.total-len(list)))
	}
	return Verdict{Check: check, Status: StatusFail, Summary: fmt.Sprintf("%d violation(s)", v.total), Violations: list}
}

// FinalRead is the consistent read of the whole table taken after every
// fault has healed.
type FinalRead struct {
	OK    bool                   // the read succeeded
	Err   string                 // why it did not
	At    int64                  // when it was called (history time)
	Procs map[uint64]api.Process // by PID, exited and lost included
}

// NewFinalRead indexes a process list taken at time at.
func NewFinalRead(at int64, procs []api.Process) *FinalRead {
	f := &FinalRead{OK: true, At: at, Procs: make(map[uint64]api.Process, len(procs))}
	for _, p := range procs {
		f.Procs[p.PID] = p
	}
	return f
}

// StatusOf is the final status of a process the way the checkers compare
// it: "code=N", "sig=N", "lost", or "" for a process with none.
func StatusOf(p *api.Process) string {
	switch {
	case p.Signal != nil:
		return fmt.Sprintf("sig=%d", *p.Signal)
	case p.ExitCode != nil:
		return fmt.Sprintf("code=%d", *p.ExitCode)
	case p.State == "lost":
		return "lost"
	}
	return ""
}

// isFinal reports whether a table state is final: exited, or lost (its
// node was lost and its restart policy gave up; a process the policy
// restarts goes back to pending instead).
func isFinal(state string) bool { return state == "exited" || state == "lost" }

// absentCode reports whether an error code says the PID is not in the
// table.
func absentCode(code string) bool { return code == api.CodeNoSuchProcess || code == api.CodeNotFound }

// ackedSpawns returns the spawns known to have applied, with their PIDs:
// the acknowledged ones and the unknown ones the final read resolved.
func ackedSpawns(ops []Op) []*Op {
	var out []*Op
	for i := range ops {
		op := &ops[i]
		if op.Kind == OpSpawn && op.RetPID != 0 && (op.Outcome == OutcomeOK || op.Resolved) {
			out = append(out, op)
		}
	}
	return out
}

// fmtTime shows a history time as seconds since the start.
func fmtTime(t int64) string {
	if t == Unknown {
		return "∞"
	}
	return fmt.Sprintf("%.3fs", float64(t)/1e9)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[K interface{ ~uint64 | ~int | ~string }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	return keys
}
