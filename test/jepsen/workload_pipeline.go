//go:build linux

package jepsen

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/ctxutil"
)

// Pipelines with a stage on another node. A shell on one node writes the
// numbers 1 to PipelineLines, one a line, into a pipe whose reader is cat
// on another node (onnode); cat writes what it reads to the descriptor it
// inherits from the shell, which is the shell's output on the shell's node.
// So every byte crosses two nodes twice. CheckPipelines then wants exactly
// the bytes written, in order: all of them with exit 0, or a gap-free
// prefix with a failed exit when a node was killed or cut off (the
// remote stage's end of a stream gave EOF or EPIPE), never a hole, a
// repeat, or a silent loss.

// streamPipes seeds the pipelines' choices of nodes.
const streamPipes = 0x70697065 // "pipe"

// PipelineRun is one pipeline the workload ran and what it saw of it.
type PipelineRun struct {
	PID      uint64 `json:"pid"`
	Node     string `json:"node"`  // the shell's node
	Stage    string `json:"stage"` // the remote stage's node
	Lines    int    `json:"lines"` // lines written
	Output   string `json:"output"`
	Exited   bool   `json:"exited"`             // the shell exited, and Code is its status
	Code     int    `json:"code"`               // the exit code (128+N for a signal)
	State    string `json:"state"`              // the table's last state of the shell
	Unknown  string `json:"unknown,omitempty"`  // why nothing is known of its end
	Started  int64  `json:"started"`            // ns since the history's start
	Finished int64  `json:"finished,omitempty"` // ns since the history's start
}

// pipelineScript is the shell script of a pipeline of n lines whose second
// stage runs on node stage.
func pipelineScript(n int, stage string) string {
	return fmt.Sprintf("i=0; while [ $i -lt %d ]; do i=$((i+1)); echo $i; done | onnode %s cat", n, stage)
}

// keepPipelines runs cfg.Pipelines pipelines, one after another, each
// between two nodes drawn at random, until ctx ends.
func (w *Workload) keepPipelines(ctx context.Context) {
	rng := rand.New(rand.NewPCG(w.cfg.Seed, streamPipes))
	st := w.newStream(-3)
	defer st.close()
	hc := &http.Client{Transport: clientTransport(w.endpoints())}
	defer hc.CloseIdleConnections()
	for i := 0; i < w.cfg.Pipelines && ctx.Err() == nil; i++ {
		eps := w.endpoints()
		if len(eps) < 2 {
			ctxutil.Sleep(ctx, time.Second)
			continue
		}
		a := rng.IntN(len(eps))
		b := (a + 1 + rng.IntN(len(eps)-1)) % len(eps)
		run := PipelineRun{Node: eps[a].Name, Stage: eps[b].Name, Lines: w.cfg.PipelineLines, Started: w.hist.Clock().Now()}
		// Untagged: the stages inherit the shell's owner, and an owner tag
		// shared by four processes would read as a spawn applied four
		// times.
		op := w.spawnReq(ctx, st, rng, api.SpawnRequest{
			Command: "sh", Args: []string{"-c", pipelineScript(run.Lines, run.Stage)}, Node: run.Node,
		}, false)
		if op.Outcome != OutcomeOK {
			ctxutil.Sleep(ctx, time.Second)
			continue
		}
		run.PID = op.RetPID
		w.unremember(run.PID)
		w.finishPipeline(ctx, hc, &run)
		run.Finished = w.hist.Clock().Now()
		w.mu.Lock()
		w.pipelines = append(w.pipelines, run)
		w.mu.Unlock()
	}
}

// unremember takes pid out of the PIDs the clients signal: a pipeline is
// cut short by faults, not by the clients' kills.
func (w *Workload) unremember(pid uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, r := range w.pool {
		if r.pid == pid {
			w.pool = append(w.pool[:i], w.pool[i+1:]...)
			break
		}
	}
}

// pipelineWait bounds how long a pipeline may take to end, faults
// included: past it, the check counts it as a hang.
const pipelineWait = 90 * time.Second

