package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// withPrograms returns a Config modifier registering extra programs next to
// the builtins.
func withPrograms(progs map[string]Program) func(*Config) {
	return func(c *Config) {
		r := testPrograms()
		for n, p := range progs {
			r.Register(n, p)
		}
		c.Programs = r
	}
}

func mustSpawn(t testing.TB, k *ProcessManager, spec Spec) int {
	t.Helper()
	pid, err := k.Spawn(spec)
	if err != nil {
		t.Fatalf("spawn %q: %v", spec.Command, err)
	}
	return pid
}

func mustWait(t testing.TB, k *ProcessManager, pid int) *Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := k.Wait(ctx, pid)
	if err != nil {
		t.Fatalf("wait %d: %v", pid, err)
	}
	return p
}

func waitState(t testing.TB, k *ProcessManager, pid int, want ProcessState) {
	t.Helper()
	waitFor(t, "pid "+itoa(pid)+" to be "+string(want), 10*time.Second, func() bool {
		p, err := k.Get(pid)
		return err == nil && p.State == want
	})
}

func TestHandlerRunsAtNextYieldPoint(t *testing.T) {
	var got atomic.Int32
	k := newKernel(t, withPrograms(map[string]Program{
		"handler": func(s *Sys) int {
			var ran atomic.Bool
			s.Signal(ipc.SIGUSR1, func(s *Sys, sig ipc.Signal) {
				got.Store(int32(sig))
				ran.Store(true)
			})
			for !ran.Load() {
				s.Yield()
			}
			return 7
		},
	}))
	pid := mustSpawn(t, k, Spec{Command: "handler"})
	waitState(t, k, pid, StateRunning) // it is looping in Yield
	if err := k.Kill(pid, ipc.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	p := mustWait(t, k, pid)
	if p.Status.ExitStatus() != 7 || got.Load() != int32(ipc.SIGUSR1) {
		t.Fatalf("status %v, handler saw %d", p.Status, got.Load())
	}
}

// blockers are programs that block in one call with a SIGUSR1 handler
// installed, and exit 42 if the call ends with EINTR.
func blockers() map[string]Program {
	withHandler := func(block func(s *Sys) error) Program {
		return func(s *Sys) int {
			s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) {})
			if err := block(s); errors.Is(err, ipc.EINTR) {
				return 42
			} else {
				s.Errorf("call ended with %v", err)
			}
			return 1
		}
	}
	return map[string]Program{
		"block-read": withHandler(func(s *Sys) error {
			r, _, err := s.Pipe() // the write end stays open: the read blocks
			if err != nil {
				return err
			}
			_, err = s.Read(r, make([]byte, 1))
			return err
		}),
		"block-sleep": withHandler(func(s *Sys) error { return s.Sleep(time.Minute) }),
		"block-wait": withHandler(func(s *Sys) error {
			if _, err := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"60"}}); err != nil {
				return err
			}
			_, _, err := s.Wait4(-1, 0)
			return err
		}),
		"block-pause": withHandler(func(s *Sys) error { return s.Pause() }),
	}
}

func TestBlockedCallsInterrupted(t *testing.T) {
	k := newKernel(t, withPrograms(blockers()))
	for _, name := range []string{"block-read", "block-sleep", "block-wait", "block-pause"} {
		t.Run(name+"/handled-EINTR", func(t *testing.T) {
			pid := mustSpawn(t, k, Spec{Command: name})
			waitState(t, k, pid, StateWaiting)
			k.Kill(pid, ipc.SIGUSR1)
			if p := mustWait(t, k, pid); p.Status.ExitStatus() != 42 {
				t.Fatalf("got %v, want exit 42 (EINTR)", p.Status)
			}
		})
		testFatalWhileBlocked(t, k, name)
	}
}

// testFatalWhileBlocked checks that SIGKILL, and SIGTERM with its default
// action, end the program name while it is blocked in a call.
func testFatalWhileBlocked(t *testing.T, k *ProcessManager, name string) {
	for _, sig := range []ipc.Signal{ipc.SIGKILL, ipc.SIGTERM} {
		t.Run(name+"/"+sig.String()+"-kills", func(t *testing.T) {
			pid := mustSpawn(t, k, Spec{Command: name})
			waitState(t, k, pid, StateWaiting)
			k.Kill(pid, sig)
			if p := mustWait(t, k, pid); p.Status.Signal() != sig {
				t.Fatalf("got %v, want death by %v", p.Status, sig)
			}
		})
	}
}

