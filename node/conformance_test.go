package node

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// Conformance tests: the rules of signal(7), kill(2), wait(2) and
// credentials(7) that the kernel follows, one table per rule.

// killer sends the signal of its second argument to the PID of its first
// and exits with the errno it got (0 for success).
func killer(s *Sys) int {
	a := s.Args()
	pid, _ := strconv.Atoi(a[0])
	sig, _ := strconv.Atoi(a[1])
	err := s.Kill(pid, ipc.Signal(sig))
	var e ipc.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	if err != nil {
		return 255
	}
	return 0
}

// TestKillPermission: a process may signal processes of its own owner; a
// privileged one (root) any; SIGCONT goes to any process of the sender's
// session; signal 0 sends nothing and answers as a signal would.
func TestKillPermission(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{"kill": killer}))
	cases := []struct {
		name         string
		sender       string
		target       string
		sameSession  bool
		sig          ipc.Signal
		missing      bool
		want         ipc.Errno
		targetKilled bool
	}{
		{name: "same owner", sender: "alice", target: "alice", sig: ipc.SIGTERM, targetKilled: true},
		{name: "other owner", sender: "alice", target: "bob", sig: ipc.SIGTERM, want: ipc.EPERM},
		{name: "other owner, signal 0", sender: "alice", target: "bob", sig: 0, want: ipc.EPERM},
		{name: "same owner, signal 0", sender: "alice", target: "alice", sig: 0},
		{name: "no such process, signal 0", sender: "alice", target: "alice", sig: 0, missing: true, want: ipc.ESRCH},
		{name: "root to another owner", sender: "root", target: "bob", sig: ipc.SIGTERM, targetKilled: true},
		{name: "SIGCONT within the session", sender: "alice", target: "bob", sameSession: true, sig: ipc.SIGCONT},
		{name: "SIGTERM within the session", sender: "alice", target: "bob", sameSession: true, sig: ipc.SIGTERM, want: ipc.EPERM},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			leader := mustSpawn(t, k, Spec{Command: "sleep", Args: []string{"30"}, Owner: c.sender})
			sid := 0
			if c.sameSession {
				sid = leader
			}
			target := mustSpawn(t, k, Spec{Command: "sleep", Args: []string{"30"}, Owner: c.target, Sid: sid})
			waitState(t, k, target, StateWaiting)
			dest := target
			if c.missing {
				dest = 999999
			}
			st, _ := run(t, k, Spec{Command: "kill", Args: []string{strconv.Itoa(dest), strconv.Itoa(int(c.sig))},
				Owner: c.sender, Sid: sid})
			if got := ipc.Errno(st.ExitStatus()); got != c.want {
				t.Errorf("kill(%d, %v) from %s to %s: got errno %v, want %v", dest, c.sig, c.sender, c.target, got, c.want)
			}
			if c.targetKilled {
				if st := mustWait(t, k, target).Status; st.Signal() != c.sig {
					t.Errorf("target: got %v, want killed by %v", st, c.sig)
				}
			} else {
				if p, err := k.Get(target); err != nil || p.State == StateZombie {
					t.Errorf("target after a kill that must not reach it: %v %v", p.State, err)
				}
				k.Kill(target, ipc.SIGKILL)
				mustWait(t, k, target)
			}
			k.Kill(leader, ipc.SIGKILL)
			mustWait(t, k, leader)
		})
	}
}

