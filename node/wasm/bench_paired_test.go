package wasm_test

import (
	"context"
	"crypto/rand"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/vproc/vproc/internal/wasmtest"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/wasm"
)

// BenchmarkSpawnExitPaired measures the cached Go hello-world module's
// spawn+exit through vproc and a bare wazero instantiate-and-run of it in
// pairs, one right after the other (in alternating order), so that both
// see the same load on a busy machine. It reports the median of each
// (vproc-p50-ms, bare-p50-ms) and the median of the per-pair difference
// (gap-p50-ms); ns/op is the time of one pair.
func BenchmarkSpawnExitPaired(b *testing.B) {
	ctx := context.Background()
	hello := wasmtest.Build(b, "testdata/hello")
	cacheDir := wasmtest.CacheDir(b)
	src := newMapSource()
	src.add(hello, "hello")

	e, err := wasm.New(wasm.Config{CacheDir: cacheDir, Source: src})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	cfg := node.DefaultConfig()
	cfg.Programs = e
	k, err := node.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Shutdown(ctx)
	spawnWait(b, k, node.Spec{Command: "hello"}) // compile and keep

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
	mcfg := wazero.NewModuleConfig().WithName("").WithStdout(io.Discard).WithArgs("hello").
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
	bare := func() {
		mod, err := rt.InstantiateModule(ctx, cm, mcfg)
		if err != nil {
			b.Fatal(err)
		}
		mod.Close(ctx)
	}
	bare()

	vp, bw, gap := make([]float64, 0, b.N), make([]float64, 0, b.N), make([]float64, 0, b.N)
	timed := func(f func()) float64 {
		t0 := time.Now()
		f()
		return float64(time.Since(t0)) / float64(time.Millisecond)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var v, w float64
		if i%2 == 0 {
			v = timed(func() { spawnWait(b, k, node.Spec{Command: "hello"}) })
			w = timed(bare)
		} else {
			w = timed(bare)
			v = timed(func() { spawnWait(b, k, node.Spec{Command: "hello"}) })
		}
		vp, bw, gap = append(vp, v), append(bw, w), append(gap, v-w)
	}
	b.StopTimer()
	b.ReportMetric(median(vp), "vproc-p50-ms")
	b.ReportMetric(median(bw), "bare-p50-ms")
	b.ReportMetric(median(gap), "gap-p50-ms")
}

// median returns the median of xs, which it sorts.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}
