package wasm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/internal/testwait"
	"github.com/vproc/vproc/internal/wasmtest"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/wasm"
)

func exited(t *testing.T, st node.WaitStatus, code int, out string) {
	t.Helper()
	if !st.Exited() || st.ExitStatus() != code {
		t.Fatalf("got status %v, want exit %d; output:\n%s", st, code, out)
	}
}

func signaled(t *testing.T, st node.WaitStatus, sig ipc.Signal, out string) {
	t.Helper()
	if !st.Signaled() || st.Signal() != sig {
		t.Fatalf("got status %v, want death by %v; output:\n%s", st, sig, out)
	}
}

func TestArgsEnvExitStatus(t *testing.T) {
	f := newFixture(t)
	st, out := f.run(t, node.Spec{
		Command: "echoenv",
		Args:    []string{"a", "b c", ""},
		Env:     []string{"VARS=FOO,PWD", "FOO=bar", "EXIT=3"},
		Cwd:     "/",
	})
	exited(t, st, 3, out)
	for _, want := range []string{"a|b c|\n", "FOO=bar\n", "PWD=/\n", "to stderr\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestPipelineWithBuiltins(t *testing.T) {
	f := newFixture(t)
	st, out := f.run(t, node.Spec{Command: "sh", Args: []string{"-c", "yes | head -n 5 | wcwasm"}})
	exited(t, st, 0, out)
	if got, want := out, "5 5 10\n"; got != want {
		t.Fatalf("got %q, want %q for yes | head -n 5 | wcwasm", got, want)
	}
	// A module writing into a pipe whose reader is gone dies of SIGPIPE,
	// and the pipeline ends.
	st, out = f.run(t, node.Spec{Command: "sh", Args: []string{"-c", "yes | catwasm | head -n 2"}})
	exited(t, st, 0, out)
	if out != "y\ny\n" {
		t.Fatalf("got %q, want %q for yes | catwasm | head -n 2", out, "y\ny\n")
	}
}

func TestModulesAreCompiledOnce(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 3; i++ {
		st, out := f.run(t, node.Spec{Command: "hello"})
		exited(t, st, 0, out)
		if out != "hello, world\n" {
			t.Fatalf("got %q, want hello, world", out)
		}
	}
	f.src.mu.Lock()
	served := f.src.served
	f.src.mu.Unlock()
	if served != 1 {
		t.Fatalf("module bytes fetched %d times for 3 spawns, want 1", served)
	}
}

func TestFilesInTheNamespace(t *testing.T) {
	f := newFixture(t)
	if err := f.k.FS().Mkdir("/home", 0o755); err != nil {
		t.Fatal(err)
	}
	st, out := f.run(t, node.Spec{Command: "writefile", Args: []string{"notes.txt", "from a module"}, Cwd: "/home"})
	exited(t, st, 0, out)
	for _, want := range []string{`read "from a module"`, "notes.txt\n", "cwd /home\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	// A builtin reads what the module wrote, and the module reads what a
	// builtin wrote.
	st, out = f.run(t, node.Spec{Command: "sh", Args: []string{"-c", "cat /home/notes.txt; echo; echo from sh > /home/b; catwasm /home/b"}})
	exited(t, st, 0, out)
	if want := "from a module\nfrom sh\n"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	// A missing file is ENOENT inside the module.
	st, out = f.run(t, node.Spec{Command: "catwasm", Args: []string{"/home/missing"}})
	exited(t, st, 1, out)
	if !strings.Contains(strings.ToLower(out), "no such file") {
		t.Fatalf("got %q, want an ENOENT message", out)
	}
}

func TestFIFOBetweenModuleAndBuiltin(t *testing.T) {
	f := newFixture(t)
	script := "mkfifo /f1 /f2; fifowrite /f1 via-fifo & cat /f1; wait; catwasm /f2 & echo back > /f2; wait"
	st, out := f.run(t, node.Spec{Command: "sh", Args: []string{"-c", script}})
	exited(t, st, 0, out)
	if want := "via-fifo\nback\n"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestSignalsEndModules(t *testing.T) {
	cases := []struct {
		prog, ready string
		sig         ipc.Signal
	}{
		{"readblock", "reading", ipc.SIGTERM},
		{"readblock", "reading", ipc.SIGKILL},
		{"spinwasm", "spinning", ipc.SIGTERM},
		{"spinwasm", "spinning", ipc.SIGKILL},
	}
	f := newFixture(t)
	// A writer that holds /blk open and writes nothing: readblock blocks in
	// a read of it.
	if err := f.k.FS().Mkfifo("/blk", 0o644); err != nil {
		t.Fatal(err)
	}
	holder, _ := f.start(t, node.Spec{Command: "sh", Args: []string{"-c", "sleep 1000 > /blk"}})
	defer func() {
		f.k.Kill(holder, ipc.SIGKILL)
		f.wait(t, holder)
	}()
	for _, c := range cases {
		t.Run(c.prog+"/"+c.sig.String(), func(t *testing.T) {
			pid, out := f.start(t, node.Spec{Command: c.prog, Args: []string{"/blk"}})
			waitOutput(t, out, c.ready)
			if c.prog == "readblock" {
				// Blocked in the kernel without a slot, not polling: Go's
				// runtime asks for O_NONBLOCK, which stays the module's.
				testwait.For(t, "readblock waiting in a read", time.Minute, func() bool {
					p, err := f.k.Get(pid)
					return err == nil && p.State == node.StateWaiting
				})
			}
			if err := f.k.Kill(pid, c.sig); err != nil {
				t.Fatal(err)
			}
			signaled(t, f.wait(t, pid), c.sig, out.String())
		})
	}
}

func TestWallAndCPULimits(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		limits string
		sig    ipc.Signal
	}{
		{"wall=300ms", ipc.SIGKILL},
		{"cpu=300ms:10s", ipc.SIGXCPU},
		{"cpu=300ms:300ms", ipc.SIGKILL},
	}
	for _, c := range cases {
		t.Run(c.limits, func(t *testing.T) {
			lim, err := node.ParseLimits(nil, c.limits)
			if err != nil {
				t.Fatal(err)
			}
			st, out := f.run(t, node.Spec{Command: "spinwasm", Limits: lim})
			signaled(t, st, c.sig, out)
		})
	}
}

func TestMemoryLimitCapsLinearMemory(t *testing.T) {
	f := newFixture(t)
	lim, err := node.ParseLimits(nil, "mem=64M")
	if err != nil {
		t.Fatal(err)
	}
	st, out := f.run(t, node.Spec{Command: "growwasm", Limits: lim})
	if st.Exited() && st.ExitStatus() == 0 {
		t.Fatalf("got status %v, want a failure; output:\n%s", st, out)
	}
	if !strings.Contains(out, "out of memory") || strings.Contains(out, "MiB 64\n") {
		t.Fatalf("want the module to run out of memory below 64 MiB; got %v and\n%s", st, out)
	}
	// A limit below the module's initial memory refuses to start it.
	lim, _ = node.ParseLimits(nil, "mem=64K")
	st, out = f.run(t, node.Spec{Command: "hello", Limits: lim})
	exited(t, st, wasm.ExitCannotExecute, out)
	if !strings.Contains(out, "exceeds the memory limit") {
		t.Fatalf("got %q", out)
	}
}

func TestClockAndYield(t *testing.T) {
	f := newFixture(t)
	st, out := f.run(t, node.Spec{Command: "sleeper", Args: []string{"50ms"}})
	exited(t, st, 0, out)
	if out != "slept true\n" {
		t.Fatalf("got %q, want slept true", out)
	}
}

func TestCorruptedBlobRefused(t *testing.T) {
	f := newFixture(t)
	good := f.src.blobs[f.src.names["hello"]]
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0xff
	f.src.mu.Lock()
	f.src.names["evil"] = wasm.Hash(good)
	f.src.mu.Unlock()
	// Put the corrupted bytes under the good hash, as a damaged disk would.
	e, err := wasm.New(wasm.Config{Source: corruptSource{f.src, bad}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cfg := node.DefaultConfig()
	cfg.Programs = e
	k, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Shutdown(context.Background())
	kf := &fixture{k: k, e: e, src: f.src}
	st, out := kf.run(t, node.Spec{Command: "evil"})
	exited(t, st, wasm.ExitCannotExecute, out)
	if !strings.Contains(out, "does not match its hash") {
		t.Fatalf("got %q, want a hash mismatch", out)
	}
}

// corruptSource serves bad for every hash.
type corruptSource struct {
	*mapSource
	bad []byte
}

func (c corruptSource) Bytes(context.Context, string) ([]byte, error) { return c.bad, nil }

func TestBadHashes(t *testing.T) {
	e, err := wasm.New(wasm.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, h := range []string{"", "abc", strings.Repeat("G", 64), strings.Repeat("A", 64)} {
		if _, err := e.Load(context.Background(), h); err == nil {
			t.Errorf("Load(%q) succeeded, want ErrBadHash", h)
		}
	}
	if _, err := e.Compile(wasm.Hash([]byte("x")), []byte("not wasm")); err == nil {
		t.Error("compiling bytes under another hash succeeded")
	}
	if _, err := e.Compile(wasm.Hash([]byte("not wasm")), []byte("not wasm")); err == nil {
		t.Error("compiling garbage succeeded")
	}
}

func TestReadingADirectory(t *testing.T) {
	f := newFixture(t)
	if err := f.k.FS().Mkdir("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	st, out := f.run(t, node.Spec{Command: "sh", Args: []string{"-c", "catwasm /d"}})
	exited(t, st, 1, out)
	if !strings.Contains(strings.ToLower(out), "is a directory") {
		t.Fatalf("got %q, want EISDIR reading a directory", out)
	}
}

// TestCompileIsNotTheProcesssCPUTime: compiling a module on its first
// spawn happens with the slot given up, so a small CPU limit does not kill
// the process before its code starts.
func TestCompileIsNotTheProcesssCPUTime(t *testing.T) {
	src := newMapSource()
	hash := src.add(wasmtest.Build(t, "testdata/tools"), toolNames...)
	// How long a compile takes here and now (a loaded machine, -race):
	// the process gets half of it as its CPU limit, so that it is killed
	// if the compile is charged to it, and not for its own short run.
	first, err := wasm.New(wasm.Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := first.Load(context.Background(), hash); err != nil {
		t.Fatal(err)
	}
	compile := time.Since(began)
	first.Close()
	e, err := wasm.New(wasm.Config{Source: src}) // no disk cache: it compiles
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cfg := node.DefaultConfig()
	cfg.Programs = e
	k, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Shutdown(context.Background())
	limit := (compile / 2).Round(time.Millisecond)
	t.Logf("a compile took %v; the process may use %v of CPU", compile, limit)
	lim, err := node.ParseLimits(nil, fmt.Sprintf("cpu=%s:%s", limit, limit))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{k: k, e: e, src: src}
	st, out := f.run(t, node.Spec{Command: "echoenv", Args: []string{"ok"}, Limits: lim})
	exited(t, st, 0, out)
}
