package replica

import (
	"context"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/testwait"
)

// lazyForever makes lazy proposals wait an hour for company: a test that
// commits them within its deadline shows that they did not wait for it.
func lazyForever(r *Replica) { r.app.lazyDelay = time.Hour }

func reports(n int) []fsm.Command {
	cmds := make([]fsm.Command, n)
	for i := range cmds {
		cmds[i] = &fsm.Tick{Now: time.Now().UnixNano()}
	}
	return cmds
}

// A node's reports go at once when nothing is in flight, and the reports
// of one batch share one entry.
func TestLazyBatchGoesAtOnceWhenIdle(t *testing.T) {
	r := newDevReplicaWith(t, lazyForever)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 3 {
		outs := r.SubmitBatch(ctx, nil, reports(5))
		for i, o := range outs {
			if o.Err != nil || o.Res == nil {
				t.Fatalf("round %d, report %d: %+v; want a result before the deadline", round, i, o)
			}
			if o.Res.Index != outs[0].Res.Index {
				t.Errorf("round %d: report %d in entry %d, report 0 in %d; want one entry", round, i, o.Res.Index, outs[0].Res.Index)
			}
		}
	}
}

// Reports that come while an entry is in flight wait for it, and go once
// the pipeline empties.
func TestLazyBatchWaitsForTheEntryInFlight(t *testing.T) {
	r := newDevReplicaWith(t, lazyForever)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hold := make(chan struct{})
	r.HoldApply(func() { <-hold })
	first := make(chan commit.Outcome, 1)
	go func() {
		res, err := r.Submit(ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()})
		first <- commit.Outcome{Res: res, Err: err}
	}()
	testwait.For(t, "an entry in flight", 10*time.Second, func() bool { return r.app.busy.Load() == 1 })
	later := make(chan []commit.Outcome, 1)
	go func() { later <- r.SubmitBatch(ctx, nil, reports(3)) }()
	testwait.For(t, "the reports queued", 10*time.Second, func() bool { return len(r.app.queue) == 0 })
	r.HoldApply(nil)
	close(hold)
	o := <-first
	if o.Err != nil {
		t.Fatalf("the entry in flight: %v", o.Err)
	}
	outs := <-later
	for i, lo := range outs {
		if lo.Err != nil || lo.Res == nil {
			t.Fatalf("report %d: %+v; want a result once the entry in flight committed", i, lo)
		}
		if lo.Res.Index <= o.Res.Index {
			t.Errorf("report %d in entry %d, not after the entry in flight (%d)", i, lo.Res.Index, o.Res.Index)
		}
	}
}

// After an entry another node must act on, with nothing after it, the
// leader commits a Tick so that the followers learn of the commit.
func TestCommitToldToFollowers(t *testing.T) {
	r := newDevReplica(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := r.RegisterSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// No placer: the spawn names no node, so some other node places it.
	res, err := r.Submit(ctx, &commit.SessionRef{ID: id, Request: 1}, &fsm.Spawn{Spec: fsm.Spec{Command: "true"}, Now: time.Now().UnixNano()})
	if err != nil || res.Err != nil {
		t.Fatalf("spawn: %+v, %v", res, err)
	}
	testwait.For(t, "an entry after the spawn", 10*time.Second, func() bool { return r.LastIndex() > res.Index })
	testwait.For(t, "the Tick applied", 10*time.Second, func() bool { return r.LocalView().Index() > res.Index })
}

func TestMustTell(t *testing.T) {
	r := newDevReplica(t)
	for _, tc := range []struct {
		cmd  fsm.Command
		want bool
	}{
		{&fsm.Spawn{Place: "r1"}, false},
		{&fsm.Spawn{Place: "r2"}, true},
		{&fsm.Spawn{}, true},
		{&fsm.Place{Node: "r1"}, false},
		{&fsm.Place{Node: "r2"}, true},
		{&fsm.Exited{PID: 3}, false},
		{&fsm.Started{PID: 3}, false},
		{&fsm.Signal{Target: 3}, true},
		{&fsm.Tick{}, false},
	} {
		if got := r.mustTell(tc.cmd); got != tc.want {
			t.Errorf("mustTell(%T %+v) = %v, want %v", tc.cmd, tc.cmd, got, tc.want)
		}
	}
}
