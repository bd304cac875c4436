package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/vproc/vproc/cluster/api"
)

// Merged spawns. Concurrent Spawn calls on one Client share HTTP requests:
// a call that finds fewer than spawnSenders merged requests in flight sends
// at once, with whatever other calls are waiting; the others wait, and when
// a request returns, its sender hands the calls that queued meanwhile to
// one of them, which sends them as the next request (POST /v1/spawn/batch).
// A lone call is sent as an ordinary POST /v1/spawn, so a single caller
// pays nothing for merging. No goroutine is started: the callers send.
//
// Each spawn keeps its own request id of the session, so Guarantee 9 holds
// per spawn: a merged request is retried with the same ids, and an item
// the server answered with not_leader or unknown_outcome is retried, alone
// or in the next attempt, with its id; the others keep their answers.

// spawnSenders bounds the merged spawn requests one Client has in flight.
// More than one keeps the leader's group commit fed while an answer
// travels back.
const spawnSenders = 4

// maxMergedBytes bounds the estimated body of a merged request, well below
// api.MaxBodyBytes.
const maxMergedBytes = api.MaxBodyBytes / 2

// spawnCall is one Spawn waiting for its merged request.
type spawnCall struct {
	req api.SpawnRequest
	// lead receives the batch this call's goroutine must send (cap 1);
	// sent under merger.mu when the call is taken first into a batch.
	lead chan []*spawnCall
	// done is closed once res and err are set, by the batch's sender.
	done chan struct{}
	res  api.SpawnResponse
	err  error

	taken bool // guarded by merger.mu: in a batch, maybe sent

	// Owned by the batch's sender.
	rid   uint64 // request id in the current session
	maybe bool   // an attempt may have applied it
	last  error  // the last attempt's error for it
}

func (sc *spawnCall) answer(res api.SpawnResponse, err error) {
	sc.res, sc.err = res, err
	close(sc.done)
}

// merger queues Spawn calls for merged requests.
type merger struct {
	mu      sync.Mutex
	pending []*spawnCall // guarded by mu; not yet in a batch, oldest first
	senders int          // guarded by mu; batches in flight
}

// takeLocked removes the next batch from pending: up to max calls and
// maxMergedBytes.
func (m *merger) takeLocked(max int) []*spawnCall {
	n, size := 0, 0
	for n < len(m.pending) && n < max && (n == 0 || size+spawnSize(&m.pending[n].req) <= maxMergedBytes) {
		size += spawnSize(&m.pending[n].req)
		m.pending[n].taken = true
		n++
	}
	batch := append([]*spawnCall(nil), m.pending[:n]...)
	rest := copy(m.pending, m.pending[n:])
	clear(m.pending[rest:])
	m.pending = m.pending[:rest]
	return batch
}

// remove takes sc out of pending, unless it is already in a batch.
func (m *merger) remove(sc *spawnCall) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sc.taken {
		return false
	}
	for i, p := range m.pending {
		if p == sc {
			m.pending = append(m.pending[:i], m.pending[i+1:]...)
			break
		}
	}
	return true
}

// spawnSize estimates the JSON size of a spawn request.
func spawnSize(r *api.SpawnRequest) int {
	n := 128 + len(r.Command) + len(r.Cwd) + len(r.Restart) + len(r.Node) + len(r.Owner)
	for _, l := range [][]string{r.Args, r.Env, r.Limits, r.Constraints, r.Uses} {
		for _, s := range l {
			n += len(s) + 8 // quotes, comma, escapes of a few characters
		}
	}
	return n
}

