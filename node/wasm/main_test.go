package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vproc/vproc/internal/testwait"
	"github.com/vproc/vproc/internal/wasmtest"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/builtins"
	"github.com/vproc/vproc/node/wasm"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { wasmtest.Cleanup() }))
}

// mapSource is a Source over modules held in memory.
type mapSource struct {
	mu     sync.Mutex
	names  map[string]string // name -> hash
	blobs  map[string][]byte // hash -> bytes
	served int               // how many times Bytes was asked
}

func newMapSource() *mapSource {
	return &mapSource{names: make(map[string]string), blobs: make(map[string][]byte)}
}

// add makes bin available under each name.
func (m *mapSource) add(bin []byte, names ...string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := wasm.Hash(bin)
	m.blobs[h] = bin
	for _, n := range names {
		m.names[n] = h
	}
	return h
}

func (m *mapSource) Lookup(name string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.names[name]
	return h, ok
}

func (m *mapSource) Bytes(_ context.Context, hash string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.served++
	b, ok := m.blobs[hash]
	if !ok {
		return nil, errors.New("no such blob")
	}
	return b, nil
}

// toolNames are the names the multi-call tools module answers to.
var toolNames = []string{"echoenv", "wcwasm", "catwasm", "writefile", "fifowrite", "readblock", "spinwasm", "growwasm", "sleeper"}

// fixture is a kernel whose programs are the builtins, then the modules of
// src.
type fixture struct {
	k   *node.ProcessManager
	e   *wasm.Engine
	src *mapSource
}

func newFixture(t testing.TB, mod ...func(*node.Config)) *fixture {
	t.Helper()
	src := newMapSource()
	src.add(wasmtest.Build(t, "testdata/tools"), toolNames...)
	src.add(wasmtest.Build(t, "testdata/hello"), "hello")
	e, err := wasm.New(wasm.Config{CacheDir: wasmtest.CacheDir(t), Source: src})
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.Programs = node.Resolvers{builtins.Programs(), e}
	for _, m := range mod {
		m(&cfg)
	}
	k, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := k.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Errorf("engine close: %v", err)
		}
	})
	return &fixture{k: k, e: e, src: src}
}

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

// start spawns spec with its output in the returned buffer.
func (f *fixture) start(t testing.TB, spec node.Spec) (int, *syncBuffer) {
	t.Helper()
	out := new(syncBuffer)
	if spec.Stdout == nil {
		spec.Stdout, spec.Stderr = out, out
	}
	pid, err := f.k.Spawn(spec)
	if err != nil {
		t.Fatalf("spawn %q: %v", spec.Command, err)
	}
	return pid, out
}

// wait waits for pid with a generous deadline: compiling a module under
// the race detector takes seconds.
func (f *fixture) wait(t testing.TB, pid int) node.WaitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := f.k.Wait(ctx, pid)
	if err != nil {
		t.Fatalf("wait %d: %v", pid, err)
	}
	return p.Status
}

func (f *fixture) run(t testing.TB, spec node.Spec) (node.WaitStatus, string) {
	t.Helper()
	pid, out := f.start(t, spec)
	st := f.wait(t, pid)
	return st, out.String()
}

// waitOutput polls until out holds want.
func waitOutput(t testing.TB, out *syncBuffer, want string) {
	t.Helper()
	testwait.For(t, fmt.Sprintf("output %q", want), 2*time.Minute, func() bool {
		return strings.Contains(out.String(), want)
	})
}
