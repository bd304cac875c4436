package builtins

import (
	"testing"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// pipeline runs cmds joined by pipes, as a shell would, and returns each
// stage's status.
func pipelineProgram(cmds [][]string, statuses chan<- []node.WaitStatus) node.Program {
	return func(s *node.Sys) int {
		pids := make([]int, len(cmds))
		in := 0
		for i, c := range cmds {
			out, next := 1, -1
			var w int
			if i < len(cmds)-1 {
				r, wr, err := s.Pipe()
				if err != nil {
					return 1
				}
				out, next, w = wr, r, wr
			}
			pid, err := s.Spawn(node.SpawnAttr{Command: c[0], Args: c[1:], Files: []int{in, out, 2}})
			if err != nil {
				return 2
			}
			pids[i] = pid
			if in != 0 {
				s.Close(in)
			}
			if next >= 0 {
				s.Close(w)
			}
			in = next
		}
		sts := make([]node.WaitStatus, len(pids))
		for i, pid := range pids {
			_, st, err := s.Wait4(pid, 0)
			if err != nil {
				return 3
			}
			sts[i] = st
		}
		statuses <- sts
		return 0
	}
}

func TestPipelineYesHeadWcSIGPIPE(t *testing.T) {
	sts := make(chan []node.WaitStatus, 1)
	k := newKernel(t, withPrograms(map[string]node.Program{
		"pipeline": pipelineProgram([][]string{{"yes"}, {"head", "-n", "3"}, {"wc", "-l"}}, sts),
	}))
	st, out := run(t, k, node.Spec{Command: "pipeline"})
	if st.ExitStatus() != 0 || out != "3\n" {
		t.Fatalf("pipeline: %v %q, want 3", st, out)
	}
	got := <-sts
	if got[0].Signal() != ipc.SIGPIPE || got[1].ExitStatus() != 0 || got[2].ExitStatus() != 0 {
		t.Fatalf("statuses %v, want yes killed by SIGPIPE and the rest 0", got)
	}
}
