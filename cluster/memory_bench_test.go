package cluster

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

// BenchmarkExitedRecordMemory measures what one exited process costs the
// table: the growth of HeapInuse after a forced collection, per record,
// with the growth of the agent's resident memory beside it, at 100k and 1M
// records spawned from the command line that have exited and wait for init
// to reap them. Two shapes: small (sh -c with a short script, no
// environment) and large (a 2 KiB script, 4 KiB of environment and a
// working directory, which the exit compacts away).
//
//	go test -run '^$' -bench ExitedRecordMemory -benchtime 1x ./cluster/
func BenchmarkExitedRecordMemory(b *testing.B) {
	for _, shape := range []string{"small", "large"} {
		for _, n := range []int{100_000, 1_000_000} {
			b.Run(fmt.Sprintf("spawn=%s/records=%d", shape, n), func(b *testing.B) {
				for range b.N {
					heap, rss := exitedRecordMemory(b, n, shape == "large")
					b.ReportMetric(heap, "heap-B/record")
					b.ReportMetric(rss, "rss-B/record")
				}
			})
		}
	}
}

func exitedRecordMemory(b *testing.B, n int, large bool) (heapPer, rssPer float64) {
	f, err := fsm.New(fsm.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixNano()
	idx := uint64(0)
	apply := func(c fsm.Command) *fsm.Result {
		idx++
		r, _ := f.Apply(idx, fsm.Encode(c)).(*fsm.Result)
		if r == nil || r.Err != nil {
			b.Fatalf("apply %v: %+v", c.Type(), r)
		}
		return r
	}
	var script, cwd string
	var env []string
	if large {
		cwd = "/home/root"
		script = strings.Repeat("echo step; ", 2048/len("echo step; "))
		for i := range 8 {
			env = append(env, fmt.Sprintf("VAR%d=%s", i, strings.Repeat("v", 512)))
		}
	}
	apply(&fsm.NodeUpsert{ID: "n1", Capacity: fsm.Capacity{Slots: 1 << 20}, Now: now})
	heap0, rss0 := memNow()
	for i := range n {
		r := apply(&fsm.Spawn{Owner: "root", Place: "n1", Now: now, Spec: fsm.Spec{
			Command: "sh", Args: []string{"-c", "echo job " + strconv.Itoa(i) + "; " + script + "true"},
			Env: env, Cwd: cwd, Restart: fsm.Restart{Policy: fsm.RestartNever},
		}})
		apply(&fsm.Exited{PID: r.PID, Incarnation: 1, Node: "n1", Started: true, Status: fsm.Status{Exited: true}, Now: now})
	}
	if got := f.View().PendingLen(); got != 0 {
		b.Fatalf("%d pending", got)
	}
	heap1, rss1 := memNow()
	runtime.KeepAlive(f)
	return float64(heap1-heap0) / float64(n), float64(rss1-rss0) / float64(n)
}

// memNow returns HeapInuse after a forced collection, and the resident
// set size of the process.
func memNow() (heap, rss int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, err := os.ReadFile("/proc/self/statm")
	if err == nil {
		if fields := strings.Fields(string(b)); len(fields) > 1 {
			pages, _ := strconv.ParseInt(fields[1], 10, 64)
			rss = pages * int64(os.Getpagesize())
		}
	}
	return int64(ms.HeapInuse), rss
}
