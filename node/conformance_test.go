package node

import (
	"errors"
	"strconv"
	"testing"

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
