package builtins

import (
	"strconv"
	"strings"
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

// fsize limits regular files only: yes | head -n 1024 | cat runs under
// fsize=1K, with all 2 KiB going through the pipes and out to the log.
func TestPipelineUnderFileSizeLimit(t *testing.T) {
	sts := make(chan []node.WaitStatus, 1)
	k := newKernel(t, withPrograms(map[string]node.Program{
		"pipeline": pipelineProgram([][]string{{"yes"}, {"head", "-n", "1024"}, {"cat"}}, sts),
	}))
	lim, err := node.ParseLimits(nil, "fsize=1K")
	if err != nil {
		t.Fatal(err)
	}
	st, out := run(t, k, node.Spec{Command: "pipeline", Limits: lim})
	if st.ExitStatus() != 0 || len(out) != 2048 {
		t.Fatalf("pipeline under fsize=1K: %v with %d bytes out, want 2048", st, len(out))
	}
	if got := <-sts; got[0].Signal() != ipc.SIGPIPE || got[1].ExitStatus() != 0 || got[2].ExitStatus() != 0 {
		t.Fatalf("statuses %v, want yes killed by SIGPIPE and the rest 0", got)
	}
}

func TestTools(t *testing.T) {
	k := newKernel(t)
	for _, c := range []struct {
		args  []string
		stdin string
		code  int
		out   string
	}{
		{[]string{"true"}, "", 0, ""},
		{[]string{"false"}, "", 1, ""},
		{[]string{"echo", "hi", "there"}, "", 0, "hi there\n"},
		{[]string{"echo", "-n", "x"}, "", 0, "x"},
		{[]string{"cat"}, "abc\ndef", 0, "abc\ndef"},
		{[]string{"wc"}, "a b\nc\n", 0, "2 3 6\n"},
		{[]string{"wc", "-l"}, "a b\nc\n", 0, "2\n"},
		{[]string{"head", "-n", "2"}, "1\n2\n3\n", 0, "1\n2\n"},
		{[]string{"head", "-n", "x"}, "", 2, "head: invalid number of lines \"x\"\n"},
		{[]string{"sleep", "0.001", "1ms"}, "", 0, ""},
		{[]string{"sleep"}, "", 2, "sleep: missing operand\n"},
		{[]string{"sleep", "x"}, "", 2, "sleep: invalid time interval \"x\"\n"},
		{[]string{"spin", "100"}, "", 0, "100\n"},
		{[]string{"spin", "-1"}, "", 2, "spin: bad count \"-1\"\n"},
		{[]string{"pwd"}, "", 0, "/\n"},
		{[]string{"ls", "/dev"}, "", 0, "fd\nfull\nnull\nrandom\nstderr\nstdin\nstdout\nurandom\nzero\n"},
		{[]string{"ls", "-l", "/dev/null"}, "", 0, "crw-rw-rw-        0 /dev/null\n"},
		{[]string{"ls", "/"}, "", 0, "dev\n"},
		{[]string{"ls", "/nope"}, "", 2, "ls: cannot access '/nope': No such file or directory\n"},
		{[]string{"kill", "abc"}, "", 1, "kill: abc: arguments must be process or job IDs\n"},
		{[]string{"kill"}, "", 2, "kill: " + killUsage + "\n"},
		{[]string{"kill", "-0", "99999"}, "", 1, "kill: (99999) - No such process\n"},
		{[]string{"kill", "-NOPE", "1"}, "", 1, "kill: NOPE: invalid signal specification\n"},
		{[]string{"kill", "-l", "15", "137", "KILL"}, "", 0, "TERM\nKILL\n9\n"},
		{[]string{"heartbeat", "0"}, "", 2, "heartbeat: bad interval \"0\"\n"},
		{[]string{"onnode", "n1"}, "", 2, "onnode: usage: onnode NODE CMD [ARGS...]\n"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			spec := node.Spec{Command: c.args[0], Args: c.args[1:]}
			if c.stdin != "" {
				spec.Stdin = strings.NewReader(c.stdin)
			}
			st, out := run(t, k, spec)
			if st.ExitStatus() != c.code || out != c.out {
				t.Fatalf("got %v %q, want exit %d %q for %q", st, out, c.code, c.out, c.args)
			}
		})
	}
}

// TestKillSendsNothing runs kill forms that must leave their target alone:
// the null signal, in both spellings, and signals that do not parse.
func TestKillSendsNothing(t *testing.T) {
	k := newKernel(t)
	target := mustSpawn(t, k, node.Spec{Command: "sleep", Args: []string{"30"}})
	pid := strconv.Itoa(target)
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-0", pid}, 0, ""},
		{[]string{"-s", "0", pid}, 0, ""},
		{[]string{"-NOPE", pid}, 1, "kill: NOPE: invalid signal specification\n"},
		{[]string{"-s", "NOPE", pid}, 1, "kill: NOPE: invalid signal specification\n"},
		{[]string{"-99", pid}, 1, "kill: 99: invalid signal specification\n"},
	} {
		st, out := run(t, k, node.Spec{Command: "kill", Args: c.args})
		if st.ExitStatus() != c.code || out != c.out {
			t.Fatalf("kill %q: got %v %q, want exit %d %q", c.args, st, out, c.code, c.out)
		}
		if p, err := k.Get(target); err != nil || p.State == node.StateZombie {
			t.Fatalf("kill %q: the target ended: %+v, %v", c.args, p, err)
		}
	}
	st, _ := run(t, k, node.Spec{Command: "kill", Args: []string{"-KILL", pid}})
	if st.ExitStatus() != 0 {
		t.Fatalf("kill -KILL: got %v, want exit 0", st)
	}
	if ws := mustWait(t, k, target).Status; !ws.Signaled() || ws.Signal() != ipc.SIGKILL {
		t.Fatalf("target: got %v, want killed by SIGKILL", ws)
	}
}
