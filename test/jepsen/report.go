//go:build linux

package jepsen

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// CheckInput is everything the checkers look at.
type CheckInput struct {
	Ops        []Op            // the history's operations
	Beats      []Beat          // the heartbeats
	Deliveries []Delivery      // the signals the heartbeats caught
	Faults     []Fault         // the faults, shown in the visualisation
	Final      *FinalRead      // the consistent read after healing
	Rounds     [][]StateSample // the convergence rounds
	Crashes    []Crash         // the agents that exited on their own
	// Heartbeats says whether heartbeat processes ran; without them the
	// one-runner and signal checks are skipped.
	Heartbeats bool
	// Pipelines are the pipelines with a stage on another node.
	Pipelines  []PipelineRun
	KillGrace  time.Duration // see Config.KillGrace
	LinTimeout time.Duration // bounds porcupine
	// OutDir receives porcupine's visualisation on a violation; "" keeps
	// none.
	OutDir string
}

// CheckAll resolves the unknown spawns the final read reveals (in place, in
// in.Ops) and runs every checker.
func CheckAll(in CheckInput) []Verdict {
	owners := make(map[uint64]string)
	var finalProcs []api.Process
	if in.Final != nil && in.Final.OK {
		for pid, p := range in.Final.Procs {
			owners[pid] = p.Owner
			finalProcs = append(finalProcs, p)
		}
	}
	dups := ResolveSpawns(in.Ops, owners)
	var vs []Verdict
	vs = append(vs, CheckLinearizable(in.Ops, in.Faults, in.LinTimeout, in.OutDir)...)
	vs = append(vs,
		CheckListInclusion(in.Ops, nil),
		CheckUniquePIDs(in.Ops, finalProcs, dups),
		CheckNoLostSpawn(in.Ops, in.Final, nil),
	)
	if in.Heartbeats {
		vs = append(vs, CheckOneRunner(in.Beats), CheckNoRerun(in.Beats, in.Faults))
	} else {
		vs = append(vs, Verdict{Check: "one runner per PID", Status: StatusSkipped, Summary: "no heartbeat program"})
	}
	vs = append(vs, CheckKillFinal(in.Ops, in.Beats, in.Final, in.KillGrace), CheckBoundedFinish(in.Ops, in.Final))
	if in.Heartbeats {
		vs = append(vs, CheckSignalsAtMostOnce(in.Ops, in.Deliveries, CountedSignals))
	} else {
		vs = append(vs, Verdict{Check: "signals at most once", Status: StatusSkipped, Summary: "no heartbeat program"})
	}
	vs = append(vs, CheckPipelines(in.Pipelines))
	vs = append(vs, CheckConvergence(in.Rounds), checkCrashes(in.Crashes))
	return vs
}

// checkCrashes fails for every agent that exited without being told to.
func checkCrashes(crashes []Crash) Verdict {
	var v violations
	for _, c := range crashes {
		v.addf("%s exited at %s: %s\n%s", c.Node, fmtTime(c.At), c.Err, indent(c.LogTail, "        "))
	}
	return v.verdict("agents stay up", "no agent exited on its own")
}

// Report is the outcome of a run.
type Report struct {
	Seed     uint64        `json:"seed"`               // replays the run
	Scenario string        `json:"scenario,omitempty"` // the scripted scenario, "" for a random run
	Mode     string        `json:"mode"`               // netns or loopback
	Nodes    int           `json:"nodes"`              // agents at the start
	Duration time.Duration `json:"duration"`           // of the faults and the traffic
	OutDir   string        `json:"out_dir"`            // where the files are
	Schedule []Step        `json:"schedule"`           // the faults drawn from the seed
	Notes    []string      `json:"notes,omitempty"`    // remarks on how the run went
	Skipped  []string      `json:"skipped,omitempty"`  // features and faults skipped, with the reason
	// Counts are the operations by kind and outcome.
	Counts   map[OpKind]map[Outcome]int `json:"counts"`
	Faults   []Fault                    `json:"faults"`            // the faults injected, by start
	Crashes  []Crash                    `json:"crashes,omitempty"` // agents that exited on their own
	Verdicts []Verdict                  `json:"verdicts"`          // one per checker
}

// check runs the checkers on a finished run.
func (r *Report) check(hist *History, final *FinalRead, rounds [][]StateSample, cfg Config, wl *Workload, cl *cluster) {
	ops := hist.Ops()
	r.Counts = CountOps(ops)
	r.Faults = hist.Faults()
	sort.SliceStable(r.Faults, func(a, b int) bool { return r.Faults[a].Start < r.Faults[b].Start })
	r.Crashes = cl.Crashes()
	r.Verdicts = CheckAll(CheckInput{
		Ops: ops, Beats: hist.Beats(), Deliveries: hist.Deliveries(), Faults: r.Faults,
		Final: final, Rounds: rounds, Crashes: r.Crashes,
		Heartbeats: wl.HeartbeatsEnabled(), Pipelines: wl.Pipelines(),
		KillGrace: cfg.KillGrace, LinTimeout: cfg.LinTimeout, OutDir: cfg.OutDir,
	})
	hist.mu.Lock()
	copy(hist.ops, ops) // keep the resolved spawns for the files
	hist.mu.Unlock()
}

