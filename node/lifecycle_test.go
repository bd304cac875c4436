package node

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

func TestExitCodesAndSignalStatus(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"exit3":  func(s *Sys) int { s.Exit(3); return 0 },
		"ret200": func(*Sys) int { return 200 },
		"panics": func(*Sys) int { panic("boom") },
	}))
	cases := []struct {
		cmd  string
		args []string
		code int
		sig  ipc.Signal
	}{
		{"true", nil, 0, 0},
		{"false", nil, 1, 0},
		{"exit3", nil, 3, 0},
		{"ret200", nil, 200, 0},
		{"panics", nil, 128 + 6, ipc.SIGABRT},
		{"sleep", []string{"x"}, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			st, _ := run(t, k, Spec{Command: c.cmd, Args: c.args})
			if st.Code() != c.code || st.Signal() != c.sig {
				t.Fatalf("got %v (code %d), want code %d signal %v", st, st.Code(), c.code, c.sig)
			}
		})
	}
}

func TestZombieUntilWaited(t *testing.T) {
	child := make(chan int, 1)
	k := newKernel(t, withPrograms(map[string]Program{
		"parent": func(s *Sys) int {
			s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) {})
			s.Sigprocmask(SIG_BLOCK, ipc.SetOf(ipc.SIGUSR1))
			c, err := s.Spawn(SpawnAttr{Command: "true"})
			if err != nil {
				return 1
			}
			child <- c
			// SIGUSR1 may already be pending: sigsuspend can't miss it.
			if err := s.Sigsuspend(0); !errors.Is(err, ipc.EINTR) {
				return 4
			}
			pid, st, err := s.Wait4(c, 0)
			if err != nil || pid != c || st.ExitStatus() != 0 {
				return 2
			}
			if _, _, err := s.Wait4(-1, WNOHANG); !errors.Is(err, ipc.ECHILD) {
				return 3
			}
			return 0
		},
	}))
	ppid := mustSpawn(t, k, Spec{Command: "parent"})
	c := <-child
	waitState(t, k, c, StateZombie)
	if p, _ := k.Get(c); p.ParentPID != ppid || p.ExitCode != 0 {
		t.Fatalf("zombie: parent %d exit %d", p.ParentPID, p.ExitCode)
	}
	k.Kill(ppid, ipc.SIGUSR1)
	if p := mustWait(t, k, ppid); p.Status.ExitStatus() != 0 {
		t.Fatalf("parent: %v", p.Status)
	}
	if _, err := k.Get(c); !errors.Is(err, ipc.ESRCH) {
		t.Fatalf("reaped child: Get gives %v, want ESRCH", err)
	}
}

func TestOrphansReparentedAndReaped(t *testing.T) {
	kids := make(chan [2]int, 1)
	k := newKernel(t, withPrograms(map[string]Program{
		"parent": func(s *Sys) int {
			a, _ := s.Spawn(SpawnAttr{Command: "true"})
			b, _ := s.Spawn(SpawnAttr{Command: "pause"})
			for { // wait until a is a zombie, then exit without reaping it
				if _, _, err := s.Wait4(a, WNOHANG|WNOWAIT); err != nil {
					return 1
				}
				if pid, _, _ := s.Wait4(a, WNOHANG|WNOWAIT); pid == a {
					break
				}
				s.Sleep(time.Millisecond)
			}
			kids <- [2]int{a, b}
			return 0
		},
	}))
	ppid := mustSpawn(t, k, Spec{Command: "parent"})
	ab := <-kids
	mustWait(t, k, ppid)
	// The zombie child was reaped by init at once; the live one was adopted.
	waitFor(t, "zombie orphan reaped", 10*time.Second, func() bool {
		_, err := k.Get(ab[0])
		return errors.Is(err, ipc.ESRCH)
	})
	p, err := k.Get(ab[1])
	if err != nil || p.ParentPID != InitPID {
		t.Fatalf("live orphan: %v %+v", err, p)
	}
	k.Kill(ab[1], ipc.SIGTERM)
	waitFor(t, "adopted orphan reaped by init at exit", 10*time.Second, func() bool {
		_, err := k.Get(ab[1])
		return errors.Is(err, ipc.ESRCH)
	})
}

