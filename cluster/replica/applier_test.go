package replica

import (
	"context"
	"errors"
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

// A node's reports wait for company: held while nothing else comes, they
// ride with the next proposal that is not lazy, in one entry.
func TestLazyBatchRidesWithTheNextProposal(t *testing.T) {
	r := newDevReplicaWith(t, lazyForever)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 3 {
		later := make(chan []commit.Outcome, 1)
		go func() { later <- r.SubmitBatch(ctx, nil, reports(5)) }()
		testwait.For(t, "the reports held", 10*time.Second, func() bool { return r.app.holding.Load() == 5 })
		res, err := r.Submit(ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()})
		if err != nil {
			t.Fatalf("round %d: the proposal after the reports: %v", round, err)
		}
		outs := <-later
		for i, o := range outs {
			if o.Err != nil || o.Res == nil {
				t.Fatalf("round %d, report %d: %+v; want a result", round, i, o)
			}
			if o.Res.Index != res.Index {
				t.Errorf("round %d: report %d in entry %d, the next proposal in %d; want one entry", round, i, o.Res.Index, res.Index)
			}
		}
	}
}

// Reports with no company go once lazyDelay has passed, not before.
func TestLazyBatchGoesAfterLazyDelay(t *testing.T) {
	const delay = 50 * time.Millisecond
	r := newDevReplicaWith(t, func(r *Replica) { r.app.lazyDelay = delay })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	for i, o := range r.SubmitBatch(ctx, nil, reports(3)) {
		if o.Err != nil || o.Res == nil {
			t.Fatalf("report %d: %+v; want a result", i, o)
		}
	}
	if took := time.Since(start); took < delay {
		t.Errorf("reports alone committed after %v, before lazyDelay %v", took, delay)
	}
}

// The report of an exit a client awaits goes at once, whether the client
// began to wait before the report came or while it was held.
func TestAwaitedExitGoesAtOnce(t *testing.T) {
	r := newDevReplicaWith(t, lazyForever)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exited := func(pid uint64) []fsm.Command {
		return []fsm.Command{&fsm.Tick{Now: time.Now().UnixNano()}, &fsm.Exited{PID: pid, Incarnation: 1, Node: "r1"}}
	}
	check := func(what string, outs []commit.Outcome) {
		t.Helper()
		for i, o := range outs {
			if o.Err != nil || o.Res == nil {
				t.Fatalf("%s, report %d: %+v; want a result before the deadline", what, i, o)
			}
		}
	}

	release := r.Await(7)
	check("awaited before", r.SubmitBatch(ctx, nil, exited(7)))
	release()

	later := make(chan []commit.Outcome, 1)
	go func() { later <- r.SubmitBatch(ctx, nil, exited(8)) }()
	testwait.For(t, "the reports held", 10*time.Second, func() bool { return r.app.holding.Load() == 2 })
	release = r.Await(8)
	defer release()
	check("awaited while held", <-later)
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

// An exit counts as reported for its node from the moment it is proposed
// until it is answered, and no longer when its caller gives up on a report
// never dispatched.
func TestExitsReported(t *testing.T) {
	r := newDevReplicaWith(t, lazyForever)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exits := []fsm.Command{&fsm.Exited{PID: 5, Incarnation: 1, Node: "n1"}, &fsm.Exited{PID: 6, Incarnation: 1, Node: "n1"}}
	later := make(chan []commit.Outcome, 1)
	go func() { later <- r.SubmitBatch(ctx, nil, exits) }()
	testwait.For(t, "the reports held", 10*time.Second, func() bool { return r.app.holding.Load() == 2 })
	if got := r.ExitsReported("n1"); got != 2 {
		t.Errorf("held: ExitsReported(n1) = %d, want 2", got)
	}
	if got := r.ExitsReported("n2"); got != 0 {
		t.Errorf("ExitsReported(n2) = %d, want 0", got)
	}
	if _, err := r.Submit(ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	for i, o := range <-later {
		if o.Err != nil {
			t.Fatalf("report %d: %v", i, o.Err)
		}
	}
	if got := r.ExitsReported("n1"); got != 0 {
		t.Errorf("answered: ExitsReported(n1) = %d, want 0", got)
	}

	// A batch whose caller gives up before the batcher takes it.
	hold := make(chan struct{})
	r.HoldApply(func() { <-hold })
	first := make(chan error, 1)
	go func() {
		_, err := r.Submit(ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()})
		first <- err
	}()
	testwait.For(t, "an entry in flight", 10*time.Second, func() bool { return r.app.busy.Load() == 1 })
	// The batcher waits for the completer, which waits for the held
	// apply: what is queued now stays queued until the caller gives up.
	second := make(chan error, 1)
	go func() {
		_, err := r.Submit(ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()})
		second <- err
	}()
	testwait.For(t, "a second entry handed over", 10*time.Second, func() bool { return r.app.busy.Load() == 2 })
	gaveUp, stop := context.WithCancel(ctx)
	done := make(chan []commit.Outcome, 1)
	go func() { done <- r.SubmitBatch(gaveUp, nil, exits[:1]) }()
	testwait.For(t, "the report counted", 10*time.Second, func() bool { return r.ExitsReported("n1") == 1 })
	stop()
	if o := <-done; !errors.Is(o[0].Err, context.Canceled) {
		t.Errorf("abandoned report: %v, want context.Canceled", o[0].Err)
	}
	if got := r.ExitsReported("n1"); got != 0 {
		t.Errorf("abandoned: ExitsReported(n1) = %d, want 0", got)
	}
	r.HoldApply(nil)
	close(hold)
	for _, ch := range []chan error{first, second} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
}

// TestCoversKnownFollowsNewVersions: the remembered answer holds only for
// the versions it was given; a new Versions value is looked at again.
func TestCoversKnownFollowsNewVersions(t *testing.T) {
	r := &Replica{known: fsm.Known()}
	older := func() fsm.Versions {
		v := fsm.Known().Clone()
		for typ := range v.Commands {
			v.Commands[typ] = 0 // this voter knows the type at no version
			break
		}
		return v
	}
	for i, c := range []struct {
		w    fsm.Versions
		want bool
	}{{fsm.Known(), true}, {older(), false}, {older(), false}, {fsm.Known(), true}, {older(), false}} {
		if got := r.coversKnown(c.w); got != c.want {
			t.Errorf("step %d: covers %v, want %v", i, got, c.want)
		}
	}
}
