package node

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// farPIDs allocates PIDs and says that a child for node "far" runs
// elsewhere; it records the requests and the releases.
type farPIDs struct {
	mu       sync.Mutex
	next     int
	reqs     []PIDRequest
	released []int
}

func (f *farPIDs) AllocPID(req PIDRequest) (Allocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	f.reqs = append(f.reqs, req)
	return Allocation{PID: 100 + f.next, Elsewhere: req.Node == "far"}, nil
}

func (f *farPIDs) ReleasePID(pid int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, pid)
}

// routeLog records the signals a kernel routes.
type routeLog struct {
	mu    sync.Mutex
	calls [][3]int // sender, target, signal
	err   error
}

func (r *routeLog) Signal(sender, target int, sig ipc.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, [3]int{sender, target, int(sig)})
	return r.err
}

func (r *routeLog) got() [][3]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][3]int(nil), r.calls...)
}

// remoteKernel is a kernel whose children on node "far" are remote child
// records, with its events recorded.
func remoteKernel(t *testing.T, progs map[string]Program, mod ...func(*Config)) (*ProcessManager, *farPIDs, *routeLog, func() []Event) {
	alloc := &farPIDs{}
	route := &routeLog{}
	var mu sync.Mutex
	var events []Event
	k := newKernel(t, append([]func(*Config){withPrograms(progs), func(c *Config) {
		c.PIDs = alloc
		c.Signals = route
		c.OnEvent = func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	}}, mod...)...)
	return k, alloc, route, func() []Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), events...)
	}
}

type waitResult struct {
	pid int
	ws  WaitStatus
	err error
}

// TestRemoteChildWait: a parent waits for a child on another node as for a
// local one: WNOHANG, a PID, any child, stops and continues with SIGCHLD
// (none for a stop with SA_NOCLDSTOP), the status, and the reap reported.
func TestRemoteChildWait(t *testing.T) {
	var sigchld atomic.Int32
	childPID := make(chan int, 1)
	step := make(chan int)           // options for the next Wait4(-1, ...)
	results := make(chan waitResult) // its answers
	k, alloc, _, events := remoteKernel(t, map[string]Program{
		"parent": func(s *Sys) int {
			s.Sigaction(ipc.SIGCHLD, &SigAction{Handler: func(*Sys, ipc.Signal) { sigchld.Add(1) }})
			pid, err := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"600"}, Node: "far", Pgid: -1})
			if err != nil {
				return 1
			}
			childPID <- pid
			for opts := range step {
				for {
					p, ws, err := s.Wait4(-1, opts)
					if errors.Is(err, ipc.EINTR) {
						continue
					}
					results <- waitResult{p, ws, err}
					break
				}
			}
			return 0
		},
	})
	ppid := mustSpawn(t, k, Spec{Command: "parent"})
	cpid := <-childPID
	alloc.mu.Lock()
	req := alloc.reqs[1]
	alloc.mu.Unlock()
	if req.Parent != ppid || req.Node != "far" || req.Pgid != -1 {
		t.Fatalf("allocation request %+v, want parent %d on far in a new group", req, ppid)
	}
	c, err := k.Get(cpid)
	if err != nil || !c.Remote || c.ParentPID != ppid || c.Pgid != cpid || c.State != StateWaiting {
		t.Fatalf("remote child %+v (%v): want a remote record, parent %d, group %d, waiting", c, err, ppid, cpid)
	}
	if n := k.Count(); n != 1 {
		t.Fatalf("Count() = %d, want 1: a remote child runs elsewhere", n)
	}
	ask := func(opts int) waitResult { step <- opts; return <-results }

	if r := ask(WNOHANG); r.pid != 0 || r.err != nil {
		t.Fatalf("WNOHANG before any change: %+v, want 0", r)
	}
	if err := k.ReportRemote(Event{PID: cpid, Kind: EventStopped, Status: stoppedStatus(ipc.SIGTSTP)}); err != nil {
		t.Fatal(err)
	}
	// The parent runs its handler at its next system call: the wait.
	if r := ask(WUNTRACED | WNOHANG); r.pid != cpid || !r.ws.Stopped() || r.ws.StopSignal() != ipc.SIGTSTP {
		t.Fatalf("WUNTRACED: %+v (%v), want %d stopped by SIGTSTP", r, r.ws, cpid)
	}
	if n := sigchld.Load(); n != 1 {
		t.Fatalf("SIGCHLD for the stop: %d deliveries, want 1", n)
	}
	if err := k.ReportRemote(Event{PID: cpid, Kind: EventContinued}); err != nil {
		t.Fatal(err)
	}
	if r := ask(WCONTINUED); r.pid != cpid || !r.ws.Continued() {
		t.Fatalf("WCONTINUED: %+v, want %d continued", r, cpid)
	}
	if n := sigchld.Load(); n != 2 {
		t.Fatalf("SIGCHLD for the continue: %d deliveries, want 2", n)
	}

	// A blocking wait for any child, ended by the exit.
	step <- 0
	time.AfterFunc(20*time.Millisecond, func() {
		k.ReportRemote(Event{PID: cpid, Kind: EventExited, Status: SignaledStatus(ipc.SIGTERM, false)})
	})
	r := <-results
	if r.pid != cpid || !r.ws.Signaled() || r.ws.Signal() != ipc.SIGTERM {
		t.Fatalf("wait for any child: %+v (%v), want %d killed by SIGTERM", r, r.ws, cpid)
	}
	if n := sigchld.Load(); n != 3 {
		t.Fatalf("SIGCHLD for the exit: %d deliveries, want 3", n)
	}
	if _, err := k.Get(cpid); !errors.Is(err, ipc.ESRCH) {
		t.Fatalf("the reaped record is still there: %v", err)
	}
	if r := ask(WNOHANG); !errors.Is(r.err, ipc.ECHILD) {
		t.Fatalf("wait with no child left: %+v, want ECHILD", r)
	}
	close(step)
	mustWait(t, k, ppid)
	var reaped, remoteEvents int
	for _, e := range events() {
		if e.PID == cpid {
			remoteEvents++
			if e.Kind == EventReaped {
				reaped++
			}
		}
	}
	if reaped != 1 || remoteEvents != 1 {
		t.Fatalf("events about the remote child: %d, %d reaped; want only the reap", remoteEvents, reaped)
	}
	if err := k.ReportRemote(Event{PID: cpid, Kind: EventExited}); !errors.Is(err, ipc.ESRCH) {
		t.Fatalf("report after the reap: %v, want ESRCH", err)
	}
}

