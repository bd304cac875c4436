package wasm_test

import (
	"context"
	"crypto/rand"
	"io"
	"os/exec"
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/vproc/vproc/internal/wasmtest"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/builtins"
	"github.com/vproc/vproc/node/wasm"
)

// spawnWait spawns spec and waits for it to exit 0.
func spawnWait(b *testing.B, k *node.ProcessManager, spec node.Spec) {
	pid, err := k.Spawn(spec)
	if err != nil {
		b.Fatal(err)
	}
	p, err := k.Wait(context.Background(), pid)
	if err != nil {
		b.Fatal(err)
	}
	if !p.Status.Exited() || p.Status.ExitStatus() != 0 {
		b.Fatalf("%s: status %v", spec.Command, p.Status)
	}
}

// BenchmarkSpawnExit measures spawn+exit of the Go hello-world module with
// its compiled code in memory (cached), with it only in the on-disk cache
// (cold: a new Engine per spawn), beside a builtin's spawn and a bare
// wazero instantiate-and-run of the same module with wazero's own WASI.
func BenchmarkSpawnExit(b *testing.B) {
	hello := wasmtest.Build(b, "testdata/hello")
	cacheDir := wasmtest.CacheDir(b)
	src := newMapSource()
	src.add(hello, "hello")

	newKernel := func(r node.Resolver) *node.ProcessManager {
		cfg := node.DefaultConfig()
		cfg.Programs = r
		k, err := node.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { k.Shutdown(context.Background()) })
		return k
	}

	b.Run("builtin-true", func(b *testing.B) {
		k := newKernel(builtins.Programs())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			spawnWait(b, k, node.Spec{Command: "true"})
		}
	})

	b.Run("wasm-hello-cached", func(b *testing.B) {
		e, err := wasm.New(wasm.Config{CacheDir: cacheDir, Source: src})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		k := newKernel(e)
		spawnWait(b, k, node.Spec{Command: "hello"}) // compile and keep
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			spawnWait(b, k, node.Spec{Command: "hello"})
		}
	})

	b.Run("wasm-hello-cold", func(b *testing.B) {
		warm, err := wasm.New(wasm.Config{CacheDir: cacheDir, Source: src})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := warm.Load(context.Background(), wasm.Hash(hello)); err != nil {
			b.Fatal(err)
		}
		warm.Close()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			e, err := wasm.New(wasm.Config{CacheDir: cacheDir, Source: src})
			if err != nil {
				b.Fatal(err)
			}
			k := newKernel(e)
			b.StartTimer()
			spawnWait(b, k, node.Spec{Command: "hello"})
			b.StopTimer()
			k.Shutdown(context.Background())
			e.Close()
			b.StartTimer()
		}
	})

	b.Run("bare-wazero", func(b *testing.B) {
		ctx := context.Background()
		cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			b.Fatal(err)
		}
		defer cache.Close(ctx)
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true).WithCompilationCache(cache))
		defer rt.Close(ctx)
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		cm, err := rt.CompileModule(ctx, hello)
		if err != nil {
			b.Fatal(err)
		}
		// Real clocks, sleep and randomness, as the host module has.
		cfg := wazero.NewModuleConfig().WithName("").WithStdout(io.Discard).WithArgs("hello").
			WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			mod, err := rt.InstantiateModule(ctx, cm, cfg)
			if err != nil {
				b.Fatal(err)
			}
			mod.Close(ctx)
		}
	})
}

// The programs that feed and drain the pipes of BenchmarkCat.
func progGen(s *node.Sys) int {
	n, _ := strconv.Atoi(s.Args()[0])
	buf := make([]byte, 64<<10)
	for n > 0 {
		m := min(n, len(buf))
		w, err := s.Write(1, buf[:m])
		if err != nil {
			return 1
		}
		n -= w
	}
	return 0
}

func progSink(s *node.Sys) int {
	buf := make([]byte, 64<<10)
	for {
		_, err := s.Read(0, buf)
		if err == io.EOF {
			return 0
		}
		if err != nil {
			return 1
		}
	}
}

// BenchmarkCat measures cat between two pipes with 64 KiB reads: the WASI
// module, the builtin, and the host's cat through Linux pipes.
func BenchmarkCat(b *testing.B) {
	const total = 256 << 20
	tools := wasmtest.Build(b, "testdata/tools")
	src := newMapSource()
	src.add(tools, "catwasm")
	e, err := wasm.New(wasm.Config{CacheDir: wasmtest.CacheDir(b), Source: src})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	extra := node.NewProgramTable()
	extra.Register("gen", progGen)
	extra.Register("sink", progSink)
	cfg := node.DefaultConfig()
	cfg.Programs = node.Resolvers{builtins.Programs(), extra, e}
	k, err := node.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Shutdown(context.Background())
	n := strconv.Itoa(total)

	for _, c := range []struct{ name, cat string }{{"wasm", "catwasm"}, {"builtin", "cat"}} {
		b.Run(c.name, func(b *testing.B) {
			spawnWait(b, k, node.Spec{Command: "sh", Args: []string{"-c", "gen 1 | " + c.cat + " | sink"}})
			b.SetBytes(total)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				spawnWait(b, k, node.Spec{Command: "sh", Args: []string{"-c", "gen " + n + " | " + c.cat + " | sink"}})
			}
		})
	}

	b.Run("host", func(b *testing.B) {
		catPath, err := exec.LookPath("cat")
		if err != nil {
			b.Skip("no host cat")
		}
		b.SetBytes(total)
		buf, wbuf := make([]byte, 64<<10), make([]byte, 64<<10)
		for i := 0; i < b.N; i++ {
			cmd := exec.Command(catPath)
			in, err := cmd.StdinPipe()
			if err != nil {
				b.Fatal(err)
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				var err error
				for left := total; left > 0 && err == nil; left -= len(wbuf) {
					_, err = in.Write(wbuf)
				}
				in.Close()
				done <- err
			}()
			for {
				if _, err := out.Read(buf); err != nil {
					break
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCatBareWazero runs the same cat module under wazero's own WASI,
// reading from memory and writing to io.Discard: the module's own cost.
func BenchmarkCatBareWazero(b *testing.B) {
	const total = 256 << 20
	ctx := context.Background()
	tools := wasmtest.Build(b, "testdata/tools")
	cache, err := wazero.NewCompilationCacheWithDir(wasmtest.CacheDir(b))
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close(ctx)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	cm, err := rt.CompileModule(ctx, tools)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	for i := 0; i < b.N; i++ {
		cfg := wazero.NewModuleConfig().WithName("").WithArgs("catwasm").
			WithStdin(io.LimitReader(zeroReader{}, total)).WithStdout(io.Discard)
		mod, err := rt.InstantiateModule(ctx, cm, cfg)
		if err != nil {
			b.Fatal(err)
		}
		mod.Close(ctx)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
