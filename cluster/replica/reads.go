package replica

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

// ConsistentView returns a view of the table for a linearizable read:
// steps 1–5 above. On a follower: commit.ErrNotLeader.
func (r *Replica) ConsistentView(ctx context.Context) (*fsm.View, error) {
	if err := r.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	return r.fsm.View(), nil
}

// LocalView returns this node's own view of the table, possibly stale.
func (r *Replica) LocalView() *fsm.View { return r.fsm.View() }

// ReadBarrier returns once a read of the local table is linearizable: it
// is steps 1–4 above.
func (r *Replica) ReadBarrier(ctx context.Context) error {
	if unsafeReadsOn() {
		// The fault suite's deliberately broken mode: trust the local
		// idea of leadership and read whatever has been applied.
		if !r.IsLeader() {
			return commit.ErrNotLeader
		}
		return nil
	}
	readIndex, err := r.ReadIndex(ctx)
	if err != nil {
		return err
	}
	return r.waitVisible(ctx, readIndex)
}

// ReadIndex runs steps 1–3 above. A table that has
// applied the index it returns may be read linearizably, on any node.
func (r *Replica) ReadIndex(ctx context.Context) (uint64, error) {
	if unsafeReadsOn() {
		if !r.IsLeader() {
			return 0, commit.ErrNotLeader
		}
		return r.fsm.View().Index(), nil
	}
	ready, done, err := r.leadership(ctx)
	if err != nil {
		return 0, err
	}
	select {
	case <-ready:
	case <-done:
		return 0, commit.ErrNotLeader
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	readIndex := r.raft.CommitIndex()
	if err := r.VerifyLeader(ctx); err != nil {
		return 0, err
	}
	return readIndex, nil
}

// leadership returns the current term's ready and done channels
// (Leadership.Term). Raft announces a new leadership a moment before the
// leadership watch starts the term, so a node that raft already calls
// leader waits for it.
func (r *Replica) leadership(ctx context.Context) (ready, done <-chan struct{}, err error) {
	for {
		if ready, done, ok := r.lead.Term(); ok {
			return ready, done, nil
		}
		if !r.IsLeader() {
			return nil, nil, commit.ErrNotLeader
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-r.shutdownCh:
			return nil, nil, commit.ErrNotLeader
		case <-time.After(time.Millisecond):
		}
	}
}

// VerifyLeader confirms leadership with a quorum, in a round that starts
// after the call.
func (r *Replica) VerifyLeader(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case r.verifyCh <- done:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.shutdownCh:
		return commit.ErrNotLeader
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-r.shutdownCh:
		return commit.ErrNotLeader
	}
}

// verifier runs the VerifyLeader rounds: each round answers every read
// that was waiting when it started.
func (r *Replica) verifier() {
	var waiting []chan error
	for {
		waiting = waiting[:0]
		select {
		case ch := <-r.verifyCh:
			waiting = append(waiting, ch)
		case <-r.shutdownCh:
			return
		}
	more:
		for {
			select {
			case ch := <-r.verifyCh:
				waiting = append(waiting, ch)
			default:
				break more
			}
		}
		// raft queues the round in a buffered channel, and a leader loop
		// that ends first never answers it: Unblock lets raft's shutdown
		// answer it instead.
		f := r.raft.VerifyLeader()
		r.Unblock(f)
		err := f.Error()
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
func (r *Replica) waitVisible(ctx context.Context, index uint64) error {
	for {
		ch := r.adapter.waitCh()
		if r.adapter.visible.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.shutdownCh:
			return commit.ErrNotLeader
		}
	}
}

// WaitApplied returns once the table's
// applied index (View.Index) is above index.
func (r *Replica) WaitApplied(ctx context.Context, index uint64) error {
	for {
		ch := r.adapter.waitCh()
		if r.fsm.AppliedIndex() > index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.shutdownCh:
			return ErrShutdown
		}
	}
}
