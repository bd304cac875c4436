package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// TestSubmitGroupCommit submits many spawns at once: they share raft
// entries, and each caller still gets the result of its own command, in
// the order it submitted them.
func TestSubmitGroupCommit(t *testing.T) {
	c := MakeCluster(t, 3)
	l := c.leader()
	const workers, each = 32, 20
	startIndex := l.raft.LastIndex()
	type got struct {
		pid   uint64
		index uint64
	}
	results := make([][]got, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		sid := c.session()
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				// Each worker retries in its own session, so a leader
				// change under load costs no spawn twice.
				ref := &commit.SessionRef{ID: sid, Request: uint64(i + 1), AckedBelow: uint64(i + 1)}
				res, err := c.submitIn(ref, &fsm.Spawn{
					Spec: fsm.Spec{Command: "true", Args: []string{strconv.Itoa(w), strconv.Itoa(i)}},
					Now:  time.Now().UnixNano(),
				})
				if err != nil {
					errs <- err
					return
				}
				results[w] = append(results[w], got{res.PID, res.Index})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("submit: %v", err)
	}
	c.waitConverged()
	v := c.leader().localView()
	seen := make(map[uint64]bool)
	for w, rs := range results {
		for i, r := range rs {
			if seen[r.pid] {
				t.Fatalf("PID %d handed out twice", r.pid)
			}
			seen[r.pid] = true
			p, ok := v.Get(r.pid)
			if !ok || p.Spec.Args[0] != strconv.Itoa(w) || p.Spec.Args[1] != strconv.Itoa(i) {
				t.Fatalf("worker %d spawn %d got PID %d, which holds %v", w, i, r.pid, p.Spec.Args)
			}
			if i > 0 && (r.pid <= rs[i-1].pid || r.index < rs[i-1].index) {
				t.Errorf("worker %d: spawn %d got PID %d at %d after PID %d at %d: order lost",
					w, i, r.pid, r.index, rs[i-1].pid, rs[i-1].index)
			}
		}
	}
	entries := c.leader().raft.LastIndex() - startIndex
	t.Logf("%d spawns committed in at most %d raft entries", workers*each, entries)
	if entries >= workers*each {
		t.Errorf("%d spawns took %d raft entries: no group commit", workers*each, entries)
	}
}

func TestSubmitSessionRetryReturnsFirstPID(t *testing.T) {
	c := MakeCluster(t, 3)
	l := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sid, err := l.registerSession(ctx)
	if err != nil || sid == 0 {
		t.Fatalf("registerSession = %d, %v", sid, err)
	}
	ref := &commit.SessionRef{ID: sid, Request: 1}
	cmd := &fsm.Spawn{Spec: fsm.Spec{Command: "true"}, Now: time.Now().UnixNano()}
	first, err := l.submit(ctx, ref, cmd)
	if err != nil || first.Err != nil {
		t.Fatalf("submit: %v %v", err, first)
	}
	before := l.localView().NextPID()
	again, err := l.submit(ctx, ref, cmd)
	if err != nil || again.Err != nil {
		t.Fatalf("retry: %v %v", err, again)
	}
	if again.PID != first.PID || again.Index != first.Index {
		t.Errorf("retry got PID %d at %d, want the first answer PID %d at %d", again.PID, again.Index, first.PID, first.Index)
	}
	if next := l.localView().NextPID(); next != before {
		t.Errorf("retry moved the PID counter from %d to %d: applied twice", before, next)
	}
	// A session the leader does not know is refused, not applied.
	res, err := l.submit(ctx, &commit.SessionRef{ID: sid + 12345, Request: 1}, cmd)
	if err != nil || !errors.Is(res.Err, fsm.ErrSessionExpired) {
		t.Errorf("submit in an unknown session = %v, %v; want ErrSessionExpired", res, err)
	}
}

func TestFollowersRefuseBeforeDispatch(t *testing.T) {
	c := MakeCluster(t, 3)
	c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, f := range c.followers() {
		if _, err := f.submit(ctx, nil, &fsm.Tick{}); !errors.Is(err, commit.ErrNotLeader) {
			t.Errorf("%s: submit = %v, want commit.ErrNotLeader", f.Name(), err)
		}
		if _, err := f.registerSession(ctx); !errors.Is(err, commit.ErrNotLeader) {
			t.Errorf("%s: registerSession = %v, want commit.ErrNotLeader", f.Name(), err)
		}
		if _, err := f.consistentView(ctx); !errors.Is(err, commit.ErrNotLeader) {
			t.Errorf("%s: consistentView = %v, want commit.ErrNotLeader", f.Name(), err)
		}
		if v := f.localView(); v == nil {
			t.Errorf("%s: localView = nil", f.Name())
		}
	}
}

