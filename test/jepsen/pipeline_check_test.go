//go:build linux

package jepsen

import (
	"strconv"
	"strings"
	"testing"
)

// CheckPipelines against hand-made pipelines: whole, cut short cleanly,
// and each way bytes can go wrong.
func TestCheckPipelines(t *testing.T) {
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			b.WriteString(strconv.Itoa(i) + "\n")
		}
		return b.String()
	}
	run := func(out string, code int) PipelineRun {
		return PipelineRun{PID: 7, Node: "n1", Stage: "n2", Lines: 5, Output: out, Exited: true, Code: code, State: "exited"}
	}
	cases := []struct {
		name string
		runs []PipelineRun
		want Status
	}{
		{"none", nil, StatusSkipped},
		{"whole", []PipelineRun{run(lines(1, 5), 0)}, StatusPass},
		{"cut short with an error", []PipelineRun{run(lines(1, 3), 137)}, StatusPass},
		{"nothing with an error", []PipelineRun{run("", 141)}, StatusPass},
		{"lost node of the shell", []PipelineRun{{PID: 8, Lines: 5, Unknown: "lost"}}, StatusPass},
		{"cut short with exit 0", []PipelineRun{run(lines(1, 3), 0)}, StatusFail},
		{"a hole", []PipelineRun{run("1\n2\n4\n5\n", 0)}, StatusFail},
		{"a repeat", []PipelineRun{run("1\n2\n2\n3\n4\n5\n", 0)}, StatusFail},
		{"out of order", []PipelineRun{run("1\n3\n2\n4\n5\n", 0)}, StatusFail},
		{"a torn line", []PipelineRun{run("1\n2\n3", 1)}, StatusFail},
		{"more than written", []PipelineRun{run(lines(1, 6), 0)}, StatusFail},
		{"hung", []PipelineRun{{PID: 9, Lines: 5, State: "hung"}}, StatusFail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := CheckPipelines(tc.runs)
			if v.Status != tc.want {
				t.Fatalf("got %s (%s %v), want %s for %+v", v.Status, v.Summary, v.Violations, tc.want, tc.runs)
			}
		})
	}
}

// The script writes the numbers the checker expects.
func TestPipelineScript(t *testing.T) {
	got := pipelineScript(3, "n2")
	want := "i=0; while [ $i -lt 3 ]; do i=$((i+1)); echo $i; done | onnode n2 cat"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
