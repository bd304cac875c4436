//go:build linux

package jepsen

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

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

// ---- linearizability: the process table, partitioned by PID ----

// procInput is the input of a table operation in the porcupine model.
type procInput struct {
	Op      int // the operation's id, for the visualisation
	Kind    OpKind
	PID     uint64
	Signal  int
	Restart bool
}

// procOutput is the output of a table operation in the porcupine model.
type procOutput struct {
	Outcome Outcome
	Code    string
	State   string
	Inc     uint64
	Reached bool
	Status  string
}

// procState is the model of one PID. Processes exit on their own, so a
// read may observe a live process as exited at any time; nothing else
// changes without an operation.
type procState struct {
	Spawned bool   // the spawn that got this PID has taken effect
	Final   bool   // it has reached a final state
	Status  string // with Final: the final status every read must show
	Inc     uint64 // the highest incarnation observed
	Doomed  bool   // a SIGKILL has been committed (Guarantee 4)
	Capped  bool   // with Doomed: the kill named the incarnation it reached
	Cap     uint64 // with Capped: no higher incarnation may start
}

// stepProc is the sequential specification of one PID.
func stepProc(state, input, output any) (bool, any) {
	s := state.(procState)
	in := input.(procInput)
	out := output.(procOutput)
	switch in.Kind {
	case OpSpawn:
		if s.Spawned {
			return false, s // the PID was handed out twice
		}
		s.Spawned = true
		return true, s

	case OpGet, OpWait:
		if out.Outcome != OutcomeOK {
			if absentCode(out.Code) {
				return !s.Spawned, s
			}
			return s.Spawned, s
		}
		if !s.Spawned {
			return false, s
		}
		return observe(s, out)

	case OpKill:
		switch out.Outcome {
		case OutcomeUnknown:
			return true, s
		case OutcomeFail:
			if absentCode(out.Code) {
				return !s.Spawned, s
			}
			return s.Spawned, s
		}
		if !s.Spawned {
			return false, s
		}
		if out.Reached {
			if out.Inc < s.Inc || s.Capped && out.Inc > s.Cap {
				return false, s
			}
			s.Inc = out.Inc
		}
		if in.Signal == 9 && !s.Doomed {
			s.Doomed = true
			if out.Reached {
				s.Capped, s.Cap = true, out.Inc
			}
		}
		return true, s
	}
	return false, s
}

// observe applies a read of a spawned process: incarnations never go back
// nor pass a kill's cap, and a final status never changes.
func observe(s procState, out procOutput) (bool, any) {
	if out.Inc < s.Inc || s.Capped && out.Inc > s.Cap {
		return false, s
	}
	s.Inc = out.Inc
	final := isFinal(out.State)
	if s.Final {
		return final && out.Status == s.Status, s
	}
	if final {
		s.Final, s.Status = true, out.Status
	}
	return true, s
}

// procModel is the porcupine model of the process table.
var procModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		return partitionBy(history, func(in any) string { return fmt.Sprint(in.(procInput).PID) })
	},
	Init:  func() any { return procState{} },
	Step:  stepProc,
	Equal: func(a, b any) bool { return a.(procState) == b.(procState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(procInput), output.(procOutput)
		var arg string
		switch in.Kind {
		case OpKill:
			arg = fmt.Sprintf("%d, %d", in.PID, in.Signal)
		case OpSpawn:
			arg = fmt.Sprintf("restart=%v", in.Restart)
		default:
			arg = fmt.Sprint(in.PID)
		}
		res := string(out.Outcome)
		switch {
		case out.Code != "":
			res = out.Code
		case in.Kind == OpSpawn && out.Outcome == OutcomeOK:
			res = fmt.Sprint(in.PID)
		case out.State != "":
			res = fmt.Sprintf("%s inc=%d %s", out.State, out.Inc, out.Status)
		case out.Reached:
			res = fmt.Sprintf("reached inc=%d", out.Inc)
		}
		return fmt.Sprintf("#%d %s(%s) → %s", in.Op, in.Kind, arg, res)
	},
	DescribeState: func(state any) string {
		s := state.(procState)
		switch {
		case !s.Spawned:
			return "absent"
		case s.Final:
			return fmt.Sprintf("final %s inc=%d", s.Status, s.Inc)
		case s.Capped:
			return fmt.Sprintf("live inc=%d killed cap=%d", s.Inc, s.Cap)
		case s.Doomed:
			return fmt.Sprintf("live inc=%d killed", s.Inc)
		}
		return fmt.Sprintf("live inc=%d", s.Inc)
	},
}