func TestUncatchableSignals(t *testing.T) {
	var errs [3]error
	k := newKernel(t, withPrograms(map[string]Program{
		"try": func(s *Sys) int {
			_, errs[0] = s.Sigaction(ipc.SIGKILL, &SigAction{Ignore: true})
			_, errs[1] = s.Sigaction(ipc.SIGSTOP, &SigAction{Handler: func(*Sys, ipc.Signal) {}})
			s.Sigprocmask(SIG_BLOCK, ipc.SetOf(ipc.SIGKILL, ipc.SIGSTOP, ipc.SIGTERM))
			m, _ := s.Sigprocmask(SIG_BLOCK, 0)
			if m.Has(ipc.SIGKILL) || m.Has(ipc.SIGSTOP) || !m.Has(ipc.SIGTERM) {
				errs[2] = errors.New("mask " + m.String())
			}
			s.Pause()
			return 0
		},
	}))
	pid := mustSpawn(t, k, Spec{Command: "try"})
	waitState(t, k, pid, StateWaiting)
	k.Kill(pid, ipc.SIGTERM) // blocked: stays pending
	k.Kill(pid, ipc.SIGSTOP)
	waitState(t, k, pid, StateStopped)
	k.Kill(pid, ipc.SIGKILL)
	p := mustWait(t, k, pid)
	if p.Status.Signal() != ipc.SIGKILL {
		t.Fatalf("got %v, want death by SIGKILL", p.Status)
	}
	for i, want := range []error{ipc.EINVAL, ipc.EINVAL, nil} {
		if !errors.Is(errs[i], want) && errs[i] != want {
			t.Errorf("check %d: got %v, want %v", i, errs[i], want)
		}
	}
}

func TestMaskPendingAndMerge(t *testing.T) {
	var handled atomic.Int32
	var goOn atomic.Bool
	ready := make(chan struct{})
	k := newKernel(t, withPrograms(map[string]Program{
		"masker": func(s *Sys) int {
			s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) { handled.Add(1) })
			s.Sigprocmask(SIG_BLOCK, ipc.SetOf(ipc.SIGUSR1))
			close(ready)
			for !goOn.Load() {
				s.Sleep(time.Millisecond)
			}
			if handled.Load() != 0 {
				return 2 // ran while blocked
			}
			if !s.Sigpending().Has(ipc.SIGUSR1) {
				return 3
			}
			s.Sigprocmask(SIG_UNBLOCK, ipc.SetOf(ipc.SIGUSR1))
			return int(handled.Load()) // the handler ran before Sigprocmask returned
		},
	}))
	pid := mustSpawn(t, k, Spec{Command: "masker"})
	<-ready
	for range 3 { // standard signals merge while pending: one delivery
		k.Kill(pid, ipc.SIGUSR1)
	}
	goOn.Store(true)
	if p := mustWait(t, k, pid); p.Status.ExitStatus() != 1 {
		t.Fatalf("got %v, want exit 1 (one handler run after unblocking)", p.Status)
	}
}

func TestIgnoredSignal(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"ignorer": func(s *Sys) int {
			s.Sigaction(ipc.SIGTERM, &SigAction{Ignore: true})
			s.Sigaction(ipc.SIGUSR1, &SigAction{Handler: func(*Sys, ipc.Signal) {}})
			if err := s.Pause(); errors.Is(err, ipc.EINTR) {
				return 5 // only SIGUSR1 interrupted it
			}
			return 1
		},
	}))
	pid := mustSpawn(t, k, Spec{Command: "ignorer"})
	waitState(t, k, pid, StateWaiting)
	k.Kill(pid, ipc.SIGTERM)
	k.Kill(pid, ipc.SIGTERM)
	if p, _ := k.Get(pid); p.State == StateZombie {
		t.Fatal("ignored SIGTERM killed the process")
	}
	k.Kill(pid, ipc.SIGUSR1)
	if p := mustWait(t, k, pid); p.Status.ExitStatus() != 5 {
		t.Fatalf("got %v, want exit 5", p.Status)
	}
}

