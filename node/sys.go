package node

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
)

// Sys is the system-call surface a program receives. Every method is a
// system call and so a yield point: on the way in the process may be
// switched out (its slice expired), stopped, frozen, or killed, pending
// signals are delivered (handlers run here), and limits are checked. A call
// that blocks gives up the process's CPU slot until it can go on.
//
// Errors are ipc.Errno values (errors.Is works with them); a read at end of
// file returns io.EOF, as Go readers do. A Sys belongs to its process's
// goroutine and must not be used from any other.
type Sys struct {
	p *Process // immutable
}

// Options for Wait4, with Linux's values.
const (
	WNOHANG    = 0x1
	WUNTRACED  = 0x2
	WCONTINUED = 0x8
	WNOWAIT    = 0x01000000
)

// enter is the preemption check at the start of every call. It returns the
// clock reading it made.
func (s *Sys) enter() int64 {
	p := s.p
	now := p.k.clock.Now()
	if p.attention.Load() != 0 || p.k.frozenAt(now) {
		p.slowEnter(now)
		now = p.k.clock.Now()
	}
	if now-p.sliceStart >= p.k.slice {
		if p.k.sched.tick(p, now) {
			p.setState(codeReady)
			if p.acquire() != nil {
				p.die()
			}
		}
		now = p.k.clock.Now()
	}
	if p.cpuLimitAt != math.MaxInt64 && p.cpuNs.Load()+now-p.sliceStart >= p.cpuLimitAt {
		p.checkCPU(p.cpuNs.Load() + now - p.sliceStart)
	}
	return now
}

func (p *Process) slowEnter(now int64) {
	if p.attention.Load()&attnGone != 0 {
		runtime.Goexit() // a deferred call of a program Exec replaced
	}
	if p.attention.Load()&attnHog != 0 {
		p.attention.And(^attnHog)
	}
	if p.k.frozenAt(now) {
		p.setState(codeReady)
		if p.acquire() != nil {
			p.die()
		}
	}
	if p.attention.Load()&attnSignal != 0 {
		p.deliverSignals()
	}
}

// leave ends a call: a process killed while blocked dies here, and signals
// that arrived during the call are delivered.
func (s *Sys) leave(err error) error {
	if err == errKilled {
		s.p.die()
	}
	if s.p.attention.Load()&attnSignal != 0 {
		s.p.deliverSignals()
	}
	return err
}

// hog reports (or clears) that p holds its slot without calling in.
func (p *Process) hog(on bool) {
	if on {
		p.attention.Or(attnHog)
	} else {
		p.attention.And(^attnHog)
	}
}

// armLimits sets up CPU and wall-time enforcement when the process starts.
func (p *Process) armLimits() {
	p.cpuLimitAt = math.MaxInt64
	if cpu := p.Limits.Get(RCPU); cpu.Soft != Infinity {
		p.cpuLimitAt = int64(min(cpu.Soft, math.MaxInt64))
		p.more().xcpuNext = cpu.Soft
	} else if cpu.Hard != Infinity {
		p.cpuLimitAt = int64(min(cpu.Hard, math.MaxInt64))
	}
	if wall := p.Limits.Get(RWall).Soft; wall != Infinity && wall < math.MaxInt64 {
		k := p.k
		p.more().wallTimer = time.AfterFunc(time.Duration(wall), func() {
			k.killFor(p, ipc.SIGKILL, "wall-clock time limit exceeded")
		})
	}
}

// checkCPU enforces RLIMIT_CPU for a process that has used cpu ns: SIGXCPU
// at the soft limit and every second after it, SIGKILL at the hard limit.
func (p *Process) checkCPU(cpu int64) {
	lim := p.Limits.Get(RCPU)
	r := p.more()
	if lim.Hard != Infinity && uint64(cpu) >= lim.Hard {
		p.k.killFor(p, ipc.SIGKILL, "CPU time hard limit exceeded")
		p.deliverSignals()
		return
	}
	if lim.Soft != Infinity && uint64(cpu) >= r.xcpuNext {
		r.xcpuNext = uint64(cpu) + uint64(time.Second)
		p.k.sendSignal(p, ipc.SIGXCPU)
	}
	next := uint64(math.MaxInt64)
	if lim.Soft != Infinity {
		next = r.xcpuNext
	}
	if lim.Hard != Infinity {
		next = min(next, lim.Hard)
	}
	p.cpuLimitAt = int64(min(next, math.MaxInt64))
	if p.attention.Load()&attnSignal != 0 {
		p.deliverSignals()
	}
}

// Identity.