// CountOps counts operations by kind and outcome.
func CountOps(ops []Op) map[OpKind]map[Outcome]int {
	out := make(map[OpKind]map[Outcome]int)
	for _, op := range ops {
		m := out[op.Kind]
		if m == nil {
			m = make(map[Outcome]int)
			out[op.Kind] = m
		}
		m[op.Outcome]++
	}
	return out
}

// Failed reports whether any checker found a violation.
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Verdicts, func(v Verdict) bool { return v.Status == StatusFail })
}

// Outcome is one line: PASS or FAIL and how to replay the run.
func (r *Report) Outcome() string {
	res := "PASS"
	if r.Failed() {
		var failed []string
		for _, v := range r.Verdicts {
			if v.Status == StatusFail {
				failed = append(failed, v.Check)
			}
		}
		res = "FAIL (" + strings.Join(failed, ", ") + ")"
	}
	if r.Scenario != "" {
		return fmt.Sprintf("%s; replay with go test ./test/jepsen -run 'TestScenario/%s$'", res, r.Scenario)
	}
	return fmt.Sprintf("%s; replay with -jepsen.seed=%d -jepsen.nodes=%d -jepsen.duration=%v", res, r.Seed, r.Nodes, r.Duration)
}

// String is the report for people.
func (r *Report) String() string {
	var b strings.Builder
	if r.Scenario != "" {
		fmt.Fprintf(&b, "vproc fault suite: scenario %s mode=%s nodes=%d\n", r.Scenario, r.Mode, r.Nodes)
	} else {
		fmt.Fprintf(&b, "vproc fault suite: seed=%d mode=%s nodes=%d duration=%v\n", r.Seed, r.Mode, r.Nodes, r.Duration)
	}
	fmt.Fprintf(&b, "output: %s\n", r.OutDir)
	fmt.Fprintf(&b, "operations:\n  %-8s %8s %8s %8s\n", "kind", "ok", "fail", "unknown")
	for _, k := range []OpKind{OpSpawn, OpKill, OpGet, OpWait, OpList, OpCreate, OpUnlink} {
		if m := r.Counts[k]; m != nil {
			fmt.Fprintf(&b, "  %-8s %8d %8d %8d\n", k, m[OutcomeOK], m[OutcomeFail], m[OutcomeUnknown])
		}
	}
	fmt.Fprintf(&b, "faults (%d):\n", len(r.Faults))
	for _, f := range r.Faults {
		fmt.Fprintf(&b, "  %9s .. %9s  %-18s %v", fmtTime(f.Start), fmtTime(f.End), f.Kind, f.Targets)
		if f.Detail != "" {
			fmt.Fprintf(&b, "  %s", f.Detail)
		}
		if f.Error != "" {
			fmt.Fprintf(&b, "  error: %s", f.Error)
		}
		b.WriteByte('\n')
	}
	if len(r.Skipped) > 0 {
		b.WriteString("skipped:\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "  - %s\n", s)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("notes:\n")
		for _, s := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", s)
		}
	}
	b.WriteString("checks:\n")
	for _, v := range r.Verdicts {
		fmt.Fprintf(&b, "  %-12s %-24s %s\n", v.Status, v.Check, v.Summary)
		for _, x := range v.Violations {
			fmt.Fprintf(&b, "      - %s\n", x)
		}
		if v.Artifact != "" {
			fmt.Fprintf(&b, "      visualisation: %s\n", v.Artifact)
		}
	}
	fmt.Fprintf(&b, "result: %s\n", r.Outcome())
	return b.String()
}

// WriteFiles writes the report, the history, the heartbeats, the faults,
// the final read and the convergence rounds into the output directory.
func (r *Report) WriteFiles(hist *History, final *FinalRead, rounds [][]StateSample) error {
	dir := r.OutDir
	var errs []string
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	keep(WriteJSONLines(filepath.Join(dir, "history.jsonl"), hist.Ops()))
	keep(WriteJSONLines(filepath.Join(dir, "beats.jsonl"), hist.Beats()))
	keep(WriteJSONLines(filepath.Join(dir, "deliveries.jsonl"), hist.Deliveries()))
	keep(writeJSON(filepath.Join(dir, "faults.json"), hist.Faults()))
	keep(writeJSON(filepath.Join(dir, "final.json"), final))
	keep(writeJSON(filepath.Join(dir, "state.json"), rounds))
	keep(writeJSON(filepath.Join(dir, "report.json"), r))
	keep(writeFile(filepath.Join(dir, "report.txt"), r.String()))
	return joinErrs(errs)
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