// procOperations turns a history into the porcupine operations of the
// table model. Operations that say nothing about the state, and unknown
// spawns whose PID never showed, are left out.
func procOperations(ops []Op) []porcupine.Operation {
	var out []porcupine.Operation
	for i := range ops {
		op := &ops[i]
		if !op.Informative() {
			continue
		}
		in := procInput{Op: op.ID, Kind: op.Kind, PID: op.PID, Signal: op.Signal, Restart: op.Restart}
		o := procOutput{Outcome: op.Outcome, Code: op.Code, State: op.State, Inc: op.Incarnation, Reached: op.Reached, Status: op.Status}
		switch op.Kind {
		case OpSpawn:
			if op.RetPID == 0 || op.Outcome == OutcomeFail {
				continue
			}
			in.PID = op.RetPID
		case OpGet, OpWait, OpKill:
			if op.PID == 0 {
				continue
			}
		default:
			continue
		}
		out = append(out, porcupine.Operation{
			ClientId: op.Stream, Input: in, Output: o, Call: op.Call, Return: op.Return, Metadata: op.Node,
		})
	}
	return out
}

// ---- linearizability: the registries, partitioned by name ----

// regInput is the input of a registry operation in the porcupine model.
type regInput struct {
	Op       int
	Kind     OpKind
	Registry string
	Name     string
}

// regOutput is the output of a registry operation in the porcupine model.
type regOutput struct {
	Outcome Outcome
	Code    string
}

// stepRegistry is the sequential specification of one name (Guarantee 7):
// it names at most one object at a time.
func stepRegistry(state, input, output any) (bool, any) {
	exists := state.(bool)
	in, out := input.(regInput), output.(regOutput)
	switch in.Kind {
	case OpCreate:
		switch out.Outcome {
		case OutcomeOK:
			return !exists, true
		case OutcomeUnknown:
			return true, true // created now, or refused because it existed
		}
		return exists, exists // name_exists
	case OpUnlink:
		switch out.Outcome {
		case OutcomeOK:
			return exists, false
		case OutcomeUnknown:
			return true, false
		}
		return !exists, exists // no_such_name
	}
	return false, exists
}

// registryModel is the porcupine model of the FIFO and queue registries.
var registryModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		return partitionBy(history, func(in any) string { r := in.(regInput); return r.Registry + ":" + r.Name })
	},
	Init: func() any { return false },
	Step: stepRegistry,
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		res := string(out.Outcome)
		if out.Code != "" {
			res = out.Code
		}
		return fmt.Sprintf("#%d %s %s %s → %s", in.Op, in.Registry, in.Kind, in.Name, res)
	},
	DescribeState: func(state any) string {
		if state.(bool) {
			return "exists"
		}
		return "absent"
	},
}

// registryOperations turns a history into the operations of the registry
// model.
func registryOperations(ops []Op) []porcupine.Operation {
	var out []porcupine.Operation
	for i := range ops {
		op := &ops[i]
		if op.Kind != OpCreate && op.Kind != OpUnlink || !op.Informative() {
			continue
		}
		out = append(out, porcupine.Operation{
			ClientId: op.Stream,
			Input:    regInput{Op: op.ID, Kind: op.Kind, Registry: op.Registry, Name: op.Name},
			Output:   regOutput{Outcome: op.Outcome, Code: op.Code},
			Call:     op.Call, Return: op.Return, Metadata: op.Node,
		})
	}
	return out
}