// TestRemoteChildNoCldStop: SA_NOCLDSTOP holds for a remote child's stop.
func TestRemoteChildNoCldStop(t *testing.T) {
	var sigchld atomic.Int32
	childPID := make(chan int, 1)
	done := make(chan struct{})
	k, _, _, _ := remoteKernel(t, map[string]Program{
		"parent": func(s *Sys) int {
			s.Sigaction(ipc.SIGCHLD, &SigAction{Handler: func(*Sys, ipc.Signal) { sigchld.Add(1) }, Flags: SA_NOCLDSTOP})
			pid, _ := s.Spawn(SpawnAttr{Command: "sleep", Node: "far"})
			childPID <- pid
			<-done
			for {
				if _, _, err := s.Wait4(pid, 0); !errors.Is(err, ipc.EINTR) {
					return 0
				}
			}
		},
	})
	ppid := mustSpawn(t, k, Spec{Command: "parent"})
	cpid := <-childPID
	k.ReportRemote(Event{PID: cpid, Kind: EventStopped})
	k.ReportRemote(Event{PID: cpid, Kind: EventContinued})
	close(done)
	k.ReportRemote(Event{PID: cpid, Kind: EventExited, Status: ExitedStatus(0)})
	mustWait(t, k, ppid)
	if n := sigchld.Load(); n != 1 {
		t.Fatalf("SIGCHLD delivered %d times, want 1 (the exit only)", n)
	}
}

