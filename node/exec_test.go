package node

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// execProbe reports, on its stdout, what execve(2) must have kept or reset:
// its PID, parent, group and session, its open descriptors with their flags,
// the dispositions of SIGUSR1 (caught before), SIGUSR2 (ignored before) and
// SIGCHLD's flags, its mask and its pending set.
func execProbe(s *Sys) int {
	pgid, _ := s.Getpgid(0)
	sid, _ := s.Getsid(0)
	var fds []string
	for _, fd := range s.Fds() {
		fl, _ := s.Fcntl(fd, F_GETFD, 0)
		fds = append(fds, fmt.Sprintf("%d:%d", fd, fl))
	}
	usr1, _ := s.Sigaction(ipc.SIGUSR1, nil)
	usr2, _ := s.Sigaction(ipc.SIGUSR2, nil)
	chld, _ := s.Sigaction(ipc.SIGCHLD, nil)
	mask, _ := s.Sigprocmask(SIG_BLOCK, 0)
	s.Printf("pid=%d ppid=%d pgid=%d sid=%d fds=%s usr1-handler=%v usr2-ignored=%v chld-flags=%d mask=%v pending=%v cmd=%s args=%v env=%v\n",
		s.Getpid(), s.Getppid(), pgid, sid, strings.Join(fds, ","),
		usr1.Handler != nil, usr2.Ignore, chld.Flags, mask, s.Sigpending(),
		s.Command(), s.Args(), s.Environ())
	return 7
}

func TestExecKeepsTheProcess(t *testing.T) {
	var before string
	k := newKernel(t, withPrograms(map[string]Program{
		"probe": execProbe,
		"execer": func(s *Sys) int {
			s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) {})
			s.Sigaction(ipc.SIGUSR2, &SigAction{Ignore: true})
			s.Sigaction(ipc.SIGCHLD, &SigAction{Flags: SA_NOCLDSTOP})
			s.Sigprocmask(SIG_BLOCK, ipc.SetOf(ipc.SIGTERM))
			s.Kill(0, ipc.SIGTERM)                 // pending and blocked: it must stay so
			if _, _, err := s.Pipe(); err != nil { // fds 3, 4: kept
				return 1
			}
			if _, _, err := s.Pipe2(O_CLOEXEC); err != nil { // fds 5, 6: closed
				return 1
			}
			fd, _ := s.Dup(0) // 7, then marked close-on-exec with fcntl
			if _, err := s.Fcntl(fd, F_SETFD, FD_CLOEXEC); err != nil {
				return 1
			}
			if _, err := s.MqOpen("/q", O_RDWR|O_CREAT, 0o600, nil); err != nil { // 8: closed, as execve closes queue descriptors
				return 1
			}
			if _, err := s.ShmOpen("/s", O_RDWR|O_CREAT|O_CLOEXEC, 0o600); err != nil { // 9: closed, as shm_open sets FD_CLOEXEC
				return 1
			}
			pgid, _ := s.Getpgid(0)
			before = fmt.Sprintf("pid=%d ppid=%d pgid=%d", s.Getpid(), s.Getppid(), pgid)
			err := s.Exec(ExecAttr{Command: "probe", Args: []string{"a", "b"}, Env: []string{"X=1"}})
			s.Printf("exec returned: %v\n", err)
			return 1
		},
	}))
	st, out := run(t, k, Spec{Command: "execer"})
	if st.ExitStatus() != 7 {
		t.Fatalf("status %v, want exit 7; output %q", st, out)
	}
	for _, want := range []string{
		before + " ",
		"fds=0:0,1:0,2:0,3:0,4:0 ",
		"usr1-handler=false usr2-ignored=true chld-flags=0 ",
		"mask=" + ipc.SetOf(ipc.SIGTERM).String() + " pending=" + ipc.SetOf(ipc.SIGTERM).String(),
		"cmd=probe args=[a b] env=[X=1]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("after exec: got %q, want it to contain %q", out, want)
		}
	}
}