// partitionBy splits a history by a key of its inputs, in order of first
// appearance.
func partitionBy(history []porcupine.Operation, key func(any) string) [][]porcupine.Operation {
	idx := make(map[string]int)
	var parts [][]porcupine.Operation
	for _, op := range history {
		k := key(op.Input)
		i, ok := idx[k]
		if !ok {
			i = len(parts)
			idx[k] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}

// CheckLinearizable checks the table operations (spawn, kill, get, wait) and
// the registry operations (create, unlink) with porcupine, each under
// timeout. On a violation it saves the visualisation, with the faults as
// annotations, into outDir (when it is not empty) and names the failing
// partitions.
func CheckLinearizable(ops []Op, faults []Fault, timeout time.Duration, outDir string) []Verdict {
	return []Verdict{
		checkModel("linearizable table", procModel, procOperations(ops), faults, timeout, outDir, "lin-table.html"),
		checkModel("linearizable registries", registryModel, registryOperations(ops), faults, timeout, outDir, "lin-registries.html"),
	}
}

// maxOpsShown bounds the operations a failing partition lists in the
// report; the visualisation has them all.
const maxOpsShown = 16

func checkModel(name string, model porcupine.Model, history []porcupine.Operation, faults []Fault,
	timeout time.Duration, outDir, file string) Verdict {
	if len(history) == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no operations"}
	}
	parts := model.Partition(history)
	res, info := porcupine.CheckOperationsVerbose(model, history, timeout)
	switch res {
	case porcupine.Ok:
		return Verdict{Check: name, Status: StatusPass, Summary: fmt.Sprintf("%d operations in %d partitions", len(history), len(parts))}
	case porcupine.Unknown:
		return Verdict{Check: name, Status: StatusInconclusive, Summary: fmt.Sprintf("porcupine timed out after %v on %d operations", timeout, len(history))}
	}
	v := Verdict{Check: name, Status: StatusFail, Summary: fmt.Sprintf("not linearizable (%d operations in %d partitions)", len(history), len(parts))}
	// Name the partitions that fail on their own.
	single := model
	single.Partition = nil
	each := max(timeout/time.Duration(len(parts)+1), time.Second)
	for _, p := range parts {
		if porcupine.CheckOperationsTimeout(single, p, each) == porcupine.Illegal {
			var descs []string
			for i, op := range p {
				if i == maxOpsShown {
					descs = append(descs, fmt.Sprintf("… %d more (see the visualisation)", len(p)-i))
					break
				}
				descs = append(descs, model.DescribeOperation(op.Input, op.Output))
			}
			if len(v.Violations) < maxViolations {
				v.Violations = append(v.Violations, strings.Join(descs, "; "))
			}
		}
	}
	if outDir != "" {
		info.AddAnnotations(faultAnnotations(faults))
		path := filepath.Join(outDir, file)
		if err := porcupine.VisualizePath(model, info, path); err != nil {
			v.Violations = append(v.Violations, "visualisation not saved: "+err.Error())
		} else {
			v.Artifact = path
		}
	}
	return v
}

// faultAnnotations shows the faults in porcupine's visualisation.
func faultAnnotations(faults []Fault) []porcupine.Annotation {
	var out []porcupine.Annotation
	for _, f := range faults {
		end := f.End
		if end == Unknown {
			end = f.Start
		}
		out = append(out, porcupine.Annotation{
			Tag: "nemesis", Start: f.Start, End: end,
			Description: string(f.Kind), Details: strings.Join(f.Targets, ",") + " " + f.Detail,
			BackgroundColor: "#f4cccc",
		})
	}
	return out
}

// ---- list: per-PID inclusion ----

// CheckListInclusion checks every successful list against the spawns: a PID
// whose spawn was acknowledged before the list was called must appear (the
// suite's agents never reap during a run), and a PID whose spawn was called
// after the list returned must not.
func CheckListInclusion(ops []Op, reaped map[uint64]int64) Verdict {
	spawns := ackedSpawns(ops)
	var lists int
	var v violations
	for i := range ops {
		l := &ops[i]
		if l.Kind != OpList || l.Outcome != OutcomeOK {
			continue
		}
		lists++
		seen := make(map[uint64]bool, len(l.PIDs))
		for _, p := range l.PIDs {
			seen[p] = true
		}
		for _, s := range spawns {
			if r, ok := reaped[s.RetPID]; ok && r < l.Call {
				continue
			}
			switch {
			case s.Outcome == OutcomeOK && s.Return < l.Call && !seen[s.RetPID]:
				v.addf("list #%d (called %s) misses PID %d, whose spawn #%d was acknowledged at %s",
					l.ID, fmtTime(l.Call), s.RetPID, s.ID, fmtTime(s.Return))
			case s.Call > l.Return && seen[s.RetPID]:
				v.addf("list #%d (returned %s) shows PID %d, whose spawn #%d was only called at %s",
					l.ID, fmtTime(l.Return), s.RetPID, s.ID, fmtTime(s.Call))
			}
		}
	}
	if lists == 0 {
		return Verdict{Check: "list inclusion", Status: StatusSkipped, Summary: "no successful list"}
	}
	return v.verdict("list inclusion", fmt.Sprintf("%d lists against %d spawns", lists, len(spawns)))
}

// ---- unique PIDs (Guarantee 1) and safe retries (Guarantee 9) ----

// CheckUniquePIDs checks that no PID was handed out twice, that none is 0
// or init's, that a spawn called after another was acknowledged got a
// higher PID (the counter never goes back, even across failover or
// restore), and that the final read lists each PID once. dups are the
// owner tags found on more than one PID (ResolveSpawns): a retried spawn
// applied twice.
func CheckUniquePIDs(ops []Op, final []api.Process, dups map[string][]uint64) Verdict {
	spawns := ackedSpawns(ops)
	var v violations
	byPID := make(map[uint64][]int)
	for _, s := range spawns {
		if s.RetPID <= 1 {
			v.addf("spawn #%d got PID %d", s.ID, s.RetPID)
		}
		byPID[s.RetPID] = append(byPID[s.RetPID], s.ID)
	}
	for _, pid := range sortedKeys(byPID) {
		if ids := byPID[pid]; len(ids) > 1 {
			v.addf("PID %d handed out to spawns %v", pid, ids)
		}
	}
	// Real-time order: the highest PID acknowledged before a spawn's call
	// must be below its own.
	acked := make([]*Op, 0, len(spawns))
	for _, s := range spawns {
		if s.Outcome == OutcomeOK {
			acked = append(acked, s)
		}
	}
	byReturn := append([]*Op(nil), acked...)
	sort.Slice(byReturn, func(a, b int) bool { return byReturn[a].Return < byReturn[b].Return })
	byCall := append([]*Op(nil), acked...)
	sort.Slice(byCall, func(a, b int) bool { return byCall[a].Call < byCall[b].Call })
	var hi *Op
	j := 0
	for _, s := range byCall {
		for ; j < len(byReturn) && byReturn[j].Return < s.Call; j++ {
			if hi == nil || byReturn[j].RetPID > hi.RetPID {
				hi = byReturn[j]
			}
		}
		if hi != nil && hi.RetPID >= s.RetPID && hi.ID != s.ID {
			v.addf("spawn #%d got PID %d after spawn #%d had been acknowledged with PID %d", s.ID, s.RetPID, hi.ID, hi.RetPID)
		}
	}
	seen := make(map[uint64]int)
	for _, p := range final {
		seen[p.PID]++
	}
	for _, pid := range sortedKeys(seen) {
		if seen[pid] > 1 {
			v.addf("the final read lists PID %d %d times", pid, seen[pid])
		}
	}
	for _, tok := range sortedKeys(dups) {
		v.addf("spawn %s applied %d times: PIDs %v (Guarantee 9)", tok, len(dups[tok]), dups[tok])
	}
	return v.verdict("unique PIDs", fmt.Sprintf("%d PIDs, allocated in real-time order", len(byPID)))
}

// ---- no lost spawn (Guarantee 2) ----

// CheckNoLostSpawn checks that every spawn known to have applied is in the
// final consistent read, unless it was reaped (reaped maps a PID to the
// time of a recorded reap).
func CheckNoLostSpawn(ops []Op, final *FinalRead, reaped map[uint64]int64) Verdict {
	const name = "no lost spawn"
	if final == nil || !final.OK {
		why := "no final read"
		if final != nil {
			why = final.Err
		}
		return Verdict{Check: name, Status: StatusFail, Summary: "no consistent read after healing: " + why}
	}
	spawns := ackedSpawns(ops)
	var v violations
	for _, s := range spawns {
		if _, ok := reaped[s.RetPID]; ok {
			continue
		}
		if _, ok := final.Procs[s.RetPID]; !ok {
			what := "acknowledged"
			if s.Resolved {
				what = "resolved"
			}
			v.addf("PID %d (spawn #%d, %s at %s) is missing from the final read", s.RetPID, s.ID, what, fmtTime(s.Return))
		}
	}
	return v.verdict(name, fmt.Sprintf("%d acknowledged PIDs all present", len(spawns)))
}

// ---- one runner per PID (Guarantee 3) ----

// runKey is one incarnation of a PID on one node.
type runKey struct {
	Inc  uint64
	Node string
}

// interval is the span of the heartbeats of one run.
type interval struct {
	from, to int64
	n        int
}

// CheckOneRunner checks that no two runs of a PID, different incarnations
// or the same incarnation on different nodes, overlap in monotonic time.
func CheckOneRunner(beats []Beat) Verdict {
	const name = "one runner per PID"
	if len(beats) == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no heartbeats recorded"}
	}
	runs := make(map[uint64]map[runKey]*interval)
	for _, b := range beats {
		m := runs[b.PID]
		if m == nil {
			m = make(map[runKey]*interval)
			runs[b.PID] = m
		}
		k := runKey{b.Incarnation, b.Node}
		iv := m[k]
		if iv == nil {
			m[k] = &interval{from: b.At, to: b.At, n: 1}
			continue
		}
		iv.from, iv.to, iv.n = min(iv.from, b.At), max(iv.to, b.At), iv.n+1
	}
	var v violations
	var nruns int
	for _, pid := range sortedKeys(runs) {
		m := runs[pid]
		keys := make([]runKey, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return m[keys[a]].from < m[keys[b]].from })
		nruns += len(keys)
		for a := 0; a < len(keys); a++ {
			for b := a + 1; b < len(keys); b++ {
				x, y := m[keys[a]], m[keys[b]]
				if x.from <= y.to && y.from <= x.to {
					v.addf("PID %d: incarnation %d on %s ran %s..%s, overlapping incarnation %d on %s at %s..%s",
						pid, keys[a].Inc, keys[a].Node, fmtTime(x.from), fmtTime(x.to),
						keys[b].Inc, keys[b].Node, fmtTime(y.from), fmtTime(y.to))
				}
			}
		}
	}
	return v.verdict(name, fmt.Sprintf("%d heartbeats of %d runs of %d PIDs, none overlapping", len(beats), nruns, len(runs)))
}

