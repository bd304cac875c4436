package node

import (
	"errors"
	"strconv"
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
			k := newKernel(t, withPrograms(map[string]Program{
				"parent": func(s *Sys) int {
					r, w, _ := s.Pipe()
					c, err := s.Spawn(SpawnAttr{Command: "hupper", Pgid: -1, Files: []int{0, 1, 2, w}})
					if err != nil {
						return 1
					}
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
			if recvPID(t, exited) != parent {
				t.Fatal("the child exited before its parent")
			}
			var child int
			for _, p := range k.List() {
				if p.Command == "hupper" {
					child = p.PID
				}
			}
			if child == 0 {
				t.Fatal("no hupper process")
			}
			want := "SIGHUP\nSIGCONT\n"
			if !stop {
				k.Kill(child, ipc.SIGUSR2)
				want = "SIGUSR2\n"
			}
			if got := recvPID(t, exited); got != child {
				t.Fatalf("exit of %d, want %d", got, child)
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
