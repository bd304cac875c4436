package runner

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/testwait"
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
func startReporter(t *testing.T, out Sender) *Runner {
	t.Helper()
	f, err := fsm.New(fsm.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Name = "n1"
	r, err := New(cfg, &fsmTable{f: f}, discardLogs{}, out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.cancel()
		r.wg.Wait()
	})
	return r
}

func runReporter(r *Runner) {
	r.wg.Add(1)
	go r.rep.run()
}

// lifecycle is two reports about each PID: started, then stopped (a
// Start followed by an exit would fold into one report).
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
	testwait.For(t, "the batch", 5*time.Second, func() bool {
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
	testwait.For(t, "the batch", 5*time.Second, func() bool {
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
	testwait.For(t, "the resends", 10*time.Second, func() bool {
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
	testwait.For(t, "the single sends", 5*time.Second, func() bool {
		_, s := out.calls()
		return len(s) == len(cmds)
	})
	if _, singles := out.calls(); !slices.Equal(singles, cmds) {
		t.Fatalf("single sends %v, want %v", singles, cmds)
	}
}