// isKill reports whether a fault kills its targets.
func isKill(k FaultKind) bool {
	switch k {
	case FaultKillOne, FaultKillMinority, FaultKillLeader, FaultKillAll:
		return true
	}
	return false
}

// CheckNoRerun checks that no run survives its node's kill: every process
// dies with its agent, so heartbeats of one incarnation on one node both
// before a kill of that node and after its restart mean that the node ran
// that incarnation again (crash recovery must report it lost, and only the
// restart policy may run it again, as a new incarnation).
func CheckNoRerun(beats []Beat, faults []Fault) Verdict {
	const name = "nothing runs twice after a crash"
	if len(beats) == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no heartbeats recorded"}
	}
	type killed struct{ start, end int64 }
	kills := map[string][]killed{}
	nkills := 0
	for _, f := range faults {
		if !isKill(f.Kind) || f.Error != "" {
			continue
		}
		for _, n := range f.Targets {
			kills[n] = append(kills[n], killed{f.Start, f.End})
			nkills++
		}
	}
	type runID struct {
		pid uint64
		runKey
	}
	runs := map[runID][]int64{}
	for _, b := range beats {
		k := runID{b.PID, runKey{b.Incarnation, b.Node}}
		runs[k] = append(runs[k], b.At)
	}
	var v violations
	for k, ats := range runs {
		for _, kl := range kills[k.Node] {
			var before, after int64 = -1, -1
			for _, at := range ats {
				if at < kl.start && at > before {
					before = at
				}
				if at > kl.end && (after < 0 || at < after) {
					after = at
				}
			}
			if before >= 0 && after >= 0 {
				v.addf("PID %d incarnation %d ran on %s at %s, before the kill of %s..%s, and again at %s",
					k.pid, k.Inc, k.Node, fmtTime(before), fmtTime(kl.start), fmtTime(kl.end), fmtTime(after))
				break
			}
		}
	}
	return v.verdict(name, fmt.Sprintf("%d runs, %d node kills, no run outlived its node", len(runs), nkills))
}