// A group kill succeeds if any member may be signalled, and reaches only
// those.
func TestKillGroupPermission(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{"kill": killer}))
	leader := mustSpawn(t, k, Spec{Command: "sleep", Args: []string{"30"}, Owner: "alice"})
	other := mustSpawn(t, k, Spec{Command: "sleep", Args: []string{"30"}, Owner: "bob", Sid: leader, Pgid: leader})
	waitState(t, k, other, StateWaiting)
	st, _ := run(t, k, Spec{Command: "kill", Args: []string{strconv.Itoa(-leader), strconv.Itoa(int(ipc.SIGTERM))}, Owner: "alice"})
	if st.ExitStatus() != 0 {
		t.Fatalf("kill(-%d) from alice: errno %v, want success", leader, ipc.Errno(st.ExitStatus()))
	}
	if st := mustWait(t, k, leader).Status; st.Signal() != ipc.SIGTERM {
		t.Errorf("alice's member: %v, want killed by SIGTERM", st)
	}
	if p, err := k.Get(other); err != nil || p.State == StateZombie {
		t.Errorf("bob's member after alice's group kill: %v %v", p.State, err)
	}
	st, _ = run(t, k, Spec{Command: "kill", Args: []string{strconv.Itoa(-leader), strconv.Itoa(int(ipc.SIGTERM))}, Owner: "carol"})
	if got := ipc.Errno(st.ExitStatus()); got != ipc.EPERM {
		t.Errorf("kill(-%d) from carol: got errno %v, want EPERM", leader, got)
	}
	// kill(-1) succeeds once there are processes to ask, even if it may
	// signal none of them (Linux's kill_something_info).
	st, _ = run(t, k, Spec{Command: "kill", Args: []string{"-1", strconv.Itoa(int(ipc.SIGTERM))}, Owner: "carol"})
	if got := ipc.Errno(st.ExitStatus()); got != 0 {
		t.Errorf("kill(-1) from carol: got errno %v, want success", got)
	}
	k.Kill(other, ipc.SIGKILL)
	mustWait(t, k, other)
}

// TestOrphanedGroupStops: SIGTSTP, SIGTTIN and SIGTTOU are discarded by a
// process of an orphaned group, blocked or running; SIGSTOP stops it. A
// process spawned through the library leads a group that is orphaned from
// the start (its parent is init). The signal after the stop signal (SIGSYS,
// whose number is higher, so that it is delivered second) ends a process
// that did not stop, and never one that did.
func TestOrphanedGroupStops(t *testing.T) {
	k := newKernel(t)
	for _, prog := range []Spec{{Command: "sleep", Args: []string{"30"}}, {Command: "spin"}} {
		for _, sig := range []ipc.Signal{ipc.SIGTSTP, ipc.SIGTTIN, ipc.SIGTTOU, ipc.SIGSTOP} {
			t.Run(prog.Command+"/"+sig.String(), func(t *testing.T) {
				pid := mustSpawn(t, k, prog)
				if prog.Command == "sleep" {
					waitState(t, k, pid, StateWaiting)
				}
				k.Kill(pid, sig)
				if sig == ipc.SIGSTOP {
					waitState(t, k, pid, StateStopped)
					k.Kill(pid, ipc.SIGKILL)
					mustWait(t, k, pid)
					return
				}
				k.Kill(pid, ipc.SIGSYS)
				if st := mustWait(t, k, pid).Status; st.Signal() != ipc.SIGSYS || !st.CoreDump() {
					t.Fatalf("after %v then SIGSYS: %v, want killed by SIGSYS (core dumped)", sig, st)
				}
			})
		}
	}
}

// A group whose member's parent is in another group of the same session is
// not orphaned: SIGTSTP stops the member, and its parent sees the stop.
func TestAttachedGroupStops(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"jobctl": func(s *Sys) int {
			c, err := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"30"}, Pgid: -1})
			if err != nil {
				return 1
			}
			s.Kill(c, ipc.SIGTSTP)
			_, st, err := s.Wait4(c, WUNTRACED)
			if err != nil || st.StopSignal() != ipc.SIGTSTP {
				s.Printf("wait: %v %v\n", st, err)
				return 2
			}
			s.Kill(c, ipc.SIGKILL)
			s.Wait4(c, 0)
			return 0
		},
	}))
	if st, out := run(t, k, Spec{Command: "jobctl"}); st.ExitStatus() != 0 {
		t.Fatalf("jobctl: %v %s", st, out)
	}
}