func TestStopContinue(t *testing.T) {
	k := newKernel(t, withPrograms(blockers()))
	t.Run("blocked", func(t *testing.T) {
		pid := mustSpawn(t, k, Spec{Command: "block-read"})
		waitState(t, k, pid, StateWaiting)
		k.Kill(pid, ipc.SIGSTOP)
		waitState(t, k, pid, StateStopped)
		k.Kill(pid, ipc.SIGCONT)
		waitState(t, k, pid, StateWaiting) // back in its read
		k.Kill(pid, ipc.SIGUSR1)
		if p := mustWait(t, k, pid); p.Status.ExitStatus() != 42 {
			t.Fatalf("got %v, want the read to end with EINTR after continuing", p.Status)
		}
	})
	t.Run("running", func(t *testing.T) {
		// SIGSTOP: the process leads a group that init's adoption orphans,
		// where SIGTSTP is discarded (TestOrphanedGroupStops).
		pid := mustSpawn(t, k, Spec{Command: "spin"})
		k.Kill(pid, ipc.SIGSTOP)
		waitState(t, k, pid, StateStopped)
		p1, _ := k.Get(pid)
		// A stopped process uses no CPU: its accounting stays put while
		// another process runs.
		run(t, k, Spec{Command: "spin", Args: []string{"20000"}})
		p2, _ := k.Get(pid)
		if p2.CPUTime != p1.CPUTime {
			t.Fatalf("stopped process used CPU: %v -> %v", p1.CPUTime, p2.CPUTime)
		}
		k.Kill(pid, ipc.SIGCONT)
		waitFor(t, "spinner to run again", 10*time.Second, func() bool {
			p, _ := k.Get(pid)
			return p.CPUTime > p2.CPUTime
		})
		k.Kill(pid, ipc.SIGKILL)
		mustWait(t, k, pid)
	})
}

func TestSIGCHLDAndWaitReports(t *testing.T) {
	var mu sync.Mutex
	var events []string
	var chld atomic.Int32
	childPID := make(chan int, 1)
	k := newKernel(t, withPrograms(map[string]Program{
		"parent": func(s *Sys) int {
			s.Signal(ipc.SIGCHLD, func(*Sys, ipc.Signal) { chld.Add(1) })
			c, err := s.Spawn(SpawnAttr{Command: "pause"})
			if err != nil {
				return 1
			}
			childPID <- c
			for {
				pid, st, err := s.Wait4(c, WUNTRACED|WCONTINUED)
				if errors.Is(err, ipc.EINTR) {
					continue
				}
				if err != nil || pid != c {
					return 2
				}
				mu.Lock()
				events = append(events, st.String())
				mu.Unlock()
				if st.Signaled() || st.Exited() {
					return 0
				}
			}
		},
	}))
	ppid := mustSpawn(t, k, Spec{Command: "parent"})
	c := <-childPID
	waitState(t, k, c, StateWaiting)
	nevents := func(n int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return len(events) >= n }
	}
	k.Kill(c, ipc.SIGSTOP)
	waitFor(t, "stop report", 10*time.Second, nevents(1))
	k.Kill(c, ipc.SIGCONT)
	waitFor(t, "continue report", 10*time.Second, nevents(2))
	k.Kill(c, ipc.SIGTERM)
	if p := mustWait(t, k, ppid); p.Status.ExitStatus() != 0 {
		t.Fatalf("parent: %v", p.Status)
	}
	want := []string{"stopped by SIGSTOP", "continued", "killed by SIGTERM"}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 3 || events[0] != want[0] || events[1] != want[1] || events[2] != want[2] {
		t.Fatalf("wait reports %q, want %q", events, want)
	}
	if n := chld.Load(); n < 1 || n > 3 {
		t.Fatalf("SIGCHLD handler ran %d times, want 1..3 (signals merge)", n)
	}
}

func TestKillProcessGroup(t *testing.T) {
	spawned := make(chan [3]int, 1)
	k := newKernel(t, withPrograms(map[string]Program{
		"leader": func(s *Sys) int {
			var members [3]int
			for i := range members {
				// The first child leads a new group; the others join it.
				attr := SpawnAttr{Command: "sleep", Args: []string{"60"}, Pgid: -1}
				if i > 0 {
					attr.Pgid = members[0]
				}
				pid, err := s.Spawn(attr)
				if err != nil {
					s.Errorf("spawn: %v", err)
					return 1
				}
				members[i] = pid
			}
			spawned <- members
			for range members {
				if _, st, err := s.Wait4(-members[0], 0); err != nil || st.Signal() != ipc.SIGTERM {
					s.Errorf("wait: %v %v", st, err)
					return 2
				}
			}
			return 0
		},
	}))
	leader := mustSpawn(t, k, Spec{Command: "leader"})
	members := <-spawned
	waitFor(t, "group members", 10*time.Second, func() bool {
		for _, m := range members {
			if p, err := k.Get(m); err != nil || p.State != StateWaiting {
				return false
			}
		}
		return true
	})
	if err := k.Kill(-members[0], ipc.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if p := mustWait(t, k, leader); p.Status.ExitStatus() != 0 {
		t.Fatalf("leader: %v", p.Status)
	}
	if err := k.Kill(-members[0], ipc.SIGTERM); !errors.Is(err, ipc.ESRCH) {
		t.Fatalf("kill of an empty group: %v, want ESRCH", err)
	}
}

// TestKillOwnGroupRacesSetpgid has a child signal its own group (kill(0,
// sig)) while its parent moves it between groups: the child's group is
// tree state, and the race detector checks that kill reads it under the
// tree lock.
func TestKillOwnGroupRacesSetpgid(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"kill-own-group": func(s *Sys) int {
			for range 500 {
				if err := s.Kill(0, 0); err != nil {
					return 1
				}
			}
			return 0
		},
	}))
	wantErr(t, "move the child between groups", runSys(t, k, Spec{}, func(s *Sys) error {
		c, err := s.Spawn(SpawnAttr{Command: "kill-own-group"})
		if err != nil {
			return err
		}
		own, err := s.Getpgid(0)
		if err != nil {
			return err
		}
		for i := 0; ; i++ {
			pgid := c
			if i%2 == 1 {
				pgid = own
			}
			if err := s.Setpgid(c, pgid); err != nil && !errors.Is(err, ipc.ESRCH) {
				return err
			}
			pid, st, err := s.Wait4(c, WNOHANG)
			if err != nil {
				return err
			}
			if pid == c {
				if st.ExitStatus() != 0 {
					return errors.New("child: " + st.String())
				}
				return nil
			}
		}
	}), nil)
}

