package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// Linearizable reads (Guarantee 6), as rqlite and etcd's ReadIndex do it:
//
//  1. The read runs on the leader, once the first Barrier of its term has
//     completed: every entry of earlier terms is then applied, and the
//     leader's commit index is current. (The agent also commits a Tick
//     right after that barrier, so that the FSM's own applied index moves
//     past the term's no-op and the barrier, which never reach an FSM.)
//  2. It takes raft's CommitIndex: the read index.
//  3. VerifyLeader confirms with a quorum that this node was still the
//     leader after the read index was taken, so no newer leader can have
//     committed anything this read would miss. Concurrent reads share one
//     verification: a read waits for a round that started after it took
//     its read index.
//  4. It waits until the FSM's own applied index (not raft's AppliedIndex,
//     which only means "handed to the FSM") reaches the read index.
//  5. It reads a View.

// consistentView implements core.consistentView.
func (a *Agent) consistentView(ctx context.Context) (*fsm.View, error) {
	if err := a.readBarrier(ctx); err != nil {
		return nil, err
	}
	return a.fsm.View(), nil
}

// localView implements core.localView.
func (a *Agent) localView() *fsm.View { return a.fsm.View() }

// readBarrier returns once a read of the local table is linearizable: it
// is steps 1–4 above.
func (a *Agent) readBarrier(ctx context.Context) error {
	if unsafeReadsOn() {
		// The fault suite's deliberately broken mode: trust the local
		// idea of leadership and read whatever has been applied.
		if !a.isLeader() {
			return commit.ErrNotLeader
		}
		return nil
	}
	readIndex, err := a.readIndex(ctx)
	if err != nil {
		return err
	}
	return a.waitVisible(ctx, readIndex)
}

// readIndex implements core.readIndex: steps 1–3 above. A table that has
// applied the index it returns may be read linearizably, on any node.
func (a *Agent) readIndex(ctx context.Context) (uint64, error) {
	if unsafeReadsOn() {
		if !a.isLeader() {
			return 0, commit.ErrNotLeader
		}
		return a.fsm.View().Index(), nil
	}
	ls, err := a.leadership(ctx)
	if err != nil {
		return 0, err
	}
	select {
	case <-ls.ready:
	case <-ls.ctx.Done():
		return 0, commit.ErrNotLeader
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	readIndex := a.raft.CommitIndex()
	if err := a.verifyLeader(ctx); err != nil {
		return 0, err
	}
	return readIndex, nil
}

// leadership returns the current term's leader state. Raft announces a
// new leadership a moment before the leadership watch starts the term, so
// a node that raft already calls leader waits for it.
func (a *Agent) leadership(ctx context.Context) (*leaderState, error) {
	for {
		if ls := a.leading.Load(); ls != nil {
			return ls, nil
		}
		if !a.isLeader() {
			return nil, commit.ErrNotLeader
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-a.shutdownCh:
			return nil, commit.ErrNotLeader
		case <-time.After(time.Millisecond):
		}
	}
}

// verifyLeader confirms leadership with a quorum, in a round that starts
// after the call.
func (a *Agent) verifyLeader(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case a.verifyCh <- done:
	case <-ctx.Done():
		return ctx.Err()
	case <-a.shutdownCh:
		return commit.ErrNotLeader
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-a.shutdownCh:
		return commit.ErrNotLeader
	}
}

// verifier runs the VerifyLeader rounds: each round answers every read
// that was waiting when it started.
func (a *Agent) verifier() {
	var waiting []chan error
	for {
		waiting = waiting[:0]
		select {
		case ch := <-a.verifyCh:
			waiting = append(waiting, ch)
		case <-a.shutdownCh:
			return
		}
	more:
		for {
			select {
			case ch := <-a.verifyCh:
				waiting = append(waiting, ch)
			default:
				break more
			}
		}
		err := a.raft.VerifyLeader().Error()
		if err != nil {
			if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
				errors.Is(err, raft.ErrRaftShutdown) {
				err = commit.ErrNotLeader
			} else {
				err = fmt.Errorf("%w: verify leader: %v", commit.ErrNotLeader, err)
			}
		}
		for _, ch := range waiting {
			ch <- err
		}
	}
}

// waitVisible blocks until the table shows every entry up to index.
func (a *Agent) waitVisible(ctx context.Context, index uint64) error {
	for {
		ch := a.adapter.waitCh()
		if a.adapter.visible.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-a.shutdownCh:
			return commit.ErrNotLeader
		}
	}
}

// waitApplied implements core.waitApplied: it returns once the table's
// applied index (View.Index) is above index.
func (a *Agent) waitApplied(ctx context.Context, index uint64) error {
	for {
		ch := a.adapter.waitCh()
		if a.fsm.AppliedIndex() > index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-a.shutdownCh:
			return errShutdown
		}
	}
}