// When a process exits and so orphans a group with a stopped member, each
// member gets SIGHUP and then SIGCONT; a group without stopped members gets
// nothing.
func TestOrphanedGroupHangUp(t *testing.T) {
	for _, stop := range []bool{true, false} {
		t.Run(map[bool]string{true: "stopped member", false: "no stopped member"}[stop], func(t *testing.T) {
			exited := make(chan int, 16)
			var child atomic.Int64
			k := newKernel(t, withPrograms(map[string]Program{
				"parent": func(s *Sys) int {
					r, w, _ := s.Pipe()
					c, err := s.Spawn(SpawnAttr{Command: "hupper", Pgid: -1, Files: []int{0, 1, 2, w}})
					if err != nil {
						return 1
					}
					child.Store(int64(c))
					s.Close(w)
					s.Read(r, make([]byte, 1)) // the child's handlers are set
					if s.Getenv("STOP") != "" {
						s.Kill(c, ipc.SIGSTOP)
						if _, st, err := s.Wait4(c, WUNTRACED); err != nil || !st.Stopped() {
							return 2
						}
					}
					return 0
				},
				"hupper": func(s *Sys) int {
					var seen []string
					for _, sig := range []ipc.Signal{ipc.SIGHUP, ipc.SIGCONT, ipc.SIGUSR2} {
						s.Signal(sig, func(s *Sys, sig ipc.Signal) { seen = append(seen, sig.String()) })
					}
					s.Write(3, []byte("r"))
					s.Close(3)
					for len(seen) < 2 && !(len(seen) == 1 && seen[0] == "SIGUSR2") {
						s.Pause()
					}
					for _, sig := range seen { // in the order the handlers were entered
						s.Printf("%s\n", sig)
					}
					return 0
				},
			}), func(c *Config) {
				c.OnEvent = func(e Event) {
					if e.Kind == EventExited {
						exited <- e.PID
					}
				}
			})
			var out syncBuffer
			spec := Spec{Command: "parent", Stdout: &out}
			if stop {
				spec.Env = []string{"STOP=1"}
			}
			parent := mustSpawn(t, k, spec)
			// With a stopped member, the child may end before its parent's
			// exit is reported; without, it ends only on the SIGUSR2 the
			// test sends once the parent is gone.
			ended := map[int]bool{recvPID(t, exited): true}
			if !ended[parent] && stop {
				ended[recvPID(t, exited)] = true
			}
			if !ended[parent] {
				t.Fatalf("exits %v, want the parent's, %d", ended, parent)
			}
			want := "SIGHUP\nSIGCONT\n"
			if !stop {
				k.Kill(int(child.Load()), ipc.SIGUSR2)
				want = "SIGUSR2\n"
			}
			if !ended[int(child.Load())] {
				if got := recvPID(t, exited); got != int(child.Load()) {
					t.Fatalf("exit of %d, want the child's, %d", got, child.Load())
				}
			}
			if got := out.String(); got != want {
				t.Errorf("the orphaned child got %q, want %q", got, want)
			}
		})
	}
}

// recvPID receives a PID from ch, failing t after a deadline.
func recvPID(t *testing.T, ch <-chan int) int {
	t.Helper()
	select {
	case pid := <-ch:
		return pid
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for an exit")
		return 0
	}
}

