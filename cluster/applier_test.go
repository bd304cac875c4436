package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// TestShutdownWithEntriesQueuedForTheFSM stops an agent while committed
// entries wait for its state machine. Raft's state machine goroutine may
// return without answering them (hashicorp/raft#498); the agent must still
// stop, and every submitter must get an answer: applied, or an unknown
// outcome. Each round's drop is a coin toss inside raft, so the scenario
// runs several times.
func TestShutdownWithEntriesQueuedForTheFSM(t *testing.T) {
	for round := range 8 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			c := MakeCluster(t, 1)
			a := c.leader()
			release := make(chan struct{})
			var once sync.Once
			hold := func() { <-release }
			a.replica.HoldApply(hold)
			t.Cleanup(func() { once.Do(func() { close(release) }) })

			// Entries commit behind the held one.
			const n = 6
			answers := make(chan error, n)
			for range n {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					_, err := a.submit(ctx, nil, &fsm.Tick{})
					answers <- err
				}()
			}
			applied := a.fsm.AppliedIndex()
			poll(t, 5*time.Second, func() error {
				if ci := a.raft.CommitIndex(); ci < applied+2 {
					return fmt.Errorf("commit index %d, FSM applied %d", ci, applied)
				}
				return nil
			})

			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				a.crash()
			}()
			poll(t, 5*time.Second, func() error {
				if s := a.raft.State(); s != raft.Shutdown {
					return fmt.Errorf("raft is %v", s)
				}
				return nil
			})
			once.Do(func() { close(release) })

			select {
			case <-stopped:
			case <-time.After(20 * time.Second):
				t.Fatal("the agent did not stop: a submission waits on an entry raft never answers")
			}
			for range n {
				select {
				case err := <-answers:
					if err != nil && !errors.Is(err, commit.ErrUnknownOutcome) && !errors.Is(err, commit.ErrNotLeader) {
						t.Errorf("submit: %v, want success, an unknown outcome or not leader", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("a submission was never answered")
				}
			}
		})
	}
}