// finishPipeline waits until the pipeline's shell has exited, or is lost,
// and reads its output from the node that ran it.
func (w *Workload) finishPipeline(ctx context.Context, hc *http.Client, run *PipelineRun) {
	deadline := time.Now().Add(pipelineWait)
	for i := 0; i < 10000 && ctx.Err() == nil; i++ {
		if time.Now().After(deadline) {
			run.State = "hung"
			return
		}
		eps := w.endpoints()
		if len(eps) == 0 {
			run.Unknown = "no endpoint"
			return
		}
		ep := eps[i%len(eps)]
		var p api.Process
		actx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		a := callAPI(actx, hc, ep, http.MethodGet, "/v1/procs/"+strconv.FormatUint(run.PID, 10), nil, nil, &p, nil)
		cancel()
		if a.kind == answered && a.code == "" {
			run.State = p.State
			switch {
			case p.State == "lost":
				run.Unknown = "the shell's node was lost"
				return
			case p.State == "pending" && !slices.ContainsFunc(eps, func(e Endpoint) bool { return e.Name == run.Node }):
				// Pinned to a member that left (member-add-remove) before
				// the shell started: it stays pending, as a spawn for a
				// node that is not in the cluster does.
				run.Unknown = "the shell's node left the cluster before it started"
				return
			case p.State == "exited" && p.ExitCode != nil:
				run.Exited, run.Code = true, *p.ExitCode
				run.Output, run.Unknown = w.pipelineOutput(ctx, hc, run)
				return
			case p.State == "exited" && p.Signal != nil:
				run.Exited, run.Code = true, 128+*p.Signal
				run.Output, run.Unknown = w.pipelineOutput(ctx, hc, run)
				return
			}
		}
		ctxutil.Sleep(ctx, 200*time.Millisecond)
	}
	if run.Unknown == "" && !run.Exited {
		run.Unknown = "the run ended first"
	}
}

// pipelineOutput reads the shell's whole log from its own node.
func (w *Workload) pipelineOutput(ctx context.Context, hc *http.Client, run *PipelineRun) (string, string) {
	for _, ep := range w.endpoints() {
		if ep.Name != run.Node {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, ep.URL+"/v1/procs/"+strconv.FormatUint(run.PID, 10)+"/logs", nil)
		if err != nil {
			return "", err.Error()
		}
		req.Header.Set(api.HeaderTarget, ep.Name)
		resp, err := hc.Do(req)
		if err != nil {
			return "", "reading the log: " + err.Error()
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil || resp.StatusCode != http.StatusOK {
			return "", fmt.Sprintf("reading the log: %d %v", resp.StatusCode, err)
		}
		return string(b), ""
	}
	return "", "the shell's node has no endpoint"
}

// Pipelines returns the pipelines the workload ran.
func (w *Workload) Pipelines() []PipelineRun {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]PipelineRun(nil), w.pipelines...)
}

// CheckPipelines checks each pipeline's output: the numbers 1 to k, one a
// line, in order, with k the lines written and exit 0, or k smaller and a
// failed exit (the stage's node died or was cut off, and the pipeline saw
// EOF or EPIPE). A pipeline that did not end within pipelineWait hung. A
// pipeline whose shell's node was lost or left the cluster before the
// shell started, or whose output could not be read, is counted as unknown.
func CheckPipelines(runs []PipelineRun) Verdict {
	const check = "pipelines across nodes"
	if len(runs) == 0 {
		return Verdict{Check: check, Status: StatusSkipped, Summary: "no pipeline ran"}
	}
	var v violations
	full, cut, unknown := 0, 0, 0
	var cuts []string
	for _, r := range runs {
		if r.State == "hung" {
			v.addf("pipeline %d (%s | onnode %s) did not end within %v", r.PID, r.Node, r.Stage, pipelineWait)
			continue
		}
		if r.Unknown != "" || !r.Exited {
			unknown++
			continue
		}
		k, bad := countedPrefix(r.Output)
		switch {
		case bad != "":
			v.addf("pipeline %d (%s | onnode %s): %s", r.PID, r.Node, r.Stage, bad)
		case k > r.Lines:
			v.addf("pipeline %d (%s | onnode %s): %d lines, more than the %d written", r.PID, r.Node, r.Stage, k, r.Lines)
		case k == r.Lines && r.Code == 0:
			full++
		case k < r.Lines && r.Code == 0:
			v.addf("pipeline %d (%s | onnode %s): %d of %d lines with exit 0: bytes lost without an error", r.PID, r.Node, r.Stage, k, r.Lines)
		default:
			cut++
			if len(cuts) < 4 {
				cuts = append(cuts, fmt.Sprintf("%d/%d lines, exit %d", k, r.Lines, r.Code))
			}
		}
	}
	summary := fmt.Sprintf("%d pipelines whole, %d cut short cleanly (a fault, or a kill of a stage), %d unknown", full, cut, unknown)
	if len(cuts) > 0 {
		summary += " (" + strings.Join(cuts, "; ") + ")"
	}
	return v.verdict(check, summary)
}

// countedPrefix returns k when out is "1\n2\n…k\n", or what is wrong with
// it.
func countedPrefix(out string) (int, string) {
	if out == "" {
		return 0, ""
	}
	if !strings.HasSuffix(out, "\n") {
		return 0, fmt.Sprintf("output ends inside a line: %q", tail(out))
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, l := range lines {
		if l != strconv.Itoa(i+1) {
			return 0, fmt.Sprintf("line %d is %q, want %d: the bytes are not those written, in order", i+1, l, i+1)
		}
	}
	return len(lines), ""
}

func tail(s string) string {
	if len(s) > 40 {
		return "…" + s[len(s)-40:]
	}
	return s
}