// spawnMerged is Spawn with merging (Config.MaxSpawnBatch above 1).
func (c *Client) spawnMerged(ctx context.Context, req api.SpawnRequest) (api.SpawnResponse, error) {
	if err := ctx.Err(); err != nil {
		return api.SpawnResponse{}, err // nothing was sent
	}
	sc := &spawnCall{req: req, lead: make(chan []*spawnCall, 1), done: make(chan struct{})}
	m := &c.spawns
	m.mu.Lock()
	m.pending = append(m.pending, sc)
	var batch []*spawnCall
	if m.senders < spawnSenders {
		m.senders++
		batch = m.takeLocked(c.maxSpawnBatch())
	}
	m.mu.Unlock()
	if batch != nil {
		c.sendBatch(ctx, sc, batch)
	}
	for {
		select {
		case <-sc.done:
			return sc.res, sc.err
		case b := <-sc.lead:
			c.sendBatch(ctx, sc, b)
		case <-ctx.Done():
			if m.remove(sc) {
				return api.SpawnResponse{}, ctx.Err() // never sent
			}
			// In a batch. If it is this goroutine's to send, it is sent:
			// the other calls in it depend on that.
			select {
			case b := <-sc.lead:
				c.sendBatch(ctx, sc, b)
				<-sc.done
				return sc.res, sc.err
			case <-sc.done:
				return sc.res, sc.err
			default:
			}
			return api.SpawnResponse{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
		}
	}
}

// sendBatch sends batch on behalf of own's caller, answers every call in
// it, and hands the calls that queued meanwhile to the first of them,
// which sends them next.
func (c *Client) sendBatch(ctx context.Context, own *spawnCall, batch []*spawnCall) {
	if len(batch) > 1 || batch[0] != own {
		// The batch carries other callers' spawns: it outlives this
		// caller's context, bounded by the attempt timeout and the
		// retries.
		ctx = context.WithoutCancel(ctx)
	}
	if len(batch) == 1 {
		sc := batch[0]
		var out api.SpawnResponse
		err := c.write(ctx, &request{method: http.MethodPost, path: "/v1/spawn", in: sc.req, out: &out})
		sc.answer(out, err)
	} else {
		c.spawnBatch(ctx, batch)
	}
	m := &c.spawns
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 {
		m.senders--
		return
	}
	next := m.takeLocked(c.maxSpawnBatch())
	next[0].lead <- next
}

// spawnBatch sends calls as merged requests until each has its answer.
// Like write, it sends the calls once more in a new session when their
// session had expired before any attempt could have applied them.
func (c *Client) spawnBatch(ctx context.Context, calls []*spawnCall) {
	for renewed := false; len(calls) > 0; renewed = true {
		s, err := c.session(ctx)
		if err != nil {
			for _, sc := range calls {
				sc.answer(api.SpawnResponse{}, err)
			}
			return
		}
		for _, sc := range calls {
			sc.rid, sc.maybe, sc.last = s.begin(), false, nil
		}
		expired := c.sendItems(ctx, s, calls)
		for _, sc := range calls {
			s.end(sc.rid)
		}
		if len(expired) > 0 {
			c.forget(s)
		}
		calls = calls[:0:0]
		for _, sc := range expired {
			if !sc.maybe && !renewed {
				calls = append(calls, sc)
				continue
			}
			sc.answer(api.SpawnResponse{}, sc.last)
		}
	}
}

// sendItems sends calls in session s, retrying what needs it, and answers
// each call but those whose session expired, which it returns.
func (c *Client) sendItems(ctx context.Context, s *session, calls []*spawnCall) (expired []*spawnCall) {
	rt := retrier{c: c}
	for len(calls) > 0 {
		body := api.SpawnBatchRequest{Items: make([]api.SpawnBatchItem, len(calls))}
		for i, sc := range calls {
			body.Items[i] = api.SpawnBatchItem{Request: sc.rid, Spawn: sc.req}
		}
		var out api.SpawnBatchResponse
		err := c.call(ctx, &request{method: http.MethodPost, path: "/v1/spawn/batch", in: &body, out: &out},
			&sessionRef{id: s.id, acked: s.floor()})
		if err == nil && len(out.Results) != len(calls) {
			err = &decodeError{fmt.Errorf("%d results for %d spawns", len(out.Results), len(calls))}
		}
		var retry []*spawnCall
		kind := failRetry
		if err != nil {
			kind = classify(ctx, err)
			for _, sc := range calls {
				sc.last = err
				sc.maybe = sc.maybe || kind == failUnknown || kind == failFinal && codeOf(err) == ""
			}
			if kind == failFinal {
				if codeOf(err) == api.CodeSessionExpired {
					return append(expired, calls...)
				}
				for _, sc := range calls {
					sc.answer(api.SpawnResponse{}, outcome(sc))
				}
				return expired
			}
			retry = calls
		} else {
			for i, r := range out.Results {
				sc := calls[i]
				if r.Error == nil {
					sc.answer(api.SpawnResponse{PID: r.PID, Index: r.Index}, nil)
					continue
				}
				st := r.Status
				if st == 0 {
					st = http.StatusInternalServerError
				}
				sc.last = &StatusError{StatusCode: st, Err: r.Error}
				switch k := classify(ctx, sc.last); {
				case k == failFinal && r.Error.Code == api.CodeSessionExpired:
					expired = append(expired, sc)
				case k == failFinal:
					sc.answer(api.SpawnResponse{}, outcome(sc))
				default:
					if k == failUnknown {
						sc.maybe, kind = true, failUnknown
					}
					retry = append(retry, sc)
				}
			}
		}
		if len(retry) > 0 && !rt.again(ctx, kind) {
			for _, sc := range retry {
				sc.answer(api.SpawnResponse{}, outcome(sc))
			}
			return expired
		}
		calls = retry
	}
	return expired
}

// outcome is the error a call ends with: its last error, which matches
// ErrUnknownOutcome when an attempt may have applied it.
func outcome(sc *spawnCall) error {
	if sc.maybe && !errors.Is(sc.last, ErrUnknownOutcome) {
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, sc.last)
	}
	return sc.last
}