// TestDefaultActions: the default action of each of the 31 standard signals
// (signal(7)), seen by a parent through wait: terminate, terminate with a
// core dump noted in the status, stop, or nothing (ignore, and continue for
// a process that is not stopped), after which SIGKILL ends the child. The
// child is in its own group with its parent in the session's other group,
// so that its group is not orphaned and the stop signals stop it.
func TestDefaultActions(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"victim": func(s *Sys) int {
			n, _ := strconv.Atoi(s.Args()[0])
			sig := ipc.Signal(n)
			c, err := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"30"}, Pgid: -1})
			if err != nil {
				return 1
			}
			s.Kill(c, sig)
			_, st, _ := s.Wait4(c, WUNTRACED|WNOHANG)
			for st == 0 && sig.DefaultAction() != ipc.ActIgn && sig.DefaultAction() != ipc.ActCont {
				_, st, _ = s.Wait4(c, WUNTRACED)
			}
			if !st.Signaled() {
				if st != 0 {
					s.Printf("%v, ", st)
				}
				s.Kill(c, ipc.SIGKILL)
				_, st, _ = s.Wait4(c, 0)
			}
			s.Printf("%v", st)
			return 0
		},
	}))
	term := func(sig ipc.Signal) string { return "killed by " + sig.String() }
	core := func(sig ipc.Signal) string { return term(sig) + " (core dumped)" }
	stop := func(sig ipc.Signal) string { return "stopped by " + sig.String() + ", killed by SIGKILL" }
	nothing := func(ipc.Signal) string { return "killed by SIGKILL" }
	want := map[ipc.Signal]func(ipc.Signal) string{
		ipc.SIGHUP: term, ipc.SIGINT: term, ipc.SIGQUIT: core, ipc.SIGILL: core,
		ipc.SIGTRAP: core, ipc.SIGABRT: core, ipc.SIGBUS: core, ipc.SIGFPE: core,
		ipc.SIGKILL: term, ipc.SIGUSR1: term, ipc.SIGSEGV: core, ipc.SIGUSR2: term,
		ipc.SIGPIPE: term, ipc.SIGALRM: term, ipc.SIGTERM: term, ipc.SIGSTKFLT: term,
		ipc.SIGCHLD: nothing, ipc.SIGCONT: nothing, ipc.SIGSTOP: stop, ipc.SIGTSTP: stop,
		ipc.SIGTTIN: stop, ipc.SIGTTOU: stop, ipc.SIGURG: nothing, ipc.SIGXCPU: core,
		ipc.SIGXFSZ: core, ipc.SIGVTALRM: term, ipc.SIGPROF: term, ipc.SIGWINCH: nothing,
		ipc.SIGIO: term, ipc.SIGPWR: term, ipc.SIGSYS: core,
	}
	if len(want) != 31 {
		t.Fatalf("the table has %d signals, want 31", len(want))
	}
	for sig := ipc.Signal(1); sig < ipc.NSIG; sig++ {
		t.Run(sig.String(), func(t *testing.T) {
			st, out := run(t, k, Spec{Command: "victim", Args: []string{strconv.Itoa(int(sig))}})
			if w := want[sig](sig); st.ExitStatus() != 0 || out != w {
				t.Errorf("default action of %v: got %q (%v), want %q", sig, out, st, w)
			}
		})
	}
}

