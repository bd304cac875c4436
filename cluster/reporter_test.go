package cluster

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/fsm"
)

// recordingSender is a sender that records what it is asked to send and
// answers from a script.
type recordingSender struct {
	mu      sync.Mutex
	batches [][]fsm.Command
	singles []fsm.Command
	// answer, if set, decides each batch's outcomes (or its error).
	answer func(call int, cmds []fsm.Command) ([]commit.Outcome, error)
}

func (s *recordingSender) Send(_ context.Context, _ *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.singles = append(s.singles, cmd)
	return &fsm.Result{Index: 1}, nil
}

func (s *recordingSender) SendBatch(_ context.Context, cmds []fsm.Command) ([]commit.Outcome, error) {
	s.mu.Lock()
	call := len(s.batches)
	s.batches = append(s.batches, slices.Clone(cmds))
	answer := s.answer
	s.mu.Unlock()
	if answer != nil {
		return answer(call, cmds)
	}
	return committed(cmds), nil
}

func (s *recordingSender) RegisterSession(context.Context) (uint64, error) { return 1, nil }

func (s *recordingSender) calls() ([][]fsm.Command, []fsm.Command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches), slices.Clone(s.singles)
}

func committed(cmds []fsm.Command) []commit.Outcome {
	outs := make([]commit.Outcome, len(cmds))
	for i := range outs {
		outs[i].Res = &fsm.Result{Index: 1}
	}
	return outs
}

// startReporter runs a runner's reporter alone, over out.
func startReporter(t *testing.T, out sender) *runner {
	t.Helper()
	r := newRunner(newFakeCore(t, "n1"), nil, out, testLogger(t))
	t.Cleanup(func() {
		r.cancel()
		r.wg.Wait()
	})
	return r
}

func runReporter(r *runner) {
	r.wg.Add(1)
	go r.rep.run()
}

// lifecycle is two reports about each PID: started, then stopped (a
// start followed by an exit would fold into one report).
func lifecycle(pids ...uint64) []fsm.Command {
	var cmds []fsm.Command
	for _, pid := range pids {
		cmds = append(cmds,
			&fsm.Started{PID: pid, Incarnation: 1, Node: "n1"},
			&fsm.Stopped{PID: pid, Incarnation: 1, Node: "n1", Signal: 19})
	}
	return cmds
}

