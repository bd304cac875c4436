//go:build vproc_unsafe_reads

package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/replica"
	"github.com/vproc/vproc/fsm"
)

// TestUnsafeReadsSkipTheBarrier checks the fault suite's switch: with it
// on, a read on the leader does not wait for the FSM to catch up with the
// commit index, so it can miss an acknowledged write.
func TestUnsafeReadsSkipTheBarrier(t *testing.T) {
	replica.SetUnsafeReads(true)
	t.Cleanup(func() { replica.SetUnsafeReads(false) })
	c := MakeCluster(t, 3)
	l := c.leader()
	release := make(chan struct{})
	var once sync.Once
	hold := func() { <-release }
	l.replica.HoldApply(hold)
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = l.submit(ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()})
	}()
	poll(t, 5*time.Second, func() error {
		if ci, ai := l.raft.CommitIndex(), l.fsm.AppliedIndex(); ci <= ai {
			return fmt.Errorf("commit index %d, FSM applied %d", ci, ai)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := l.consistentView(ctx)
	if err != nil {
		t.Fatalf("consistentView: %v", err)
	}
	if v.Index() >= l.raft.CommitIndex() {
		t.Errorf("unsafe read waited for the commit index %d", v.Index())
	}
	l.replica.HoldApply(nil)
	once.Do(func() { close(release) })
}