func TestSubmitContextEndsBeforeDispatch(t *testing.T) {
	c := MakeCluster(t, 1)
	l := c.leader()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.submit(ctx, nil, &fsm.Tick{}); !errors.Is(err, context.Canceled) {
		t.Errorf("submit with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestLinearizableReadWaitsForTheFSM holds the leader's state machine
// behind raft's commit index: a consistent read must wait until the FSM
// itself has applied the committed entry.
func TestLinearizableReadWaitsForTheFSM(t *testing.T) {
	c := MakeCluster(t, 3)
	l := c.leader()
	release := make(chan struct{})
	var once sync.Once
	hold := func() { <-release }
	l.replica.HoldApply(hold)
	t.Cleanup(func() { once.Do(func() { close(release) }) })

	done := make(chan *fsm.Result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := l.submit(ctx, nil, &fsm.Spawn{Spec: fsm.Spec{Command: "true", Args: []string{"held"}}, Now: time.Now().UnixNano()})
		if err != nil {
			res = &fsm.Result{Err: err}
		}
		done <- res
	}()
	// The spawn commits; the leader's FSM cannot apply it.
	poll(t, 5*time.Second, func() error {
		if ci, ai := l.raft.CommitIndex(), l.fsm.AppliedIndex(); ci <= ai {
			return fmt.Errorf("commit index %d, FSM applied %d", ci, ai)
		}
		return nil
	})
	commit := l.raft.CommitIndex()
	released := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() {
		close(released)
		l.replica.HoldApply(nil)
		once.Do(func() { close(release) })
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := l.consistentView(ctx)
	if err != nil {
		t.Fatalf("consistentView: %v", err)
	}
	select {
	case <-released:
	default:
		t.Errorf("consistentView returned before the FSM applied the committed entry")
	}
	if v.Index() < commit {
		t.Errorf("view at index %d, want at least the commit index %d", v.Index(), commit)
	}
	res := <-done
	if res.Err != nil {
		t.Fatalf("spawn: %v", res.Err)
	}
	if _, ok := v.Get(res.PID); !ok {
		t.Errorf("view lacks PID %d committed before the read", res.PID)
	}
}

// TestSubmitBatch commits a node's reports as one batch: in order, each
// with its own result, lazy (alone they go at once; they wait for company
// only while an entry is in flight), and refused whole on a follower.
func TestSubmitBatch(t *testing.T) {
	c := MakeCluster(t, 3)
	l := c.leader()
	pid := c.spawnSpec(fsm.Spec{Command: "sleep", Args: []string{"60"}, Node: l.Name()})
	cmds := []fsm.Command{
		&fsm.Started{PID: pid, Incarnation: 1, Node: l.Name(), Now: time.Now().UnixNano()},
		&fsm.Started{PID: pid, Incarnation: 9, Node: l.Name(), Now: time.Now().UnixNano()},
		&fsm.SignalDelivered{ID: 7, PID: pid, Incarnation: 1},
	}
	for _, f := range c.followers() {
		for i, o := range f.submitBatch(context.Background(), nil, cmds) {
			if !errors.Is(o.Err, commit.ErrNotLeader) {
				t.Fatalf("follower %s, command %d: got %+v, %v; want commit.ErrNotLeader", f.Name(), i, o.Res, o.Err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	outs := l.submitBatch(ctx, nil, cmds)
	took := time.Since(start)
	for i, o := range outs {
		if o.Err != nil {
			t.Fatalf("command %d: %v", i, o.Err)
		}
	}
	if outs[0].Res.State != fsm.StateRunning || !errors.Is(outs[1].Res.Err, fsm.ErrStale) || outs[2].Res.Err != nil ||
		outs[0].Res.Index > outs[2].Res.Index {
		t.Fatalf("results: %+v %+v %+v", outs[0].Res, outs[1].Res, outs[2].Res)
	}
	// Alone, lazy proposals go at once.
	if took > 5*time.Second {
		t.Errorf("a lone batch took %v to commit", took)
	}
	if outs := l.submitBatch(ctx, nil, nil); len(outs) != 0 {
		t.Errorf("an empty batch: got %d outcomes", len(outs))
	}
}
