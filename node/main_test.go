package node

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/internal/testwait"

	"go.uber.org/goleak"
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

// newKernel starts a kernel for one test and shuts it down at its end.
func newKernel(t testing.TB, mod ...func(*Config)) *ProcessManager {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Programs = testPrograms()
	for _, m := range mod {
		m(&cfg)
	}
	k, err := New(cfg)
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
func run(t testing.TB, k *ProcessManager, spec Spec) (WaitStatus, string) {
	t.Helper()
	var out syncBuffer
	if spec.Stdout == nil {
		spec.Stdout = &out
		spec.Stderr = &out
	}
	pid, err := k.Spawn(spec)
	if err != nil {
		t.Fatalf("spawn %q: %v", spec.Command, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := k.Wait(ctx, pid)
	if err != nil {
		t.Fatalf("wait %q: %v", spec.Command, err)
	}
	return p.Status, out.String()
}