// ---- kill is final (Guarantee 4) ----

// CheckKillFinal checks every acknowledged SIGKILL: no incarnation above the
// one it reached runs after its call, the incarnation it reached completes
// no system call later than grace after it returned (the node applies the
// kill, or its lease ends, within the fence timeout), and the final read
// shows the process exited (or lost, without a restart policy). It also
// checks that every read of a final status agrees with the final read.
func CheckKillFinal(ops []Op, beats []Beat, final *FinalRead, grace time.Duration) Verdict {
	const name = "kill is final"
	// The first acknowledged SIGKILL of each PID.
	kills := make(map[uint64]*Op)
	for i := range ops {
		op := &ops[i]
		if op.Kind != OpKill || op.Signal != 9 || op.Outcome != OutcomeOK {
			continue
		}
		if k := kills[op.PID]; k == nil || op.Return < k.Return {
			kills[op.PID] = op
		}
	}
	byPID := make(map[uint64][]Beat)
	for _, b := range beats {
		if kills[b.PID] != nil {
			byPID[b.PID] = append(byPID[b.PID], b)
		}
	}
	var v violations
	for _, pid := range sortedKeys(kills) {
		k := kills[pid]
		for _, b := range byPID[pid] {
			switch {
			case k.Reached && b.Incarnation > k.Incarnation && b.At >= k.Call:
				v.addf("PID %d: incarnation %d ran on %s at %s, after kill #%d (called %s) reached incarnation %d",
					pid, b.Incarnation, b.Node, fmtTime(b.At), k.ID, fmtTime(k.Call), k.Incarnation)
			case b.At > k.Return+int64(grace):
				v.addf("PID %d: incarnation %d ran on %s at %s, more than %v after kill #%d returned at %s",
					pid, b.Incarnation, b.Node, fmtTime(b.At), grace, k.ID, fmtTime(k.Return))
			}
		}
		if final == nil || !final.OK {
			continue
		}
		p, ok := final.Procs[pid]
		if ok && !isFinal(p.State) {
			v.addf("PID %d is %s on node %q in the final read, after kill #%d returned at %s",
				pid, p.State, p.Node, k.ID, fmtTime(k.Return))
		}
	}
	// Every read of a final status agrees with the final read.
	if final != nil && final.OK {
		for i := range ops {
			op := &ops[i]
			if op.Kind != OpGet && op.Kind != OpWait || op.Outcome != OutcomeOK || !isFinal(op.State) {
				continue
			}
			p, ok := final.Procs[op.PID]
			if ok && isFinal(p.State) && StatusOf(&p) != op.Status {
				v.addf("PID %d: %s #%d saw status %q, the final read %q", op.PID, op.Kind, op.ID, op.Status, StatusOf(&p))
			}
		}
	}
	return v.verdict(name, fmt.Sprintf("%d acknowledged SIGKILLs final", len(kills)))
}

