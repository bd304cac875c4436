package builtins

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vproc/vproc/internal/testwait"
	"github.com/vproc/vproc/node"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newKernel starts a kernel that runs the builtins for one test and shuts
// it down at its end.
func newKernel(t testing.TB, mod ...func(*node.Config)) *node.ProcessManager {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.Programs = Programs()
	for _, m := range mod {
		m(&cfg)
	}
	k, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := k.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return k
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testwait.For(t, what, timeout, cond)
}

// run spawns spec, waits for it, and returns its status and output.
func run(t testing.TB, k *node.ProcessManager, spec node.Spec) (node.WaitStatus, string) {
	t.Helper()
	var out syncBuffer
	if spec.Stdout == nil {
		spec.Stdout = &out
		spec.Stderr = &out
	}
	pid := mustSpawn(t, k, spec)
	return mustWait(t, k, pid).Status, out.String()
}

func mustSpawn(t testing.TB, k *node.ProcessManager, spec node.Spec) int {
	t.Helper()
	pid, err := k.Spawn(spec)
	if err != nil {
		t.Fatalf("spawn %q: %v", spec.Command, err)
	}
	return pid
}

func mustWait(t testing.TB, k *node.ProcessManager, pid int) *node.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := k.Wait(ctx, pid)
	if err != nil {
		t.Fatalf("wait %d: %v", pid, err)
	}
	return p
}

// withPrograms adds progs to the builtins of a test kernel.
func withPrograms(progs map[string]node.Program) func(*node.Config) {
	return func(c *node.Config) {
		r := Programs()
		for n, p := range progs {
			r.Register(n, p)
		}
		c.Programs = r
	}
}

// waitState polls until process pid is in state want.
func waitState(t testing.TB, k *node.ProcessManager, pid int, want node.ProcessState) {
	t.Helper()
	waitFor(t, "pid "+strconv.Itoa(pid)+" to be "+string(want), 10*time.Second, func() bool {
		p, err := k.Get(pid)
		return err == nil && p.State == want
	})
}

// waitNoSlot polls until process pid waits and no process holds a CPU slot.
func waitNoSlot(t testing.TB, k *node.ProcessManager, pid int) {
	t.Helper()
	waitFor(t, "pid "+strconv.Itoa(pid)+" to wait without a slot", 10*time.Second, func() bool {
		p, err := k.Get(pid)
		_, busy, _ := k.Scheduler().Stats()
		return err == nil && p.State == node.StateWaiting && busy == 0
	})
}
