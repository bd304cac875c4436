package node

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
)

func promises(t *testing.T, s string) security.Promise {
	t.Helper()
	p, err := security.ParsePromises(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPledgeViolations breaks each promise once: the process holds every
// promise but that one, makes a call that needs it, and dies of SIGABRT
// with the reason recorded. The same call with the promise held passes.
func TestPledgeViolations(t *testing.T) {
	cases := []struct {
		promise string
		call    string
		do      func(s *Sys) error
	}{
		{"stdio", "write", func(s *Sys) error { _, err := s.Write(1, []byte("x")); return err }},
		{"rpath", "open", func(s *Sys) error { _, err := s.Open("/etc-file", O_RDONLY, 0); return err }},
		{"rpath", "stat", func(s *Sys) error { _, err := s.Stat("/"); return err }},
		{"wpath", "open", func(s *Sys) error { _, err := s.Open("/etc-file", O_WRONLY, 0); return err }},
		{"cpath", "open", func(s *Sys) error { _, err := s.Open("/new-file", O_WRONLY|O_CREAT, 0o644); return err }},
		{"cpath", "mkdir", func(s *Sys) error { return s.Mkdir("/newdir", 0o755) }},
		{"cpath", "mkfifo", func(s *Sys) error { return s.Mkfifo("/fifo", 0o644) }},
		{"proc", "wait4", func(s *Sys) error {
			_, _, err := s.Wait4(-1, WNOHANG)
			if errors.Is(err, ipc.ECHILD) {
				return nil
			}
			return err
		}},
		{"proc", "kill", func(s *Sys) error { return s.Kill(0, 0) }},
		{"proc", "setsid", func(s *Sys) error {
			// A group leader may not setsid (EPERM): the call got past
			// the promise all the same.
			if _, err := s.Setsid(); !errors.Is(err, ipc.EPERM) {
				return err
			}
			return nil
		}},
		{"exec", "posix_spawn", func(s *Sys) error {
			pid, err := s.Spawn(SpawnAttr{Command: "true"})
			if err == nil {
				_, _, err = s.Wait4(pid, 0)
			}
			return err
		}},
		{"signal", "sigaction", func(s *Sys) error {
			_, err := s.Sigaction(ipc.SIGUSR1, &SigAction{Ignore: true})
			return err
		}},
		{"ipc", "mq_open", func(s *Sys) error {
			fd, err := s.MqOpen("/q", O_RDWR|O_CREAT, 0o600, nil)
			if err == nil {
				s.Close(fd)
				err = s.MqUnlink("/q")
			}
			return err
		}},
		{"unveil", "unveil", func(s *Sys) error { return s.Unveil("/", "rwc") }},
	}
	for _, c := range cases {
		t.Run(c.promise+"/"+c.call, func(t *testing.T) {
			all := security.PromiseAll
			without := all &^ promises(t, c.promise)
			var callErr error
			k := newKernel(t, withPrograms(map[string]Program{
				"prog": func(s *Sys) int {
					callErr = c.do(s)
					if callErr != nil {
						return 1
					}
					return 0
				},
			}))
			putFile(t, k, "/etc-file", "data")
			// With the promise: the call works.
			pid := mustSpawn(t, k, Spec{Command: "prog", Capabilities: all})
			if p := mustWait(t, k, pid); !p.Status.Exited() || p.Status.ExitStatus() != 0 {
				t.Fatalf("with %q: got %v (%s), err %v; want exit 0", c.promise, p.Status, p.Reason, callErr)
			}
			// Without it: SIGABRT, and the reason names the promise and the call.
			pid = mustSpawn(t, k, Spec{Command: "prog", Capabilities: without})
			p := mustWait(t, k, pid)
			want := fmt.Sprintf("pledge %q needed by %s", c.promise, c.call)
			if p.Status.Signal() != ipc.SIGABRT || p.Reason != want {
				t.Fatalf("without %q: got %v (%q), want SIGABRT (%q)", c.promise, p.Status, p.Reason, want)
			}
		})
	}
}

// TestPledgeNarrowsOnly: pledge can take promises away, never add them;
// the abort cannot be caught or blocked.
func TestPledgeNarrowsOnly(t *testing.T) {
	var errWiden, errNarrow error
	k := newKernel(t, withPrograms(map[string]Program{
		"prog": func(s *Sys) int {
			errNarrow = s.Pledge("stdio rpath proc exec", "")
			errWiden = s.Pledge("stdio rpath proc exec ipc", "")
			s.Sigprocmask(SIG_BLOCK, ipc.SignalSet(0).Add(ipc.SIGABRT))
			s.MqOpen("/q", O_RDWR|O_CREAT, 0o600, nil)
			return 0
		},
	}))
	pid := mustSpawn(t, k, Spec{Command: "prog", Capabilities: promises(t, "stdio rpath proc exec signal")})
	p := mustWait(t, k, pid)
	if errNarrow != nil || !errors.Is(errWiden, ipc.EPERM) {
		t.Fatalf("narrow: %v; widen: %v, want EPERM", errNarrow, errWiden)
	}
	if p.Status.Signal() != ipc.SIGABRT || p.Reason != `pledge "ipc" needed by mq_open` {
		t.Fatalf("got %v (%q), want SIGABRT for mq_open", p.Status, p.Reason)
	}
}

// TestPledgeInheritedAndExecPromises: a child starts with its parent's
// execpromises, or with its promises when none are set, and cannot widen
// them.
func TestPledgeInheritedAndExecPromises(t *testing.T) {
	child := make(chan security.Promise, 4)
	var errWide error
	k := newKernel(t, withPrograms(map[string]Program{
		"report": func(s *Sys) int {
			s.p.mu.Lock()
			child <- s.p.Capabilities
			s.p.mu.Unlock()
			return 0
		},
		"parent": func(s *Sys) int {
			run := func(a SpawnAttr) error {
				pid, err := s.Spawn(a)
				if err == nil {
					_, _, err = s.Wait4(pid, 0)
				}
				return err
			}
			if err := run(SpawnAttr{Command: "report"}); err != nil {
				return 1
			}
			if err := s.Pledge("", "stdio"); err != nil {
				return 2
			}
			if err := run(SpawnAttr{Command: "report"}); err != nil {
				return 3
			}
			errWide = run(SpawnAttr{Command: "report", Capabilities: promises(t, "stdio ipc")})
			return 0
		},
	}))
	base := promises(t, "stdio proc exec")
	pid := mustSpawn(t, k, Spec{Command: "parent", Capabilities: base})
	if p := mustWait(t, k, pid); !p.Status.Exited() || p.Status.ExitStatus() != 0 {
		t.Fatalf("parent: %v (%s)", p.Status, p.Reason)
	}
	if got := <-child; got != base {
		t.Fatalf("inherited: got %q, want %q", got, base)
	}
	if got := <-child; got != security.PromiseStdio {
		t.Fatalf("with execpromises: got %q, want stdio", got)
	}
	if !errors.Is(errWide, ipc.EPERM) {
		t.Fatalf("a child wider than the execpromises: got %v, want EPERM", errWide)
	}
}

// TestUnveil: without unveil everything is visible; after it only what
// was unveiled, with its permissions; unveil(NULL, NULL) locks the list,
// and a child cannot see more than its parent.
func TestUnveil(t *testing.T) {
	errs := map[string]error{}
	k := newKernel(t, withPrograms(map[string]Program{
		"prog": func(s *Sys) int {
			_, errs["secret before"] = s.Open("/secret.txt", O_RDONLY, 0)
			errs["unveil data"] = s.Unveil("/data", "r")
			errs["unveil q"] = s.Unveil("/q", "rwc")
			_, errs["read data"] = s.Open("/data/a", O_RDONLY, 0)
			_, errs["write data"] = s.Open("/data/a", O_WRONLY, 0)
			_, errs["secret"] = s.Open("/secret.txt", O_RDONLY, 0)
			_, errs["stat secret"] = s.Stat("/secret.txt")
			errs["mkfifo"] = s.Mkfifo("/data/f", 0o644)
			fd, err := s.MqOpen("/q", O_RDWR|O_CREAT, 0o600, nil)
			errs["mq q"] = err
			if err == nil {
				s.Close(fd)
				s.MqUnlink("/q")
			}
			_, errs["mq other"] = s.MqOpen("/other", O_RDWR|O_CREAT, 0o600, nil)
			pid, err := s.Spawn(SpawnAttr{Command: "true", UnveilPaths: []security.UnveilPath{{Path: "/", Perms: "r"}}})
			errs["child wider"] = err
			if err == nil {
				s.Wait4(pid, 0)
			}
			errs["lock"] = s.Unveil("", "")
			errs["after lock"] = s.Unveil("/data", "r")
			return 0
		},
	}))
	putFile(t, k, "/secret.txt", "DB_PASSWORD=x")
	k.fs.Mkdir("/data", 0o755)
	putFile(t, k, "/data/a", "a")
	pid := mustSpawn(t, k, Spec{Command: "prog"})
	if p := mustWait(t, k, pid); !p.Status.Exited() {
		t.Fatalf("prog: %v (%s)", p.Status, p.Reason)
	}
	want := map[string]error{
		"secret before": nil, "unveil data": nil, "unveil q": nil, "read data": nil,
		"write data": ipc.EACCES, "secret": ipc.ENOENT, "stat secret": ipc.ENOENT,
		"mkfifo": ipc.EACCES, "mq q": nil, "mq other": ipc.ENOENT, "child wider": ipc.EPERM,
		"lock": nil, "after lock": ipc.EPERM,
	}
	for name, w := range want {
		got := errs[name]
		if (w == nil) != (got == nil) || (w != nil && !errors.Is(got, w)) {
			t.Errorf("%s: got %v, want %v", name, got, w)
		}
	}
}

// TestUnveilFromSpawn: a process spawned with an unveil list (as vproc
// spawn --unveil gives) is held to it from its first call.
func TestUnveilFromSpawn(t *testing.T) {
	var err error
	k := newKernel(t, withPrograms(map[string]Program{
		"cat-secret": func(s *Sys) int {
			_, err = s.Open("/secret.txt", O_RDONLY, 0)
			return 0
		},
	}))
	putFile(t, k, "/secret.txt", "x")
	pid := mustSpawn(t, k, Spec{Command: "cat-secret", UnveilPaths: []security.UnveilPath{{Path: "/allowed", Perms: "r"}}})
	mustWait(t, k, pid)
	if !errors.Is(err, ipc.ENOENT) || !strings.Contains(err.Error(), "not unveiled") {
		t.Fatalf("got %v, want ENOENT", err)
	}
}

// putFile writes a file into k's namespace.
func putFile(t *testing.T, k *ProcessManager, name, data string) {
	t.Helper()
	f, err := k.fs.OpenFile(name, O_WRONLY|O_CREAT|O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
