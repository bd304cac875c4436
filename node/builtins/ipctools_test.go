package builtins

import (
	"strconv"
	"strings"
	"testing"

	"github.com/vproc/vproc/node"
)

func TestMqBlockedReceiveGetsMessage(t *testing.T) {
	k := newKernel(t)
	var out syncBuffer
	pid := mustSpawn(t, k, node.Spec{Command: "mqrecv", Args: []string{"-c", "/wake"}, Stdout: &out, Stderr: &out})
	waitNoSlot(t, k, pid)
	if st, o := run(t, k, node.Spec{Command: "mqsend", Args: []string{"/wake", "hello"}}); st.ExitStatus() != 0 {
		t.Fatalf("mqsend: %v %q", st, o)
	}
	if p := mustWait(t, k, pid); p.Status.ExitStatus() != 0 || out.String() != "hello\n" {
		t.Fatalf("mqrecv: %v %q, want exit 0 and %q", p.Status, out.String(), "hello\n")
	}
}

func TestMqToolsBuiltins(t *testing.T) {
	k := newKernel(t)
	steps := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"mqsend", "-c", "-p", "1", "/q", "a"}, 0, ""},
		{[]string{"mqsend", "-p", "5", "/q", "b"}, 0, ""},
		{[]string{"mqattr", "/q"}, 0, "maxmsg=10 msgsize=8192 curmsgs=2\n"},
		{[]string{"mqrecv", "-n", "2", "/q"}, 0, "b\na\n"}, // higher priority first
		{[]string{"mqsend", "-p3", "/q", "x", "y", "z"}, 0, ""},
		{[]string{"mqsend", "-p", "9", "/q", "first"}, 0, ""},
		{[]string{"mqrecv", "-n4", "/q"}, 0, "first\nx\ny\nz\n"}, // FIFO within a priority
		{[]string{"mqrecv", "-t", "20ms", "/q"}, 1, "mqrecv: /q: connection timed out\n"},
		{[]string{"mqrm", "/q"}, 0, ""},
		{[]string{"mqsend", "/q", "m"}, 1, "mqsend: /q: no such file or directory\n"},
		{[]string{"mqrm", "/q"}, 1, "mqrm: /q: no such file or directory\n"},
		{[]string{"mqattr", "/q"}, 1, "mqattr: /q: no such file or directory\n"},
		{[]string{"mqsend", "-p", "32", "/q", "m"}, 2, "mqsend: bad priority \"32\" (want 0 to 31)\nmqsend: usage: mqsend [-p PRIO] [-c] NAME MSG...\n"},
		{[]string{"mqsend", "/q"}, 2, "mqsend: usage: mqsend [-p PRIO] [-c] NAME MSG...\n"},
		{[]string{"mqrecv", "-x", "/q"}, 2, "mqrecv: unknown option -x\nmqrecv: usage: mqrecv [-n COUNT] [-c] [-t TIMEOUT] NAME\n"},
		{[]string{"mqrecv", "-n"}, 2, "mqrecv: option -n needs a value\nmqrecv: usage: mqrecv [-n COUNT] [-c] [-t TIMEOUT] NAME\n"},
		{[]string{"mqsend", "bad/name", "m"}, 1, "mqsend: bad/name: invalid argument\n"},
		{[]string{"mqrecv", "-c", "-t", "0", "/new"}, 1, "mqrecv: /new: connection timed out\n"},
		{[]string{"mqattr", "/new"}, 0, "maxmsg=10 msgsize=8192 curmsgs=0\n"},
	}
	for i, st := range steps {
		t.Run(strconv.Itoa(i)+"/"+strings.Join(st.args, " "), func(t *testing.T) {
			status, out := run(t, k, node.Spec{Command: st.args[0], Args: st.args[1:]})
			if status.ExitStatus() != st.code || out != st.out {
				t.Fatalf("got %v %q, want exit %d %q", status, out, st.code, st.out)
			}
		})
	}
}