func TestWaitVariants(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"waiter": func(s *Sys) int {
			if _, _, err := s.Wait4(-1, 0); !errors.Is(err, ipc.ECHILD) {
				return 1 // no children at all
			}
			a, _ := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"0.05"}})
			b, _ := s.Spawn(SpawnAttr{Command: "false"})
			if pid, _, err := s.Wait4(a, WNOHANG); pid != 0 || err != nil {
				return 2 // a is still sleeping
			}
			seen := map[int]int{}
			for range 2 {
				pid, st, err := s.Wait4(-1, 0) // any child
				if err != nil {
					return 3
				}
				seen[pid] = st.ExitStatus()
			}
			if len(seen) != 2 || seen[a] != 0 || seen[b] != 1 {
				return 4
			}
			if _, _, err := s.Wait4(12345, 0); !errors.Is(err, ipc.ECHILD) {
				return 5 // not a child
			}
			if _, _, err := s.Wait4(-1, 0x4000); !errors.Is(err, ipc.EINVAL) {
				return 6
			}
			return 0
		},
	}))
	st, out := run(t, k, Spec{Command: "waiter"})
	if st.ExitStatus() != 0 {
		t.Fatalf("waiter: %v %s", st, out)
	}
}

func TestLibraryWaitReapsAndRetention(t *testing.T) {
	k := newKernel(t, func(c *Config) { c.Retention = 20 * time.Millisecond })
	pid := mustSpawn(t, k, Spec{Command: "true"})
	p := mustWait(t, k, pid)
	if p.State != StateZombie || p.Status.ExitStatus() != 0 {
		t.Fatalf("wait: %+v", p)
	}
	if _, err := k.Wait(context.Background(), pid); !errors.Is(err, ipc.ESRCH) {
		t.Fatalf("second wait: %v, want ESRCH", err)
	}
	// Not waited for: init reaps it once the retention has passed.
	pid = mustSpawn(t, k, Spec{Command: "true"})
	waitFor(t, "retention reap", 10*time.Second, func() bool {
		_, err := k.Get(pid)
		return errors.Is(err, ipc.ESRCH)
	})
}