func TestExecUnknownProgramReturns(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"execer": func(s *Sys) int {
			s.Signal(ipc.SIGUSR1, func(*Sys, ipc.Signal) {})
			r, _, _ := s.Pipe2(O_CLOEXEC)
			err := s.Exec(ExecAttr{Command: "no-such-program"})
			if !errors.Is(err, ipc.ENOENT) || !errors.Is(err, ErrUnknownProgram) {
				s.Printf("err=%v\n", err)
				return 1
			}
			act, _ := s.Sigaction(ipc.SIGUSR1, nil)
			fl, ferr := s.Fcntl(r, F_GETFD, 0)
			if act.Handler == nil || ferr != nil || fl != FD_CLOEXEC || s.Command() != "execer" {
				s.Printf("a failed exec changed the process: handler=%v fd=%d,%v cmd=%s\n", act.Handler != nil, fl, ferr, s.Command())
				return 1
			}
			return 0
		},
	}))
	if st, out := run(t, k, Spec{Command: "execer"}); st.ExitStatus() != 0 {
		t.Fatalf("status %v, output %q", st, out)
	}
}

// A signal to the PID after exec reaches the program exec started: the old
// program is gone, not left waiting for a child.
func TestExecSignalReachesNewProgram(t *testing.T) {
	var mu sync.Mutex
	var events []Event
	k := newKernel(t, withPrograms(map[string]Program{
		"execer": func(s *Sys) int {
			s.Exec(ExecAttr{Command: "sleep", Args: []string{"30"}})
			return 1
		},
	}), func(c *Config) {
		c.OnEvent = func(e Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	pid := mustSpawn(t, k, Spec{Command: "execer", Args: []string{"x"}})
	waitFor(t, "ps to show sleep", 10*time.Second, func() bool {
		p, err := k.Get(pid)
		return err == nil && p.Command == "sleep" && p.State == StateWaiting
	})
	p, _ := k.Get(pid)
	if p.Spawned.Command != "execer" || len(p.Spawned.Args) != 1 || p.Spawned.Args[0] != "x" || len(p.Args) != 1 || p.Args[0] != "30" {
		t.Errorf("record after exec: command %q %v, spawned as %+v", p.Command, p.Args, *p.Spawned)
	}
	if c := k.Count(); c != 1 {
		t.Errorf("exec left %d live processes, want 1", c)
	}
	if err := k.Kill(pid, ipc.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := mustWait(t, k, pid).Status; st.Signal() != ipc.SIGTERM {
		t.Fatalf("status %v, want killed by SIGTERM", st)
	}
	waitFor(t, "the exit event", 10*time.Second, func() bool { // it follows the zombie
		mu.Lock()
		defer mu.Unlock()
		return len(events) > 0 && events[len(events)-1].Kind == EventExited
	})
	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind.String())
		if e.Kind == EventExec && (e.Command != "sleep" || len(e.Args) != 1 || e.Args[0] != "30") {
			t.Errorf("exec event names %q %v, want sleep [30]", e.Command, e.Args)
		}
	}
	if got := strings.Join(kinds, ","); got != "started,exec,exited" {
		t.Errorf("events %s, want started,exec,exited", got)
	}
}

// The child spawned with inherited standard descriptors does not get one
// marked close-on-exec, as posix_spawn closes it.
func TestSpawnSkipsCloexecStdio(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"fds": func(s *Sys) int {
			s.Printf("%v\n", s.Fds())
			return 0
		},
		"parent": func(s *Sys) int {
			s.Fcntl(0, F_SETFD, FD_CLOEXEC)
			pid, err := s.Spawn(SpawnAttr{Command: "fds"})
			if err != nil {
				return 1
			}
			s.Wait4(pid, 0)
			return 0
		},
	}))
	if _, out := run(t, k, Spec{Command: "parent"}); out != "[1 2]\n" {
		t.Fatalf("child's descriptors: got %q, want [1 2]", out)
	}
}