// ---- bounded programs finish (liveness after healing) ----

// bounded reports whether a spawn runs a program that ends by itself.
func bounded(op *Op) bool {
	return op.Command == "sleep" || op.Command == "true" || op.Command == ModuleProgram
}

// CheckBoundedFinish checks that every acknowledged process of a program
// that ends by itself (sleep, true, the module) is final in the final read, which is
// retried after healing until they are or the longest sleep and the lost
// timeout have passed: a process left running on a node that died or left
// was never declared lost.
func CheckBoundedFinish(ops []Op, final *FinalRead) Verdict {
	const name = "bounded programs finish"
	if final == nil || !final.OK {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no final read"}
	}
	var v violations
	n := 0
	for _, s := range ackedSpawns(ops) {
		if !bounded(s) || s.Outcome != OutcomeOK { // a resolved spawn may have applied just before the read
			continue
		}
		n++
		if p, ok := final.Procs[s.RetPID]; ok && !isFinal(p.State) {
			v.addf("PID %d (%s %s, spawn #%d acknowledged at %s) is still %s on node %q in the final read at %s",
				s.RetPID, s.Command, strings.Join(s.Args, " "), s.ID, fmtTime(s.Return), p.State, p.Node, fmtTime(final.At))
		}
	}
	return v.verdict(name, fmt.Sprintf("%d processes of sleep, true and the module all final", n))
}

// ---- signals at most once (Guarantee 5) ----

