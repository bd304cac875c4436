package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/fsm"
)

// BenchmarkPsAll measures `ps -a` over the HTTP API of a leader whose
// table holds 1M exited processes: how long until the first line is
// printed and until the last, paged (as ps does) and, as the baseline in
// the same run, in one unpaged answer; and the CPU time the listing took,
// the agent's and ps's together (both run in this process), which a busy
// machine does not inflate as it does the wall time.
//
//	go test -run '^$' -bench 'PsAll/^paged' -benchtime 3x ./cmd/vproc/
func BenchmarkPsAll(b *testing.B) {
	// The agent's own collector target (--gc-percent, gc.go): the table
	// lives in this process as it does in the agent.
	defer debug.SetGCPercent(debug.SetGCPercent(defaultGCPercent))
	c := serveTable(b, tableOfExited(b, 1_000_000))
	for _, tc := range []struct {
		name  string
		paged bool
	}{{"paged", true}, {"unpaged-baseline", false}} {
		b.Run(tc.name, func(b *testing.B) {
			var first, total, cpu time.Duration
			for range b.N {
				cpu0 := cpuTimeNow()
				w := &firstWrite{start: time.Now()}
				if tc.paged {
					if err := psPages(context.Background(), c, client.ListOpts{All: true}, w, psOutput{now: time.Now()}); err != nil {
						b.Fatal(err)
					}
				} else {
					list, err := c.List(context.Background(), client.ListOpts{All: true})
					if err != nil {
						b.Fatal(err)
					}
					bw := bufio.NewWriter(w)
					psRows(bw, list.Processes, true, psOutput{now: time.Now()})
					if err := bw.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(w.start)
				cpu += cpuTimeNow() - cpu0
				first += w.first
				if w.lines < 1_000_000 {
					b.Fatalf("printed %d lines, want a million", w.lines)
				}
			}
			b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-line-ms")
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "last-line-ms")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms")
		})
	}
}

// cpuTimeNow is the CPU time this process has used, user and system.
func cpuTimeNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serveTable serves the table of f over the HTTP API, as a leader
// whose table changes no more, and returns a client of it.
func serveTable(t testing.TB, f *fsm.FSM) *client.Client {
	core := &benchCore{f: f}
	srv, err := httpapi.New(httpapi.Config{
		Core: core, Node: benchNode{}, Logs: benchLogs{}, Client: httpapi.NewClient(core),
		Logger: slog.New(slog.DiscardHandler), IPCStream: func(http.ResponseWriter, *http.Request) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Drain)
	cfg := client.DefaultConfig()
	cfg.Addr = ts.URL
	cfg.Timeout = 2 * time.Minute
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPsPagesThroughAPI: ps lists a table of several pages through the
// HTTP API, each process once and in order, the header once.
func TestPsPagesThroughAPI(t *testing.T) {
	c := serveTable(t, tableOfExited(t, psFirstPage+700))
	var out bytes.Buffer
	if err := psPages(context.Background(), c, client.ListOpts{All: true, States: []string{"exited"}}, &out, psOutput{now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1+psFirstPage+700 || !strings.HasPrefix(lines[0], "PID ") {
		t.Fatalf("%d lines, want a header and %d processes; first %q", len(lines), psFirstPage+700, lines[0])
	}
	for i, l := range lines[1:] {
		if f := strings.Fields(l); f[0] != strconv.Itoa(i+2) || f[4] != "exited" || !strings.Contains(l, "echo job") {
			t.Fatalf("line %d: %q", i+1, l)
		}
	}
}

// firstWrite discards what it is given and notes when the first of it came
// and how many lines.
type firstWrite struct {
	start time.Time
	first time.Duration
	lines int
}

func (w *firstWrite) Write(p []byte) (int, error) {
	if w.first == 0 {
		w.first = time.Since(w.start)
	}
	for _, c := range p {
		if c == '\n' {
			w.lines++
		}
	}
	return len(p), nil
}

func tableOfExited(b testing.TB, n int) *fsm.FSM {
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
	apply(&fsm.NodeUpsert{ID: "n1", Capacity: fsm.Capacity{Slots: 1 << 20}, Now: now})
	for i := range n {
		r := apply(&fsm.Spawn{Owner: "root", Place: "n1", Now: now, Spec: fsm.Spec{
			Command: "sh", Args: []string{"-c", "echo job " + strconv.Itoa(i)}}})
		apply(&fsm.Exited{PID: r.PID, Incarnation: 1, Node: "n1", Started: true, Status: fsm.Status{Exited: true}, Now: now})
	}
	return f
}

// benchCore is a leader over a table that changes no more.
type benchCore struct {
	httpapi.Core
	f *fsm.FSM
}

func (c *benchCore) Name() string                                       { return "bench" }
func (c *benchCore) IsLeader() bool                                     { return true }
func (c *benchCore) LocalView() *fsm.View                               { return c.f.View() }
func (c *benchCore) ConsistentView(context.Context) (*fsm.View, error)  { return c.f.View(), nil }
func (c *benchCore) Leader() (string, string, bool)                     { return "bench", "", true }
func (c *benchCore) NodeHTTPAddr(string) (string, bool)                 { return "", false }
func (c *benchCore) StateInfo() api.StateInfo                           { return api.StateInfo{Node: "bench"} }
func (c *benchCore) RenewLease(context.Context, string) (uint64, error) { return 0, nil }

type benchNode struct{ httpapi.Node }

func (benchNode) LocalInfos(refs []httpapi.ProcRef) []httpapi.ProcInfo {
	return make([]httpapi.ProcInfo, len(refs))
}

type benchLogs struct{ httpapi.Logs }

var _ io.Writer = (*firstWrite)(nil)