// Getpid returns the process's PID.
func (s *Sys) Getpid() int { s.enter(); s.need(security.PromiseStdio, "getpid"); return s.p.PID }

// Getppid returns the parent's PID (1 once the parent has died), wherever
// the parent runs.
func (s *Sys) Getppid() int {
	s.enter()
	s.need(security.PromiseStdio, "getppid")
	k := s.p.k
	k.mu.Lock()
	defer k.mu.Unlock()
	return s.p.ParentPID
}

// Getpgid returns the process group of pid (0: the caller).
func (s *Sys) Getpgid(pid int) (int, error) {
	s.need(security.PromiseStdio, "getpgid")
	return s.treeID(pid, func(q *Process) int { return q.Pgid })
}

// Getsid returns the session of pid (0: the caller).
func (s *Sys) Getsid(pid int) (int, error) {
	s.need(security.PromiseStdio, "getsid")
	return s.treeID(pid, func(q *Process) int { return q.Sid })
}

// treeID returns what id reads of process pid (0: the caller), under the
// tree lock that guards Pgid and Sid. A missing or negative pid is ESRCH.
func (s *Sys) treeID(pid int, id func(*Process) int) (int, error) {
	s.enter()
	k := s.p.k
	k.mu.Lock()
	q, ok := s.p, true
	if pid != 0 {
		q, ok = k.procs[pid]
	}
	if !ok || pid < 0 {
		k.mu.Unlock()
		return 0, s.leave(ipc.ESRCH)
	}
	v := id(q)
	k.mu.Unlock()
	return v, nil
}

// Setpgid moves process pid (0: the caller) into group pgid (0: a group of
// its own), as setpgid(2): only the caller or its children, within the
// caller's session, never a session leader, and only into a group that
// exists in the session or a new one named after pid.
func (s *Sys) Setpgid(pid, pgid int) error {
	s.enter()
	s.need(security.PromiseProc, "setpgid")
	p := s.p
	k := p.k
	if pgid < 0 {
		return s.leave(ipc.EINVAL)
	}
	k.mu.Lock()
	if pid == 0 {
		pid = p.PID
	}
	if pgid == 0 {
		pgid = pid
	}
	q, ok := k.procs[pid]
	var err error
	var moved *Event
	switch {
	case !ok || (q != p && q.parent != p) || q.state() == StateZombie:
		err = ipc.ESRCH
	case q.Sid != p.Sid:
		err = ipc.EPERM
	case q.Sid == q.PID:
		err = ipc.EPERM
	case pgid != pid && !k.groupInSessionLocked(pgid, p.Sid):
		err = ipc.EPERM
	case q.Pgid == pgid:
	default:
		q.Pgid = pgid
		moved = &Event{PID: q.PID, Kind: EventSetGroup, Pgid: pgid, Sid: q.Sid}
	}
	k.mu.Unlock()
	if moved != nil {
		k.emit(*moved)
	}
	return s.leave(err)
}

// Setsid makes the caller lead a new session and group, as setsid(2). A
// group leader gets EPERM.
func (s *Sys) Setsid() (int, error) {
	s.enter()
	s.need(security.PromiseProc, "setsid")
	p := s.p
	k := p.k
	k.mu.Lock()
	if p.Pgid == p.PID {
		k.mu.Unlock()
		return -1, ipc.EPERM
	}
	p.Sid, p.Pgid = p.PID, p.PID
	k.mu.Unlock()
	k.emit(Event{PID: p.PID, Kind: EventSetGroup, Pgid: p.PID, Sid: p.PID})
	return p.PID, nil
}

// Command returns the name the process was spawned with.
func (s *Sys) Command() string { return s.p.Command }

// Args returns the arguments after the command.
func (s *Sys) Args() []string { return s.p.Args }

// Environ returns the environment as KEY=VALUE strings.
func (s *Sys) Environ() []string { return s.p.environ() }

func (p *Process) environ() []string {
	if p.k != nil && p == p.k.init {
		return nil
	}
	return p.envList()
}

// envList is the process's current environment. The owner reads Env without
// the tree lock: it is the only writer.
func (p *Process) envList() []string {
	if r := p.rare.Load(); r != nil && r.envSet != nil {
		return *r.envSet
	}
	return p.Env
}

// Getenv returns the value of key, or "".
func (s *Sys) Getenv(key string) string {
	v, _ := s.LookupEnv(key)
	return v
}

