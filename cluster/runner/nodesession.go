package runner

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
)

// nodeSession is the node's own client session, used for the spawns of
// children so that a retry after an unknown outcome never spawns twice
// (Guarantee 9).
type nodeSession struct {
	mu       sync.Mutex // guards the fields
	id       uint64
	next     uint64
	inflight map[uint64]struct{}
}

func (ns *nodeSession) begin(ctx context.Context, out Sender) (commit.SessionRef, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.id == 0 {
		id, err := out.RegisterSession(ctx)
		if err != nil {
			return commit.SessionRef{}, err
		}
		ns.id, ns.next = id, 1
		ns.inflight = make(map[uint64]struct{})
	}
	rid := ns.next
	ns.next++
	ns.inflight[rid] = struct{}{}
	acked := rid
	for id := range ns.inflight {
		acked = min(acked, id)
	}
	return commit.SessionRef{ID: ns.id, Request: rid, AckedBelow: acked}, nil
}

func (ns *nodeSession) end(ref commit.SessionRef, expired bool) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.id != ref.ID {
		return
	}
	delete(ns.inflight, ref.Request)
	if expired {
		ns.id = 0
	}
}

// submit sends cmd in the node session, retrying until it commits or ctx
// ends. A session that expired before the request could have applied is
// replaced, and the request sent again in the new one.
func (ns *nodeSession) submit(ctx context.Context, out Sender, cmd fsm.Command) (*fsm.Result, error) {
	for {
		ref, err := ns.begin(ctx, out)
		if err != nil {
			if !ctxutil.Sleep(ctx, 50*time.Millisecond) {
				return nil, err
			}
			continue
		}
		maybeApplied := false
		for {
			res, err := out.Send(ctx, &ref, cmd)
			if err == nil {
				if errors.Is(res.Err, fsm.ErrSessionExpired) {
					ns.end(ref, true)
					if maybeApplied {
						return nil, res.Err
					}
					break // a new session, and send again
				}
				ns.end(ref, false)
				return res, nil
			}
			if !errors.Is(err, commit.ErrNotLeader) && !errors.Is(err, commit.ErrNoLeader) {
				maybeApplied = true
			}
			if !ctxutil.Sleep(ctx, 50*time.Millisecond) {
				ns.end(ref, false)
				return nil, err
			}
		}
	}
}