func TestBadInput(t *testing.T) {
	k := newKernel(t)
	pid := mustSpawn(t, k, Spec{Command: "true"})
	mustWait(t, k, pid) // reaped
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unknown program", second(k.Spawn(Spec{Command: "no-such-program"})), ipc.ENOENT},
		{"bad priority", second(k.Spawn(Spec{Command: "true", Priority: 101})), ipc.EINVAL},
		{"bad cwd", second(k.Spawn(Spec{Command: "true", Cwd: "/does/not/exist"})), ipc.ENOENT},
		{"relative cwd outside", second(k.Spawn(Spec{Command: "true", Cwd: "a\x00b"})), ipc.EINVAL},
		{"bad signal", k.Kill(pid, 99), ipc.EINVAL},
		{"negative signal", k.Kill(pid, -1), ipc.EINVAL},
		{"kill reaped", k.Kill(pid, ipc.SIGTERM), ipc.ESRCH},
		{"get reaped", second(k.Get(pid)), ipc.ESRCH},
		{"wait reaped", second(k.Wait(context.Background(), pid)), ipc.ESRCH},
		{"kill init", k.Kill(InitPID, ipc.SIGKILL), ipc.ESRCH},
		{"kill pid 0", k.Kill(0, ipc.SIGTERM), ipc.EINVAL},
		{"bad limit", second(ParseLimits(nil, "cpu=forever")), ErrBadLimit},
		{"limit past parent", second(Inherit(&ResourceLimits{RNoFile: {Soft: 8, Hard: 8}}, &ResourceLimits{RNoFile: {Soft: 8, Hard: 9}})), ipc.EPERM},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !errors.Is(c.err, c.want) {
				t.Fatalf("got %v, want %v", c.err, c.want)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func TestShutdownReportsHogs(t *testing.T) {
	k, err := New(func() Config {
		c := DefaultConfig()
		c.Programs = testPrograms()
		c.Slots = 1
		c.StuckSlices = 2
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	programTable(t, k).Register("hog", func(s *Sys) int {
		<-release // never calls into the system while it holds the slot
		s.Yield()
		return 0
	})
	pid := mustSpawn(t, k, Spec{Command: "hog"})
	mustSpawn(t, k, Spec{Command: "sleep", Args: []string{"60"}})
	waitFor(t, "hog flagged", 10*time.Second, func() bool {
		p, _ := k.Get(pid)
		return p.Hogging
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = k.Shutdown(ctx)
	var se *ShutdownError
	if !errors.As(err, &se) || len(se.PIDs) != 1 || se.PIDs[0] != pid {
		t.Fatalf("shutdown: %v, want a ShutdownError naming %d", err, pid)
	}
	close(release) // its next system call kills it
	k.wg.Wait()
}

type counterPIDs struct{ next int }

func (c *counterPIDs) AllocPID(PIDRequest) (Allocation, error) {
	c.next += 10
	return Allocation{PID: c.next}, nil
}

func TestExternalPIDsAndEvents(t *testing.T) {
	var mu sync.Mutex
	var events []Event
	alloc := &counterPIDs{next: 1000}
	k := newKernel(t, withPrograms(map[string]Program{
		"print-pid": func(s *Sys) int { s.Printf("%d\n", s.Getpid()); return 0 },
		"run-child": func(s *Sys) int {
			c, err := s.Spawn(SpawnAttr{Command: s.Args()[0]})
			if err != nil {
				return 1
			}
			_, st, _ := s.Wait4(c, 0)
			return st.Code()
		},
	}), func(c *Config) {
		c.PIDs = alloc
		c.OnEvent = func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	// A PID chosen by the caller, and one that is in use.
	pid := mustSpawn(t, k, Spec{Command: "sleep", Args: []string{"60"}, PID: 77})
	if pid != 77 {
		t.Fatalf("got PID %d, want 77", pid)
	}
	if _, err := k.Spawn(Spec{Command: "true", PID: 77}); !errors.Is(err, ipc.EEXIST) {
		t.Fatalf("reused PID: %v, want EEXIST", err)
	}
	if _, err := k.Spawn(Spec{Command: "true", PID: 1}); !errors.Is(err, ipc.EINVAL) {
		t.Fatalf("PID 1: %v, want EINVAL", err)
	}
	// PIDs of children come from the allocator.
	st, out := run(t, k, Spec{Command: "run-child", Args: []string{"print-pid"}})
	if st.ExitStatus() != 0 || out != "1020\n" {
		t.Fatalf("child PID: %v %q, want 1020 from the allocator", st, out)
	}
	k.Kill(pid, ipc.SIGSTOP)
	waitState(t, k, pid, StateStopped)
	k.Kill(pid, ipc.SIGCONT)
	k.Kill(pid, ipc.SIGKILL)
	mustWait(t, k, pid)
	// The exit is reported after the zombie can be waited for.
	kinds := func() string {
		mu.Lock()
		defer mu.Unlock()
		var kinds []string
		for _, e := range events {
			if e.PID == 77 {
				kinds = append(kinds, e.Kind.String())
			}
		}
		return strings.Join(kinds, " ")
	}
	want := "started stopped continued exited"
	waitFor(t, "events for 77 to be \""+want+"\"", 10*time.Second, func() bool { return kinds() == want })
}

// A process killed while it waits for its first slot dies of that signal
// (it used to be reported as a clean exit).
func TestKilledBeforeFirstSlot(t *testing.T) {
	k := newKernel(t, func(c *Config) { c.Slots = 1 }, withPrograms(map[string]Program{
		"hog-a-while": func(s *Sys) int {
			for range 200000 {
				s.Getpid() // calls in, but the slice is long: keeps the slot
			}
			return 0
		},
	}))
	busy := mustSpawn(t, k, Spec{Command: "hog-a-while"})
	pid := mustSpawn(t, k, Spec{Command: "pause"})
	if p, _ := k.Get(pid); p.State != StateReady {
		t.Skipf("the second process got a slot at once (%s); nothing to test", p.State)
	}
	k.Kill(pid, ipc.SIGTERM)
	if p := mustWait(t, k, pid); p.Status.Signal() != ipc.SIGTERM {
		t.Fatalf("got %v, want killed by SIGTERM", p.Status)
	}
	mustWait(t, k, busy)
}

// blockedReader is a host reader whose Read blocks until release is closed.
type blockedReader struct{ release chan struct{} }

func (r blockedReader) Read([]byte) (int, error) { <-r.release; return 0, io.EOF }

// TestShutdownAgainWaits calls Shutdown again while a killed process has not
// ended yet: the second call must not report success before the first one
// could.
func TestShutdownAgainWaits(t *testing.T) {
	k, err := New(func() Config { c := DefaultConfig(); c.Programs = testPrograms(); return c }())
	if err != nil {
		t.Fatal(err)
	}
	r := blockedReader{release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(r.release) }) }
	t.Cleanup(func() {
		release()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		k.Shutdown(ctx)
	})
	pid := mustSpawn(t, k, Spec{Command: "cat", Stdin: r})
	waitState(t, k, pid, StateWaiting) // in the host read, which a kill can't end
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	var se *ShutdownError
	if err := k.Shutdown(expired); !errors.As(err, &se) || len(se.PIDs) != 1 || se.PIDs[0] != pid {
		t.Fatalf("first Shutdown: got %v, want a ShutdownError naming %d", err, pid)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := k.Shutdown(short); !errors.As(err, &se) || len(se.PIDs) != 1 || se.PIDs[0] != pid {
		t.Fatalf("second Shutdown while %d still runs: got %v, want a ShutdownError naming it", pid, err)
	}
	release()
	long, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.Shutdown(long); err != nil {
		t.Fatalf("Shutdown once the process can end: %v", err)
	}
}

func TestSigsuspend(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"suspender": func(s *Sys) int {
			ran := 0
			s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) { ran++ })
			s.Sigprocmask(SIG_BLOCK, ipc.SetOf(ipc.SIGUSR1))
			s.Kill(s.Getpid(), ipc.SIGUSR1) // pending before the suspend
			if ran != 0 {
				return 1
			}
			if err := s.Sigsuspend(0); !errors.Is(err, ipc.EINTR) || ran != 1 {
				return 2
			}
			if m, _ := s.Sigprocmask(SIG_BLOCK, 0); !m.Has(ipc.SIGUSR1) {
				return 3 // the old mask is back
			}
			return 0
		},
	}))
	if st, out := run(t, k, Spec{Command: "suspender"}); st.ExitStatus() != 0 {
		t.Fatalf("got %v %s", st, out)
	}
}

func TestReapZombie(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		// parent leaves its child a zombie: it sleeps without waiting.
		"parent": func(s *Sys) int {
			if _, err := s.Spawn(SpawnAttr{Command: "true"}); err != nil {
				return 1
			}
			_ = s.Sleep(time.Minute)
			return 0
		},
	}))
	done, err := k.Spawn(Spec{Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	held, err := k.Spawn(Spec{Command: "sleep", Args: []string{"60"}})
	if err != nil {
		t.Fatal(err)
	}
	parent, err := k.Spawn(Spec{Command: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	zombie := func(pid int) bool {
		p, err := k.Get(pid)
		return err == nil && p.State == StateZombie
	}
	waitFor(t, "the zombie of init's child", 5*time.Second, func() bool { return zombie(done) })
	var kid int
	waitFor(t, "the zombie of another parent's child", 5*time.Second, func() bool {
		for _, p := range k.List() {
			if p.ParentPID == parent && p.State == StateZombie {
				kid = p.PID
			}
		}
		return kid != 0
	})
	for _, tc := range []struct {
		name string
		pid  int
		want bool
	}{
		{"running", held, false},
		{"another parent's zombie", kid, false},
		{"unknown", 99999, false},
		{"init", InitPID, false},
		{"init's zombie", done, true},
		{"reaped already", done, false},
	} {
		if got := k.ReapZombie(tc.pid); got != tc.want {
			t.Errorf("%s: ReapZombie(%d) = %v, want %v", tc.name, tc.pid, got, tc.want)
		}
	}
	if _, err := k.Get(done); !errors.Is(err, ErrNoProcess) {
		t.Errorf("after the reap, Get(%d) = %v, want ErrNoProcess", done, err)
	}
	if !zombie(kid) {
		t.Errorf("another parent's zombie %d was reaped", kid)
	}
}
