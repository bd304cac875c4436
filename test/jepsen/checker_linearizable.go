//go:build linux

package jepsen

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

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
