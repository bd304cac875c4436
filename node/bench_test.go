package node

import (
	"context"
	"os/exec"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

func nanotime() int64 { return runtimeNano() }

func percentile(xs []int64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	return float64(xs[int(q*float64(len(xs)-1))])
}

// BenchmarkYieldHandoff measures a switch between two processes on one CPU
// slot. ns/switch is the mean over the run (b.N yields by each process);
// p50-ns and p99-ns are the latency from one process entering Yield to the
// other returning from its own Yield, sampled on one switch in
// yieldSampleEvery, so that the benchmark's own clock readings (which cost
// about as much as a switch on a virtual machine) stay out of the mean.
func BenchmarkYieldHandoff(b *testing.B) {
	k := newKernel(b, func(c *Config) { c.Slots = 1; c.Slice = time.Second },
		withPrograms(map[string]Program{"yielder": yielder(b.N)}))
	b.ResetTimer()
	samples := yieldRound(b, k)
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/switch")
	b.ReportMetric(percentile(samples, 0.50), "p50-ns")
	b.ReportMetric(percentile(samples, 0.99), "p99-ns")
}

const yieldSampleEvery = 16

// yieldStamp is the clock reading of the process that last entered a
// sampled Yield; the process that returns from Yield next takes it.
var yieldStamp atomic.Int64

// yielder returns a program that yields n times and reports the sampled
// handoff latencies it saw in its exit path (yieldSamples).
func yielder(n int) Program {
	return func(s *Sys) int {
		local := make([]int64, 0, n/yieldSampleEvery+2)
		for i := range n {
			if i%yieldSampleEvery == 0 {
				yieldStamp.Store(nanotime())
			}
			s.Yield()
			if yieldStamp.Load() != 0 {
				if t := yieldStamp.Swap(0); t != 0 {
					local = append(local, nanotime()-t)
				}
			}
		}
		yieldSamples.Lock()
		yieldSamples.xs = append(yieldSamples.xs, local...)
		yieldSamples.Unlock()
		return 0
	}
}

var yieldSamples struct {
	sync.Mutex
	xs []int64
}

// yieldRound runs two yielders to the end and returns the samples they took.
func yieldRound(b *testing.B, k *ProcessManager) []int64 {
	yieldSamples.Lock()
	yieldSamples.xs = nil
	yieldSamples.Unlock()
	a := mustSpawn(b, k, Spec{Command: "yielder"})
	c := mustSpawn(b, k, Spec{Command: "yielder"})
	mustWait(b, k, a)
	mustWait(b, k, c)
	yieldSamples.Lock()
	defer yieldSamples.Unlock()
	return yieldSamples.xs
}

// BenchmarkChannelHandoff is the Go baseline: two goroutines passing a token
// over unbuffered channels. ns/switch is per handoff.
func BenchmarkChannelHandoff(b *testing.B) {
	channelHandoffs(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/switch")
}

// channelHandoffs passes a token back and forth n times (2n handoffs).
func channelHandoffs(n int) {
	ping, pong := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		for range n {
			<-ping
			pong <- struct{}{}
		}
		close(done)
	}()
	for range n {
		ping <- struct{}{}
		<-pong
	}
	<-done
}

// BenchmarkYieldHandoffPaired measures the yield handoff and its baseline,
// the channel handoff, in alternating rounds, so that both see the same load
// on a shared machine. It reports the median over the rounds of each
// (yield-ns, chan-ns, per switch) and the median of the per-round ratio.
func BenchmarkYieldHandoffPaired(b *testing.B) {
	const rounds = 10
	per := max(b.N/rounds, 1000)
	k := newKernel(b, func(c *Config) { c.Slots = 1; c.Slice = time.Second },
		withPrograms(map[string]Program{"yielder": yielder(per)}))
	var ys, cs, ratios []float64
	b.ResetTimer()
	for r := range rounds {
		var y, c time.Duration
		measure := func(f func()) time.Duration { t := time.Now(); f(); return time.Since(t) }
		yr := func() { y = measure(func() { yieldRound(b, k) }) }
		cr := func() { c = measure(func() { channelHandoffs(per) }) }
		if r%2 == 0 {
			yr()
			cr()
		} else {
			cr()
			yr()
		}
		yn := float64(y.Nanoseconds()) / float64(2*per)
		cn := float64(c.Nanoseconds()) / float64(2*per)
		ys, cs, ratios = append(ys, yn), append(cs, cn), append(ratios, yn/cn)
	}
	b.StopTimer()
	b.ReportMetric(median(ys), "yield-ns")
	b.ReportMetric(median(cs), "chan-ns")
	b.ReportMetric(median(ratios), "ratio")
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// BenchmarkSpawnExitReap spawns `true` through the library, in batches, and
// waits for (reaps) each: ns/op is one whole lifecycle.
func BenchmarkSpawnExitReap(b *testing.B) {
	k := newKernel(b)
	ctx := context.Background()
	const batch = 256
	pids := make([]int, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		pids = pids[:0]
		for j := i; j < min(i+batch, b.N); j++ {
			pid, err := k.Spawn(Spec{Command: "true"})
			if err != nil {
				b.Fatal(err)
			}
			pids = append(pids, pid)
		}
		for _, pid := range pids {
			if _, err := k.Wait(ctx, pid); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lifecycles/s")
}

// BenchmarkSpawnExitReapInKernel is the same lifecycle driven by a virtual
// process: Spawn then Wait4(-1) in batches.
func BenchmarkSpawnExitReapInKernel(b *testing.B) {
	n := b.N
	k := newKernel(b, withPrograms(map[string]Program{
		"forker": func(s *Sys) int {
			const batch = 256
			for i := 0; i < n; i += batch {
				m := min(batch, n-i)
				for range m {
					if _, err := s.Spawn(SpawnAttr{Command: "true", Files: []int{}}); err != nil {
						return 1
					}
				}
				for range m {
					if _, _, err := s.Wait4(-1, 0); err != nil {
						return 2
					}
				}
			}
			return 0
		},
	}))
	b.ResetTimer()
	st, _ := run(b, k, Spec{Command: "forker"})
	b.StopTimer()
	if st.ExitStatus() != 0 {
		b.Fatal(st)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lifecycles/s")
}

// BenchmarkForkExecTrue is the host baseline: fork+exec+wait of /bin/true.
func BenchmarkForkExecTrue(b *testing.B) {
	if _, err := exec.LookPath("/bin/true"); err != nil {
		b.Skip("no /bin/true")
	}
	for range b.N {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lifecycles/s")
}

// BenchmarkMemoryPerSleepingProcess reports Δ(HeapInuse+StackInuse)/N after
// a GC with N processes sleeping in `sleep` (bytes/proc), beside its
// baseline measured the same way in the same run: N goroutines parked on a
// channel receive (goroutine-bytes), which stay parked while the processes
// are measured, so that neither reuses the other's goroutines. It reports
// the difference (over-goroutine) and the split of the processes' cost
// between heap and stacks. It runs once per size whatever b.N is.
func BenchmarkMemoryPerSleepingProcess(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(itoaBig(n), func(b *testing.B) {
			release := make(chan struct{})
			var parked sync.WaitGroup
			h0, s0 := inuseSplit()
			for range n {
				parked.Add(1)
				go func() {
					defer parked.Done()
					<-release
				}()
			}
			h1, s1 := inuseSplit()
			defer func() {
				close(release)
				parked.Wait()
			}()
			goroutine := float64(h1+s1-h0-s0) / float64(n)

			k := newKernel(b)
			for range n {
				if _, err := k.Spawn(Spec{Command: "sleep", Args: []string{"3600"}}); err != nil {
					b.Fatal(err)
				}
			}
			waitFor(b, "all sleeping", 5*time.Minute, func() bool {
				_, busy, queued := k.Scheduler().Stats()
				return busy == 0 && queued == 0
			})
			h2, s2 := inuseSplit()
			proc := float64(h2+s2-h1-s1) / float64(n)
			b.ReportMetric(proc, "bytes/proc")
			b.ReportMetric(goroutine, "goroutine-bytes")
			b.ReportMetric(proc-goroutine, "over-goroutine")
			b.ReportMetric(float64(h2-h1)/float64(n), "heap-bytes/proc")
			b.ReportMetric(float64(s2-s1)/float64(n), "stack-bytes/proc")
			b.ReportMetric(0, "ns/op")
			k.Kill(-1, ipc.SIGKILL)
			waitFor(b, "all dead", 5*time.Minute, func() bool { return k.Count() == 0 })
		})
	}
}

// inuseSplit returns HeapInuse and StackInuse after two GCs.
func inuseSplit() (heap, stack int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse), int64(ms.StackInuse)
}

func itoaBig(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return itoaN(n/1_000_000) + "M"
	case n%1000 == 0:
		return itoaN(n/1000) + "k"
	}
	return itoaN(n)
}

func itoaN(n int) string {
	s := ""
	for n > 0 || s == "" {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

// BenchmarkJainRealTime runs 8 equal spinners on real time for a moment and
// reports Jain's fairness index of the CPU they got.
func BenchmarkJainRealTime(b *testing.B) {
	k := newKernel(b)
	pids := make([]int, 8)
	for i := range pids {
		pids[i] = mustSpawn(b, k, Spec{Command: "spin"})
	}
	time.Sleep(time.Duration(b.N) * 10 * time.Millisecond)
	cpu := make([]float64, len(pids))
	for i, pid := range pids {
		p, _ := k.Get(pid)
		cpu[i] = float64(p.CPUTime)
		k.Kill(pid, ipc.SIGKILL)
	}
	b.ReportMetric(jain(cpu), "jain")
}