// TestStopContinueEventsInOrder stops a process over and over while SIGCONT
// keeps coming: whatever the interleaving, OnEvent must see each stop
// before the continue that ends it, so that the last event before the exit
// is never a stop.
func TestStopContinueEventsInOrder(t *testing.T) {
	const stops = 100
	var mu sync.Mutex
	events := map[int][]EventKind{}
	k := newKernel(t, func(c *Config) {
		c.OnEvent = func(e Event) {
			mu.Lock()
			events[e.PID] = append(events[e.PID], e.Kind)
			mu.Unlock()
		}
	}, withPrograms(map[string]Program{
		"stop-self": func(s *Sys) int {
			for range stops {
				s.Kill(s.Getpid(), ipc.SIGSTOP)
			}
			return 0
		},
	}))
	pid := mustSpawn(t, k, Spec{Command: "stop-self"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if p, err := k.Get(pid); err != nil || p.State == StateZombie {
				return
			}
			k.Kill(pid, ipc.SIGCONT)
		}
	}()
	mustWait(t, k, pid)
	<-done
	mu.Lock()
	defer mu.Unlock()
	evs := events[pid]
	upTo := func(i int) []EventKind { return evs[:min(i+1, len(evs))] }
	stopped := false
	for i, e := range evs {
		switch e {
		case EventStopped:
			if stopped {
				t.Fatalf("event %d: stopped twice without a continue in between: %v", i, upTo(i))
			}
			stopped = true
		case EventContinued:
			if !stopped {
				t.Fatalf("event %d: continued while not stopped: %v", i, upTo(i))
			}
			stopped = false
		case EventExited:
			if stopped {
				t.Fatalf("event %d: exited while the events say stopped: %v", i, upTo(i))
			}
		}
	}
}

// TestStopInBlockedCallKeepsWakeup stops a process as it goes back to sleep
// in a blocked call, and hands it what it waits for while it is stopped:
// once continued it must see it, not sleep on.
func TestStopInBlockedCallKeepsWakeup(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"mq-receive-one": func(s *Sys) int {
			fd, err := s.MqOpen("/wake", O_RDONLY, 0, nil)
			if err != nil {
				return 1
			}
			buf := make([]byte, ipc.DefaultMsgSize)
			if n, _, err := s.MqReceive(fd, buf); err != nil || string(buf[:n]) != "hello" {
				return 2
			}
			return 0
		},
	}))
	q, err := k.mqs.Open("/wake", ipc.O_CREAT|ipc.O_WRONLY, 0o600, "root", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	pid := mustSpawn(t, k, Spec{Command: "mq-receive-one"})
	waitNoSlot(t, k, pid)
	// A wake-up (SIGCONT to a running process) while frozen leaves the
	// receiver ready, waiting for a slot; SIGSTOP then stays pending until
	// the receiver goes back to sleep in the same call, after the thaw.
	k.Freeze()
	k.Kill(pid, ipc.SIGCONT)
	waitState(t, k, pid, StateReady)
	k.Kill(pid, ipc.SIGSTOP)
	k.Thaw()
	waitState(t, k, pid, StateStopped)
	if err := q.Send(ipc.NewWaiter(), []byte("hello"), 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	k.Kill(pid, ipc.SIGCONT)
	waitFor(t, "the receiver to get the message and exit", 5*time.Second, func() bool {
		p, err := k.Get(pid)
		return err == nil && p.State == StateZombie
	})
	if p := mustWait(t, k, pid); p.Status.ExitStatus() != 0 {
		t.Fatalf("receiver: got %v, want exit 0", p.Status)
	}
}