// TestChildSignalFlags: SIGCHLD tells a parent of a child's stop, continue
// and exit; SA_NOCLDSTOP leaves out stops and continues; SA_NOCLDWAIT, and
// SIGCHLD set to SIG_IGN, keep children from becoming zombies, so that a
// wait blocks until every child has ended and then fails with ECHILD.
func TestChildSignalFlags(t *testing.T) {
	cases := []struct {
		name   string
		act    SigAction
		chlds  int  // SIGCHLDs caught for stop, continue and exit
		zombie bool // the child stays a zombie until waited for
	}{
		{"handler", SigAction{}, 3, true},
		{"SA_NOCLDSTOP", SigAction{Flags: SA_NOCLDSTOP}, 1, true},
		{"SA_NOCLDWAIT", SigAction{Flags: SA_NOCLDWAIT}, 3, false},
		{"SIG_IGN", SigAction{Ignore: true}, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reaped []int
			var mu sync.Mutex
			k := newKernel(t, withPrograms(map[string]Program{
				"parent": func(s *Sys) int {
					chlds := 0
					act := c.act
					if !act.Ignore {
						act.Handler = func(*Sys, ipc.Signal) { chlds++ }
					}
					s.Sigaction(ipc.SIGCHLD, &act)
					wait := func(pid, options int) (int, WaitStatus, error) {
						for { // a caught SIGCHLD interrupts the wait
							pid, st, err := s.Wait4(pid, options)
							if !errors.Is(err, ipc.EINTR) {
								return pid, st, err
							}
						}
					}
					child, _ := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"30"}, Pgid: -1})
					s.Kill(child, ipc.SIGSTOP)
					wait(child, WUNTRACED)
					s.Kill(child, ipc.SIGCONT)
					wait(child, WCONTINUED)
					s.Kill(child, ipc.SIGTERM)
					pid, st, err := wait(child, 0)
					if c.zombie {
						if pid != child || st.Signal() != ipc.SIGTERM || err != nil {
							s.Printf("wait: %d %v %v\n", pid, st, err)
							return 1
						}
					} else if !errors.Is(err, ipc.ECHILD) {
						s.Printf("wait without zombies: %d %v %v, want ECHILD\n", pid, st, err)
						return 1
					}
					for chlds < c.chlds { // the last SIGCHLD may come after the wait returned
						s.Pause()
					}
					s.Getpid() // a system call, where a SIGCHLD too many would be caught
					if chlds != c.chlds {
						s.Printf("caught %d SIGCHLDs, want %d\n", chlds, c.chlds)
						return 1
					}
					return 0
				},
			}), func(cfg *Config) {
				cfg.OnEvent = func(e Event) {
					if e.Kind == EventReaped {
						mu.Lock()
						reaped = append(reaped, e.PID)
						mu.Unlock()
					}
				}
			})
			if st, out := run(t, k, Spec{Command: "parent"}); st.ExitStatus() != 0 {
				t.Fatalf("parent: %v %s", st, out)
			}
			// The child's own goroutine reports its reaping as it ends,
			// which may be after its parent has gone.
			waitFor(t, "the child's reaped event", 10*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(reaped) >= 1
			})
			mu.Lock()
			defer mu.Unlock()
			if len(reaped) != 1 {
				t.Errorf("reaped events %v, want one for the child", reaped)
			}
		})
	}
}

// TestWaitPeek: WNOWAIT reports a zombie, a stop or a continue and leaves
// it to be reported again, as waitid(2) does.
func TestWaitPeek(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"peeker": func(s *Sys) int {
			child, _ := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"30"}, Pgid: -1})
			fail := func(what string, pid int, st WaitStatus, err error) int {
				s.Printf("%s: %d %v %v\n", what, pid, st, err)
				return 1
			}
			s.Kill(child, ipc.SIGSTOP)
			for range 2 {
				if pid, st, err := s.Wait4(child, WUNTRACED|WNOWAIT); pid != child || !st.Stopped() {
					return fail("peek at the stop", pid, st, err)
				}
			}
			if pid, st, err := s.Wait4(child, WUNTRACED); pid != child || !st.Stopped() {
				return fail("collect the stop", pid, st, err)
			}
			if pid, st, err := s.Wait4(child, WUNTRACED|WNOHANG); pid != 0 {
				return fail("the stop reported after it was collected", pid, st, err)
			}
			s.Kill(child, ipc.SIGCONT)
			for range 2 {
				if pid, st, err := s.Wait4(child, WCONTINUED|WNOWAIT); pid != child || !st.Continued() {
					return fail("peek at the continue", pid, st, err)
				}
			}
			if pid, st, err := s.Wait4(-1, WCONTINUED); pid != child || !st.Continued() {
				return fail("collect the continue", pid, st, err)
			}
			s.Kill(child, ipc.SIGTERM)
			for range 2 {
				if pid, st, err := s.Wait4(-1, WNOWAIT); pid != child || st.Signal() != ipc.SIGTERM {
					return fail("peek at the zombie", pid, st, err)
				}
			}
			if pid, st, err := s.Wait4(child, 0); pid != child || st.Signal() != ipc.SIGTERM {
				return fail("reap", pid, st, err)
			}
			if pid, st, err := s.Wait4(-1, WNOHANG); !errors.Is(err, ipc.ECHILD) {
				return fail("wait after the reap", pid, st, err)
			}
			return 0
		},
	}))
	if st, out := run(t, k, Spec{Command: "peeker"}); st.ExitStatus() != 0 {
		t.Fatalf("peeker: %v %s", st, out)
	}
}