func TestShmCounterConcurrent(t *testing.T) {
	k := newKernel(t, func(c *node.Config) { c.Slots = 2 })
	const n, procs = 5000, 2
	outs := make([]syncBuffer, procs)
	pids := make([]int, procs)
	for i := range pids {
		pids[i] = mustSpawn(t, k, node.Spec{Command: "shm-counter", Args: []string{"-c", "/ctr", strconv.Itoa(n)}, Stdout: &outs[i], Stderr: &outs[i]})
	}
	for i, pid := range pids {
		if p := mustWait(t, k, pid); p.Status.ExitStatus() != 0 {
			t.Fatalf("shm-counter %d: %v %q", i, p.Status, outs[i].String())
		}
	}
	st, out := run(t, k, node.Spec{Command: "shm-read", Args: []string{"/ctr"}})
	if want := strconv.Itoa(n*procs) + "\n"; st.ExitStatus() != 0 || out != want {
		t.Fatalf("shm-read: got %v %q, want %q", st, out, want)
	}
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"shm-read", "/nope"}, 1, "shm-read: /nope: no such file or directory\n"},
		{[]string{"shm-counter", "/nope", "1"}, 1, "shm-counter: /nope: no such file or directory\n"},
		{[]string{"shm-counter", "/ctr"}, 2, "shm-counter: usage: shm-counter [-c] NAME N\n"},
		{[]string{"shm-counter", "/ctr", "-1"}, 2, "shm-counter: bad count \"-1\"\nshm-counter: usage: shm-counter [-c] NAME N\n"},
		{[]string{"shm-counter", "/ctr", "3"}, 0, strconv.Itoa(n*procs+3) + "\n"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			st, out := run(t, k, node.Spec{Command: c.args[0], Args: c.args[1:]})
			if st.ExitStatus() != c.code || out != c.out {
				t.Fatalf("got %v %q, want exit %d %q", st, out, c.code, c.out)
			}
		})
	}
}

func TestFIFOPipelineBuiltins(t *testing.T) {
	k := newKernel(t)
	cases := []struct {
		name        string
		writerFirst bool
		args        []string
		stdin       string
		want        string
	}{
		{"reader first", false, []string{"hello", "world"}, "", "hello world\n"},
		{"writer first", true, []string{"second"}, "", "second\n"},
		{"stdin copied", false, nil, "line 1\nline 2\n", "line 1\nline 2\n"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "/fifo" + strconv.Itoa(i)
			if st, out := run(t, k, node.Spec{Command: "mkfifo", Args: []string{path}}); st.ExitStatus() != 0 {
				t.Fatalf("mkfifo: %v %q", st, out)
			}
			var rout, wout syncBuffer
			reader := node.Spec{Command: "fifo-read", Args: []string{path}, Stdout: &rout, Stderr: &rout}
			writer := node.Spec{Command: "fifo-write", Args: append([]string{path}, c.args...), Stdout: &wout, Stderr: &wout}
			if c.stdin != "" {
				writer.Stdin = strings.NewReader(c.stdin)
			}
			first, second := reader, writer
			if c.writerFirst {
				first, second = writer, reader
			}
			p1 := mustSpawn(t, k, first)
			waitState(t, k, p1, node.StateWaiting) // blocked in open until the other end opens
			p2 := mustSpawn(t, k, second)
			for _, pid := range []int{p1, p2} {
				if p := mustWait(t, k, pid); p.Status.ExitStatus() != 0 {
					t.Fatalf("%s: %v, output %q %q", p.Command, p.Status, rout.String(), wout.String())
				}
			}
			if rout.String() != c.want {
				t.Fatalf("reader got %q, want %q", rout.String(), c.want)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			code int
			out  string
		}{
			{[]string{"mkfifo", "/fifo0"}, 1, "mkfifo: /fifo0: file exists\n"},
			{[]string{"mkfifo", "/no/dir"}, 1, "mkfifo: /no/dir: no such file or directory\n"},
			{[]string{"fifo-read", "/none"}, 1, "fifo-read: /none: no such file or directory\n"},
			{[]string{"fifo-write", "/none", "x"}, 1, "fifo-write: /none: no such file or directory\n"},
			{[]string{"fifo-read"}, 2, "fifo-read: usage: fifo-read PATH\n"},
			{[]string{"mkfifo"}, 2, "mkfifo: usage: mkfifo PATH...\n"},
		} {
			st, out := run(t, k, node.Spec{Command: c.args[0], Args: c.args[1:]})
			if st.ExitStatus() != c.code || out != c.out {
				t.Errorf("%q: got %v %q, want exit %d %q", c.args, st, out, c.code, c.out)
			}
		}
	})
}