func TestFcntl(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"fcntl": func(s *Sys) int {
			r, w, _ := s.Pipe()
			check := func(what string, got, want int, err error) bool {
				if err != nil || got != want {
					s.Printf("%s: got %d, %v; want %d\n", what, got, err, want)
					return false
				}
				return true
			}
			fl, err := s.Fcntl(r, F_GETFD, 0)
			ok := check("F_GETFD of a new pipe", fl, 0, err)
			nfd, err := s.Fcntl(r, F_DUPFD_CLOEXEC, 10)
			ok = ok && check("F_DUPFD_CLOEXEC", nfd, 10, err)
			fl, err = s.Fcntl(10, F_GETFD, 0)
			ok = ok && check("F_GETFD after F_DUPFD_CLOEXEC", fl, FD_CLOEXEC, err)
			d, err := s.Dup2(10, 11)
			ok = ok && check("dup2", d, 11, err)
			fl, err = s.Fcntl(11, F_GETFD, 0)
			ok = ok && check("F_GETFD of dup2's copy", fl, 0, err)
			_, err = s.Fcntl(w, F_SETFL, O_NONBLOCK)
			fl, _ = s.Fcntl(w, F_GETFL, 0)
			ok = ok && check("F_GETFL after F_SETFL", fl&O_NONBLOCK, O_NONBLOCK, err)
			s.Close(10)
			nfd, err = s.Fcntl(r, F_DUPFD, 10)
			ok = ok && check("F_DUPFD reuses 10", nfd, 10, err)
			fl, err = s.Fcntl(10, F_GETFD, 0)
			ok = ok && check("F_GETFD of a reused descriptor", fl, 0, err)
			if _, err := s.Fcntl(99, F_GETFD, 0); !errors.Is(err, ipc.EBADF) {
				s.Printf("bad fd: %v\n", err)
				ok = false
			}
			if _, err := s.Fcntl(r, 12345, 0); !errors.Is(err, ipc.EINVAL) {
				s.Printf("bad cmd: %v\n", err)
				ok = false
			}
			if !ok {
				return 1
			}
			return 0
		},
	}))
	if st, out := run(t, k, Spec{Command: "fcntl"}); st.ExitStatus() != 0 {
		t.Fatalf("status %v: %s", st, out)
	}
}

// ExecAttr.Files arranges the new program's descriptors, as dup2 calls
// before execve would, and closes the rest; a bad entry fails the exec
// before anything changes.
func TestExecFiles(t *testing.T) {
	var out syncBuffer
	k := newKernel(t, withPrograms(map[string]Program{
		"fds": func(s *Sys) int {
			s.Printf("%v\n", s.Fds())
			return 0
		},
		"execer": func(s *Sys) int {
			r, w, _ := s.Pipe()
			if err := s.Exec(ExecAttr{Command: "fds", Files: []int{0, 1, 42}}); !errors.Is(err, ipc.EBADF) {
				s.Printf("exec with a closed descriptor: %v, want EBADF\n", err)
				return 1
			}
			if fl, err := s.Fcntl(r, F_GETFD, 0); err != nil || fl != 0 {
				s.Printf("the failed exec changed the descriptors: %d %v\n", fl, err)
				return 1
			}
			if _, err := s.Spawn(SpawnAttr{Command: "cat", Files: []int{r, 1, 2}}); err != nil {
				return 1
			}
			s.Close(r)
			// The new program writes its descriptors into the pipe, as its
			// stdout; cat copies them to the test. It gets no stdin, and its
			// descriptor 2 is the test's stdout.
			s.Exec(ExecAttr{Command: "fds", Files: []int{-1, w, 1}})
			return 1
		},
	}))
	pid := mustSpawn(t, k, Spec{Command: "execer", Stdout: &out})
	if p := mustWait(t, k, pid); p.Status.ExitStatus() != 0 {
		t.Fatalf("execer: %v (%s) %q", p.Status, p.Reason, out.String())
	}
	waitFor(t, "cat to copy the pipe", 10*time.Second, func() bool { return strings.HasSuffix(out.String(), "\n") })
	if got := out.String(); got != "[1 2]\n" {
		t.Fatalf("descriptors after exec with Files {-1, w, 1}: got %q, want [1 2]", got)
	}
}

// The replaced program is gone: its deferred calls, which run as the
// goroutine unwinds after the new program ends, complete no system call.
func TestExecReplacedProgramsDefersAreSilent(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"execer": func(s *Sys) int {
			defer s.Printf("deferred call of the replaced program\n")
			s.Exec(ExecAttr{Command: "echo", Args: []string{"new"}})
			return 1
		},
	}))
	if st, out := run(t, k, Spec{Command: "execer"}); st.ExitStatus() != 0 || out != "new\n" {
		t.Fatalf("got %v %q, want exit 0 and only the new program's output", st, out)
	}
}