func TestReporterFoldsAStartIntoTheExit(t *testing.T) {
	exited := func(pid, inc uint64) *fsm.Exited {
		return &fsm.Exited{PID: pid, Incarnation: inc, Node: "n1", Status: fsm.Status{Exited: true}}
	}
	started := func(pid, inc uint64) *fsm.Started { return &fsm.Started{PID: pid, Incarnation: inc, Node: "n1"} }
	e2, e3, e5, e6 := exited(2, 1), exited(3, 1), exited(5, 2), exited(6, 1)
	s3, s4, s5, s6 := started(3, 1), started(4, 1), started(5, 1), started(6, 1)
	stop3 := &fsm.Stopped{PID: 3, Incarnation: 1, Node: "n1", Signal: 19}
	in := []fsm.Command{
		started(2, 1), e2, // folds into e2
		s3, stop3, e3, // a report in between: nothing folds
		s4,     // no exit yet
		s5, e5, // another incarnation's exit
		s6, &fsm.Reap{PID: 6}, e6, // a reap in between
	}
	want := []fsm.Command{e2, s3, stop3, e3, s4, s5, e5, s6, &fsm.Reap{PID: 6}, e6}
	got := foldStarts(in)
	if len(got) != len(want) {
		t.Fatalf("got %d reports %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Fatalf("report %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if !e2.Started || e3.Started || e5.Started || e6.Started {
		t.Fatalf("Started on the exits: 2 %v, 3 %v, 5 %v, 6 %v; want only 2", e2.Started, e3.Started, e5.Started, e6.Started)
	}

	// The reporter sends the folded batch.
	out := &recordingSender{}
	r := startReporter(t, out)
	r.rep.add(started(7, 1))
	e7 := exited(7, 1)
	r.rep.add(e7)
	runReporter(r)
	waitFor(t, "the batch", 5*time.Second, func() bool {
		b, _ := out.calls()
		return len(b) > 0
	})
	if batches, _ := out.calls(); len(batches) != 1 || len(batches[0]) != 1 || batches[0][0] != fsm.Command(e7) || !e7.Started {
		t.Fatalf("got batches %v, want one batch of pid 7's exit with its start", batches)
	}
}

func TestReporterSendsOneBatch(t *testing.T) {
	out := &recordingSender{}
	r := startReporter(t, out)
	want := lifecycle(2, 3, 4, 5)
	for _, c := range want {
		r.rep.add(c)
	}
	runReporter(r)
	waitFor(t, "the batch", 5*time.Second, func() bool {
		b, _ := out.calls()
		return len(b) > 0
	})
	batches, singles := out.calls()
	if len(batches) != 1 || !slices.Equal(batches[0], want) || len(singles) != 0 {
		t.Fatalf("got batches %v and single sends %v, want one batch of the %d reports in order", batches, singles, len(want))
	}
}

func TestReporterResendsWhatFailed(t *testing.T) {
	// In the first answer, pid 3's started report did not replicate and
	// pid 4's stop may or may not have: they are sent again, with pid 3's
	// later stop (which did commit) so that pid 3's reports keep their
	// order. Domain errors are answers: not sent again.
	out := &recordingSender{answer: func(call int, cmds []fsm.Command) ([]commit.Outcome, error) {
		outs := committed(cmds)
		if call == 0 {
			outs[2].Err = commit.ErrNotLeader                                         // started 3
			outs[5].Err = fmt.Errorf("%w: lost leadership", commit.ErrUnknownOutcome) // stopped 4
			outs[1].Res = &fsm.Result{Err: fsm.ErrStale}                              // stopped 2: an answer
		}
		if call == 1 {
			return nil, fmt.Errorf("%w: reset", commit.ErrUnknownOutcome) // no answer at all
		}
		return outs, nil
	}}
	r := startReporter(t, out)
	cmds := lifecycle(2, 3, 4)
	for _, c := range cmds {
		r.rep.add(c)
	}
	runReporter(r)
	waitFor(t, "the resends", 10*time.Second, func() bool {
		b, _ := out.calls()
		return len(b) >= 3
	})
	batches, _ := out.calls()
	again := []fsm.Command{cmds[2], cmds[3], cmds[5]}
	if !slices.Equal(batches[0], cmds) || !slices.Equal(batches[1], again) || !slices.Equal(batches[2], again) {
		t.Fatalf("got batches %v; want %v, then %v twice", batches, cmds, again)
	}
}

func TestReporterFallsBackToSingleSends(t *testing.T) {
	// A leader that refuses batches (an older release) gets the reports
	// one by one, in order.
	out := &recordingSender{answer: func(int, []fsm.Command) ([]commit.Outcome, error) {
		return nil, fmt.Errorf("%w: 403", httpapi.ErrBatchRefused)
	}}
	r := startReporter(t, out)
	cmds := lifecycle(2, 3)
	for _, c := range cmds {
		r.rep.add(c)
	}
	runReporter(r)
	waitFor(t, "the single sends", 5*time.Second, func() bool {
		_, s := out.calls()
		return len(s) == len(cmds)
	})
	if _, singles := out.calls(); !slices.Equal(singles, cmds) {
		t.Fatalf("single sends %v, want %v", singles, cmds)
	}
}

func TestInternalRouteTakesBatches(t *testing.T) {
	c := newFakeCore(t, "n1")
	h := newHarness(t, c, false)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	h.waitState(pid, fsm.StatePlaced)
	post := func(cmds []fsm.Command, hdr map[string]string) resp {
		t.Helper()
		body := fsm.Encode(&fsm.Batch{Commands: cmds})
		if hdr == nil {
			hdr = map[string]string{}
		}
		hdr[api.HeaderNode] = "n1"
		hdr["Content-Type"] = "application/octet-stream"
		return do(t, "POST", h.url+"/v1/internal/command", body, hdr)
	}

	// A command another node may not send refuses the whole batch.
	r := post([]fsm.Command{
		&fsm.Started{PID: pid, Incarnation: 1, Node: "n1"},
		&fsm.Exited{PID: pid, Incarnation: 1, Node: "n2", Status: fsm.Status{Exited: true}},
	}, nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("batch with another node's event: got %d %s, want 403", r.status, r.body)
	}
	if p, _ := h.proc(pid); p.State != fsm.StatePlaced {
		t.Fatalf("a refused batch changed the table: %s", p.State)
	}
	// Batches travel outside sessions.
	r = post(lifecycle(pid), map[string]string{api.HeaderSession: "1", api.HeaderRequest: "1"})
	if r.status != http.StatusBadRequest {
		t.Fatalf("batch in a session: got %d %s, want 400", r.status, r.body)
	}

	// One result per command, in order; a domain error is a result.
	r = post([]fsm.Command{
		&fsm.Started{PID: pid, Incarnation: 1, Node: "n1"},
		&fsm.Started{PID: pid, Incarnation: 2, Node: "n1"},
		&fsm.Exited{PID: pid, Incarnation: 1, Node: "n1", Status: fsm.Status{Exited: true, Code: 3}},
	}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("batch: got %d %s", r.status, r.body)
	}
	var out api.CommandResults
	r.decode(t, &out)
	if len(out.Results) != 3 {
		t.Fatalf("got %d results, want 3: %s", len(out.Results), r.body)
	}
	got := out.Results
	if got[0].State != string(fsm.StateRunning) || got[0].Code != "" ||
		got[1].Code != fsm.Code(fsm.ErrStale) ||
		got[2].State != string(fsm.StateExited) || got[2].Failure != "" ||
		out.Index != got[2].Index || !(got[0].Index < got[2].Index) {
		t.Fatalf("results: %+v (index %d)", got, out.Index)
	}
	if p, _ := h.proc(pid); p.State != fsm.StateExited || p.Status.Code != 3 || p.StartedAt == 0 {
		t.Fatalf("after the batch: %+v", p)
	}
}

func TestFollowerSendsReportsInBatches(t *testing.T) {
	// A follower's reports reach the leader as batches, chunked at
	// httpapi.MaxReportBatch commands: one request per chunk, every command
	// answered in order.
	c := newFakeCore(t, "n1")
	leader := newHarness(t, c, false)
	var requests atomic.Int64
	count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/internal/command" {
			requests.Add(1)
		}
		leader.s.handler().ServeHTTP(w, r)
	})
	counted := httptest.NewServer(count)
	t.Cleanup(counted.Close)
	follower := &fakeFollower{fakeCore: c, leaderURL: counted.URL}
	s, err := newServing(follower, Config{Name: "n1", Dev: true, CPUs: 1, FenceTimeout: 2 * time.Second, LostTimeout: 4 * time.Second}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.stop(ctx)
	})
	n := 2*httpapi.MaxReportBatch + 10
	cmds := make([]fsm.Command, n)
	for i := range cmds {
		cmds[i] = &fsm.SignalDelivered{ID: uint64(i + 1), PID: 99, Incarnation: 1}
	}
	outs, err := s.client.SendBatch(context.Background(), cmds)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != n {
		t.Fatalf("got %d outcomes for %d commands", len(outs), n)
	}
	last := uint64(0)
	for i, o := range outs {
		if o.Err != nil || o.Res == nil || o.Res.Index < last {
			t.Fatalf("outcome %d: %+v %v (after index %d)", i, o.Res, o.Err, last)
		}
		last = o.Res.Index
	}
	if got := requests.Load(); got != 3 {
		t.Errorf("%d commands took %d requests, want 3", n, got)
	}
	if got := len(c.commands(fsm.TypeSignalDelivered)); got != n {
		t.Errorf("the leader applied %d acknowledgements, want %d", got, n)
	}
}