// TestRemoteChildOrphan: a parent that exits gives its remote child to init,
// which reaps it when it exits.
func TestRemoteChildOrphan(t *testing.T) {
	childPID := make(chan int, 1)
	k, _, _, _ := remoteKernel(t, map[string]Program{
		"parent": func(s *Sys) int {
			pid, _ := s.Spawn(SpawnAttr{Command: "sleep", Node: "far"})
			childPID <- pid
			return 0
		},
	})
	mustWait(t, k, mustSpawn(t, k, Spec{Command: "parent"}))
	cpid := <-childPID
	c, err := k.Get(cpid)
	if err != nil || c.ParentPID != InitPID {
		t.Fatalf("orphan %+v (%v): want its parent to be init", c, err)
	}
	if err := k.ReportRemote(Event{PID: cpid, Kind: EventExited, Status: ExitedStatus(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(cpid); !errors.Is(err, ipc.ESRCH) {
		t.Fatalf("init did not reap its adopted remote child: %v", err)
	}
}

// TestRouteKill: group kills, and kills of PIDs that do not run here, go
// through Config.Signals; kills of local processes do not.
func TestRouteKill(t *testing.T) {
	ready := make(chan [2]int, 1)
	errs := make(chan error, 8)
	go1 := make(chan struct{})
	k, alloc, route, _ := remoteKernel(t, map[string]Program{
		"killer": func(s *Sys) int {
			far, _ := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"600"}, Node: "far"})
			near, _ := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"600"}})
			ready <- [2]int{far, near}
			<-go1
			errs <- s.Kill(far, ipc.SIGUSR1)
			errs <- s.Kill(-s.Getpid(), ipc.SIGUSR2)
			errs <- s.Kill(0, ipc.SIGHUP)
			errs <- s.Kill(999, 0)
			errs <- s.Kill(near, ipc.SIGKILL) // local
			if _, ws, err := s.Wait4(near, 0); err != nil || ws.Signal() != ipc.SIGKILL {
				return 1
			}
			return 0
		},
	})
	kpid := mustSpawn(t, k, Spec{Command: "killer"})
	pids := <-ready
	close(go1)
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatalf("kill: %v", err)
		}
	}
	want := [][3]int{{kpid, pids[0], int(ipc.SIGUSR1)}, {kpid, -kpid, int(ipc.SIGUSR2)}, {kpid, -kpid, int(ipc.SIGHUP)}, {kpid, 999, 0}}
	got := route.got()
	if len(got) != len(want) {
		t.Fatalf("routed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("routed %v, want %v", got, want)
		}
	}
	if p := mustWait(t, k, kpid); p.Status.Code() != 0 {
		t.Fatalf("the local kill did not kill: killer's status %v", p.Status)
	}
	if len(alloc.released) != 0 {
		t.Fatalf("released %v, want none", alloc.released)
	}

	// The router's answer is the caller's.
	route.err = ipc.ESRCH
	k2, _, _, _ := remoteKernel(t, map[string]Program{
		"kill": func(s *Sys) int {
			if err := s.Kill(-12345, ipc.SIGTERM); !errors.Is(err, ipc.ESRCH) {
				return 1
			}
			return 0
		},
	}, func(c *Config) { c.Signals = route })
	if p := mustWait(t, k2, mustSpawn(t, k2, Spec{Command: "kill"})); p.Status.Code() != 0 {
		t.Fatalf("kill of a missing group: status %v, want ESRCH seen", p.Status)
	}
}

// TestRemoteChildReleasedOnFailure: a spawn that fails after its PID was
// allocated releases the PID, remote or local.
func TestRemoteChildReleasedOnFailure(t *testing.T) {
	errs := make(chan error, 2)
	k, alloc, _, _ := remoteKernel(t, map[string]Program{
		"parent": func(s *Sys) int {
			_, err := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"600"}, Node: "far"})
			errs <- err
			_, err = s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"600"}, Node: "far"})
			errs <- err
			_, err = s.Spawn(SpawnAttr{Command: "true"})
			errs <- err
			return 0
		},
	})
	lim := NewLimits()
	lim[RNProc] = Rlimit{Soft: 1, Hard: 1}
	pid := mustSpawn(t, k, Spec{Command: "parent", Limits: lim})
	if err := <-errs; err != nil {
		t.Fatalf("first remote child: %v", err)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, ipc.EAGAIN) {
			t.Fatalf("past nproc: %v, want EAGAIN", err)
		}
	}
	mustWait(t, k, pid)
	alloc.mu.Lock()
	defer alloc.mu.Unlock()
	if len(alloc.released) != 2 || alloc.released[0] != 103 || alloc.released[1] != 104 {
		t.Fatalf("released %v, want [103 104]", alloc.released)
	}
}