// CheckSignalsAtMostOnce checks that no heartbeat process caught a signal
// more often than kill requests of that signal to its PID may have been
// made (acknowledged or unknown). Standard signals merge while pending, so
// fewer deliveries are fine. Only the signals in counted are checked.
func CheckSignalsAtMostOnce(ops []Op, deliveries []Delivery, counted []int) Verdict {
	const name = "signals at most once"
	type key struct {
		pid uint64
		sig int
	}
	watch := make(map[int]bool)
	for _, s := range counted {
		watch[s] = true
	}
	sent := make(map[key]int)
	var requests int
	for i := range ops {
		op := &ops[i]
		if op.Kind == OpKill && watch[op.Signal] && (op.Outcome == OutcomeOK || op.Outcome == OutcomeUnknown) {
			sent[key{op.PID, op.Signal}]++
			requests++
		}
	}
	if requests == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no counted signal was sent"}
	}
	got := make(map[key]int)
	for _, d := range deliveries {
		if watch[d.Signal] {
			got[key{d.PID, d.Signal}]++
		}
	}
	var v violations
	keys := make([]key, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		return keys[a].pid < keys[b].pid || keys[a].pid == keys[b].pid && keys[a].sig < keys[b].sig
	})
	var total int
	for _, k := range keys {
		total += got[k]
		if got[k] > sent[k] {
			v.addf("PID %d caught signal %d %d times, but at most %d requests were made", k.pid, k.sig, got[k], sent[k])
		}
	}
	if len(deliveries) == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: fmt.Sprintf("%d requests sent, no delivery reported", requests)}
	}
	return v.verdict(name, fmt.Sprintf("%d deliveries for %d requests", total, requests))
}

// ---- convergence (Guarantee 8) ----

// StateSample is one node's answer to GET /v1/state.
type StateSample struct {
	Node string        `json:"node"`          // the node asked
	Info api.StateInfo `json:"info"`          // its answer
	Err  string        `json:"err,omitempty"` // why it gave none
}

// agree reports whether every node of a round answered with the same
// applied index and state hash.
func agree(round []StateSample) bool {
	if len(round) == 0 {
		return false
	}
	for _, s := range round {
		if s.Err != "" || s.Info.AppliedIndex != round[0].Info.AppliedIndex || s.Info.Hash != round[0].Info.Hash {
			return false
		}
	}
	return true
}

// CheckConvergence checks the rounds of GET /v1/state taken after healing:
// some round must show every node at the same applied index with the same
// state hash, and no two nodes may ever report different hashes at the
// same index.
func CheckConvergence(rounds [][]StateSample) Verdict {
	const name = "convergence"
	if len(rounds) == 0 {
		return Verdict{Check: name, Status: StatusFail, Summary: "no state was read"}
	}
	var v violations
	hashAt := make(map[uint64]StateSample)
	conflicts := make(map[uint64]bool)
	converged := -1
	for r, round := range rounds {
		for _, s := range round {
			if s.Err != "" {
				continue
			}
			prev, ok := hashAt[s.Info.AppliedIndex]
			switch {
			case !ok:
				hashAt[s.Info.AppliedIndex] = s
			case prev.Info.Hash != s.Info.Hash && !conflicts[s.Info.AppliedIndex]:
				conflicts[s.Info.AppliedIndex] = true
				v.addf("at applied index %d %s has hash %s but %s has %s", s.Info.AppliedIndex, prev.Node, prev.Info.Hash, s.Node, s.Info.Hash)
			}
		}
		if converged < 0 && agree(round) {
			converged = r
		}
	}
	if converged < 0 {
		last := rounds[len(rounds)-1]
		var parts []string
		for _, s := range last {
			if s.Err != "" {
				parts = append(parts, fmt.Sprintf("%s: %s", s.Node, s.Err))
			} else {
				parts = append(parts, fmt.Sprintf("%s: index %d hash %s", s.Node, s.Info.AppliedIndex, s.Info.Hash))
			}
		}
		v.addf("the nodes never agreed in %d rounds; last: %s", len(rounds), strings.Join(parts, "; "))
	}
	pass := ""
	if converged >= 0 {
		s := rounds[converged][0].Info
		pass = fmt.Sprintf("%d nodes at applied index %d, hash %s (round %d)", len(rounds[converged]), s.AppliedIndex, s.Hash, converged+1)
	}
	return v.verdict(name, pass)
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