// LookupEnv returns the value of key and whether it is set.
func (s *Sys) LookupEnv(key string) (string, bool) {
	env := s.p.envList()
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Setenv sets key to value in the process's environment, which children
// spawned later inherit.
func (s *Sys) Setenv(key, value string) error {
	if key == "" || strings.ContainsAny(key, "=\x00") {
		return ipc.EINVAL
	}
	s.unsetenv(key)
	r := s.p.more()
	*r.envSet = append(*r.envSet, key+"="+value)
	return nil
}

// Unsetenv removes key from the environment.
func (s *Sys) Unsetenv(key string) { s.unsetenv(key) }

func (s *Sys) unsetenv(key string) {
	p := s.p
	env := p.envList()
	out := make([]string, 0, len(env)+1) // copy on write: the slice may be shared
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	p.more().envSet = &out
}

// Owner returns the user the process runs as.
func (s *Sys) Owner() string { return s.p.Owner }

// Processes.

// Spawn starts a child process (posix_spawn-like) and returns its PID. The
// child's descriptors come from attr.Files; it inherits the caller's limits,
// promises, signal mask, cwd and environment unless attr says otherwise.
// EAGAIN past RLIMIT_NPROC; ENOENT for an unknown program.
func (s *Sys) Spawn(attr SpawnAttr) (int, error) {
	s.enter()
	s.need(security.PromiseProc|security.PromiseExec, "posix_spawn")
	p := s.p
	var files []*File
	if attr.Files == nil {
		files = make([]*File, min(3, len(p.Files)))
		for fd := range files {
			if !p.isCloexec(fd) {
				files[fd] = p.Files[fd]
			}
		}
	} else {
		files = make([]*File, len(attr.Files))
		for i, fd := range attr.Files {
			if fd < 0 {
				continue
			}
			f, err := p.file(fd)
			if err != nil {
				return -1, s.leave(err)
			}
			files[i] = f
		}
	}
	c, err := p.k.spawn(p, attr, p.Owner, files)
	if err != nil {
		return -1, s.leave(err)
	}
	return c.PID, s.leave(nil)
}

// Wait4 waits for a child to change state, as wait4(2): pid > 0 is that
// child, -1 any child, 0 any child in the caller's group, < -1 any child in
// group -pid. It reaps the child (unless WNOWAIT) and returns its PID and
// status. WNOHANG returns 0 at once if no child has changed; WUNTRACED and
// WCONTINUED also report stops and continues. ECHILD if no child matches.
func (s *Sys) Wait4(pid int, options int) (int, WaitStatus, error) {
	s.enter()
	s.need(security.PromiseProc, "wait4")
	p := s.p
	k := p.k
	if options&^(WNOHANG|WUNTRACED|WCONTINUED|WNOWAIT) != 0 {
		return -1, 0, s.leave(ipc.EINVAL)
	}
	match := func(c *Process) bool {
		switch {
		case pid > 0:
			return c.PID == pid
		case pid == -1:
			return true
		case pid == 0:
			return c.Pgid == p.Pgid
		default:
			return c.Pgid == -pid
		}
	}
	events := options&(WUNTRACED|WCONTINUED) != 0
	for {
		k.mu.Lock()
		var found *Process
		if pid == -1 {
			found = p.zombies.head // the oldest zombie
		} else {
			for c := p.zombies.head; c != nil; c = c.sibNext {
				if match(c) {
					found = c
					break
				}
			}
		}
		if found != nil {
			found.mu.Lock()
			st := found.Status
			found.mu.Unlock()
			reaped := options&WNOWAIT == 0
			if reaped {
				k.reapLocked(found)
			}
			k.mu.Unlock()
			if reaped {
				k.emit(Event{PID: found.PID, Kind: EventReaped})
			}
			return found.PID, st, s.leave(nil)
		}
		any := pid == -1 && p.children.head != nil
		if !any || events {
			for c := p.children.head; c != nil; c = c.sibNext {
				if !match(c) {
					continue
				}
				any = true
				if options&WUNTRACED != 0 && c.waitEvents&evStopped != 0 {
					if options&WNOWAIT == 0 {
						c.waitEvents &^= evStopped
					}
					st := stoppedStatus(ipc.Signal(c.stopSig))
					k.mu.Unlock()
					return c.PID, st, s.leave(nil)
				}
				if options&WCONTINUED != 0 && c.waitEvents&evContinued != 0 {
					if options&WNOWAIT == 0 {
						c.waitEvents &^= evContinued
					}
					k.mu.Unlock()
					return c.PID, continuedStatus, s.leave(nil)
				}
				if !events {
					break
				}
			}
		}
		k.mu.Unlock()
		if !any {
			return -1, 0, s.leave(ipc.ECHILD)
		}
		if options&WNOHANG != 0 {
			return 0, 0, s.leave(nil)
		}
		if err := p.waiter().Wait(time.Time{}); err != nil {
			return -1, 0, s.leave(err)
		}
	}
}

// Waitpid is Wait4.
func (s *Sys) Waitpid(pid int, options int) (int, WaitStatus, error) {
	return s.Wait4(pid, options)
}

// Kill sends sig to pid (> 0), to the caller's group (0), to group -pid
// (< -1), or to every process it may signal (-1), as kill(2). Signal 0
// sends nothing: it checks that a target exists and may be signalled. A
// process may signal those of its own owner; a privileged one (owner
// "root", see Privileged) any; SIGCONT also goes to any process of the
// caller's session. ESRCH if no process matches, EPERM if none of those
// that match may be signalled (kill(-1) then succeeds, as on Linux),
// EINVAL for a bad signal.
func (s *Sys) Kill(pid int, sig ipc.Signal) error {
	s.enter()
	s.need(killPromise(s.p, pid), "kill")
	if sig != 0 && !sig.Valid() {
		return s.leave(ipc.EINVAL)
	}
	if target, ok := s.p.k.routed(s.p, pid); ok {
		return s.leave(s.p.k.routeKill(s.p, target, sig))
	}
	// kill resolves pid 0 to the caller's group under the tree lock: the
	// parent may move the caller to another group at any time (setpgid).
	err := s.p.k.kill(s.p, pid, sig)
	switch {
	case errors.Is(err, ipc.EPERM):
		err = ipc.EPERM
	case err != nil:
		err = ipc.ESRCH
	}
	return s.leave(err)
}

// Exit ends the process with code. It does not return.
func (s *Sys) Exit(code int) {
	p := s.p
	p.mu.Lock()
	p.Status = ExitedStatus(code)
	p.mu.Unlock()
	runtime.Goexit()
}

// Signals.

// Sigaction sets the disposition of sig and returns the previous one; a nil
// act only reads it. SIGKILL and SIGSTOP can't be changed (EINVAL).
func (s *Sys) Sigaction(sig ipc.Signal, act *SigAction) (SigAction, error) {
	s.enter()
	s.need(security.PromiseSignal, "sigaction")
	p := s.p
	if !sig.Valid() || (act != nil && !sig.Catchable()) {
		return SigAction{}, s.leave(ipc.EINVAL)
	}
	p.mu.Lock()
	old := p.actionLocked(sig)
	if act != nil {
		if p.actions == nil {
			p.actions = new([ipc.NSIG]SigAction)
		}
		a := *act
		a.Mask = a.Mask.Blockable()
		p.actions[sig] = a
		if p.ignoredLocked(sig) {
			p.pending = p.pending.Del(sig) // setting SIG_IGN discards it
		}
	}
	p.mu.Unlock()
	return old, s.leave(nil)
}

// Signal is a shorthand for Sigaction with just a handler.
func (s *Sys) Signal(sig ipc.Signal, handler func(s *Sys, sig ipc.Signal)) error {
	_, err := s.Sigaction(sig, &SigAction{Handler: handler})
	return err
}

// Sigprocmask changes the blocked set (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK)
// and returns the old one. SIGKILL and SIGSTOP are never blocked. Signals
// unblocked by the call are delivered before it returns.
func (s *Sys) Sigprocmask(how int, set ipc.SignalSet) (ipc.SignalSet, error) {
	s.enter()
	s.need(security.PromiseStdio, "sigprocmask")
	p := s.p
	p.mu.Lock()
	old := p.mask
	switch how {
	case SIG_BLOCK:
		p.mask = old.Union(set)
	case SIG_UNBLOCK:
		p.mask = old.Minus(set)
	case SIG_SETMASK:
		p.mask = set
	default:
		p.mu.Unlock()
		return old, s.leave(ipc.EINVAL)
	}
	p.mask = p.mask.Blockable()
	if p.pending&^p.mask != 0 {
		p.attention.Or(attnSignal)
	}
	p.mu.Unlock()
	return old, s.leave(nil)
}

// Sigpending returns the signals pending and blocked.
func (s *Sys) Sigpending() ipc.SignalSet {
	s.enter()
	s.need(security.PromiseStdio, "sigpending")
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending
}

// Pause blocks until a signal handler has run, and returns EINTR.
func (s *Sys) Pause() error {
	s.enter()
	s.need(security.PromiseStdio, "pause")
	for {
		if err := s.p.waiter().Wait(time.Time{}); err != nil {
			return s.leave(err)
		}
	}
}

// Sigsuspend replaces the signal mask with mask until a signal handler has
// run, then restores it and returns EINTR, as sigsuspend(2): with the awaited
// signal blocked beforehand, there is no window in which it can be lost.
func (s *Sys) Sigsuspend(mask ipc.SignalSet) error {
	s.enter()
	s.need(security.PromiseStdio, "sigsuspend")
	p := s.p
	p.mu.Lock()
	saved := p.mask
	p.mask = mask.Blockable()
	if p.pending&^p.mask != 0 {
		p.attention.Or(attnSignal)
	}
	p.mu.Unlock()
	var err error
	for err == nil {
		err = p.waiter().Wait(time.Time{})
	}
	if err == errKilled {
		return s.leave(err)
	}
	// Run the handler with the temporary mask, then put the old one back.
	p.deliverSignals()
	p.mu.Lock()
	p.mask = saved
	p.mu.Unlock()
	return s.leave(err)
}

// Time and scheduling.

// Sleep blocks for d without a slot. A handled signal ends it early with
// EINTR.
func (s *Sys) Sleep(d time.Duration) error {
	s.enter()
	s.need(security.PromiseStdio, "nanosleep")
	deadline := time.Now().Add(d)
	for {
		err := s.p.waiter().Wait(deadline)
		if err == ipc.ETIMEDOUT {
			return s.leave(nil)
		}
		if err != nil {
			return s.leave(err)
		}
	}
}

// Yield gives the CPU slot to another runnable process, if one waits, as
// sched_yield(2).
func (s *Sys) Yield() {
	now := s.enter()
	s.need(security.PromiseStdio, "sched_yield")
	p := s.p
	if p.k.sched.tick(p, now) {
		p.setState(codeReady)
		if p.acquire() != nil {
			p.die()
		}
	}
	s.leave(nil)
}

// Now returns the time.
func (s *Sys) Now() time.Time {
	s.enter()
	s.need(security.PromiseStdio, "clock_gettime")
	return time.Now()
}

// CPUTime returns the CPU time the process has used.
func (s *Sys) CPUTime() time.Duration {
	s.enter()
	s.need(security.PromiseStdio, "clock_gettime")
	p := s.p
	return time.Duration(p.cpuNs.Load() + p.k.clock.Now() - p.sliceStart)
}

// Getrlimit returns the limit on r.
func (s *Sys) Getrlimit(r Resource) (Rlimit, error) {
	s.enter()
	s.need(security.PromiseStdio, "getrlimit")
	if r < 0 || r >= numResources {
		return Rlimit{}, s.leave(ipc.EINVAL)
	}
	return s.p.Limits.Get(r), nil
}

// Setrlimit sets the limit on r: the soft limit up to the hard one, and the
// hard limit only downwards (EPERM otherwise).
func (s *Sys) Setrlimit(r Resource, lim Rlimit) error {
	s.enter()
	s.need(security.PromiseProc, "setrlimit")
	p := s.p
	if r < 0 || r >= numResources || lim.Soft > lim.Hard {
		return s.leave(ipc.EINVAL)
	}
	if lim.Hard > p.Limits.Get(r).Hard {
		return s.leave(ipc.EPERM)
	}
	nl := p.Limits.Clone()
	if nl == nil {
		nl = NewLimits()
	}
	nl[r] = lim
	p.mu.Lock()
	p.Limits = nl
	p.mu.Unlock()
	if r == RCPU {
		p.more().xcpuNext = lim.Soft
		p.cpuLimitAt = int64(min(lim.Soft, lim.Hard, math.MaxInt64))
	}
	return s.leave(nil)
}

// Stdio helpers.

// FD is an io.ReadWriter over one descriptor of a process.
type FD struct {
	s  *Sys
	fd int
}

// Read implements io.Reader.
func (f FD) Read(b []byte) (int, error) { return f.s.Read(f.fd, b) }

// Write implements io.Writer. It writes everything unless an error occurs.
func (f FD) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		n, err := f.s.Write(f.fd, b)
		total += n
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}

// File returns an io.ReadWriter over descriptor fd.
func (s *Sys) File(fd int) FD { return FD{s, fd} }

// Stdin returns a reader over descriptor 0.
func (s *Sys) Stdin() io.Reader { return FD{s, 0} }

// Stdout returns a writer over descriptor 1.
func (s *Sys) Stdout() io.Writer { return FD{s, 1} }

// Stderr returns a writer over descriptor 2.
func (s *Sys) Stderr() io.Writer { return FD{s, 2} }

// Printf writes to standard output.
func (s *Sys) Printf(format string, args ...any) {
	fmt.Fprintf(FD{s, 1}, format, args...)
}

// Errorf writes a line to standard error, prefixed with the command name.
func (s *Sys) Errorf(format string, args ...any) {
	fmt.Fprintf(FD{s, 2}, s.p.Command+": "+format+"\n", args...)
}
