package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vproc/vproc/cluster/api"
)

// batchFake serves /v1/spawn and /v1/spawn/batch, handing out PIDs, and
// records every request id it was sent (per item for batches).
type batchFake struct {
	*fakeAPI
	gate chan struct{} // lone spawns wait on it while it is open

	mu      sync.Mutex
	rids    []uint64   // guarded by mu; every request id sent, in order
	batches [][]uint64 // guarded by mu; the request ids of each batch
	// item, if set, answers one item instead of giving it a PID.
	item func(attempt int, rid uint64) *api.SpawnBatchResult

	pid atomic.Uint64
}

func newBatchFake(t *testing.T) *batchFake {
	f := &batchFake{fakeAPI: newFakeAPI(t), gate: make(chan struct{})}
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		<-f.gate
		f.mu.Lock()
		f.rids = append(f.rids, header(r, api.HeaderRequest))
		f.mu.Unlock()
		writeJSON(w, 200, api.SpawnResponse{PID: f.pid.Add(1), Index: 1})
	})
	f.mux.HandleFunc("POST /v1/spawn/batch", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(api.HeaderRequest) != "" || header(r, api.HeaderSession) == 0 {
			writeErr(w, 400, api.CodeBadRequest)
			return
		}
		var req api.SpawnBatchRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeErr(w, 400, api.CodeBadRequest)
			return
		}
		out := api.SpawnBatchResponse{Results: make([]api.SpawnBatchResult, len(req.Items))}
		f.mu.Lock()
		attempt := len(f.batches)
		var ids []uint64
		for i, it := range req.Items {
			ids = append(ids, it.Request)
			f.rids = append(f.rids, it.Request)
			if f.item != nil {
				if res := f.item(attempt, it.Request); res != nil {
					out.Results[i] = *res
					continue
				}
			}
			out.Results[i] = api.SpawnBatchResult{PID: 1000 + it.Request, Index: 1}
		}
		f.batches = append(f.batches, ids)
		f.mu.Unlock()
		writeJSON(w, 200, out)
	})
	return f
}

// spawnAll starts n concurrent spawns while the lone requests are held at
// the gate, waits until the rest are queued behind them, opens the gate and
// returns each caller's answer.
func spawnAll(t *testing.T, f *batchFake, c *Client, n int) ([]api.SpawnResponse, []error) {
	t.Helper()
	res, errs := make([]api.SpawnResponse, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { res[i], errs[i] = c.Spawn(context.Background(), api.SpawnRequest{Command: "true"}) })
	}
	waitFor(t, func() bool {
		c.spawns.mu.Lock()
		defer c.spawns.mu.Unlock()
		return c.spawns.senders == spawnSenders && len(c.spawns.pending) == n-spawnSenders
	})
	close(f.gate)
	wg.Wait()
	return res, errs
}

func TestSpawnsMerged(t *testing.T) {
	f := newBatchFake(t)
	c := f.client(t)
	const n = 40
	res, errs := spawnAll(t, f, c, n)
	pids := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil || res[i].PID == 0 || pids[res[i].PID] {
			t.Fatalf("caller %d: got %+v, %v; want a PID of its own", i, res[i], errs[i])
		}
		pids[res[i].PID] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) == 0 {
		t.Fatal("no merged request was sent")
	}
	seen := map[uint64]bool{}
	for _, rid := range f.rids {
		if rid == 0 || seen[rid] {
			t.Errorf("request id %d sent twice or zero", rid)
		}
		seen[rid] = true
	}
	if len(seen) != n {
		t.Errorf("got %d request ids, want %d", len(seen), n)
	}
	if s := f.sessions.Load(); s != 1 {
		t.Errorf("got %d sessions, want 1", s)
	}
	c.spawns.mu.Lock()
	defer c.spawns.mu.Unlock()
	if c.spawns.senders != 0 || len(c.spawns.pending) != 0 {
		t.Errorf("after the calls: %d senders, %d pending; want none", c.spawns.senders, len(c.spawns.pending))
	}
}

func TestSpawnsMergedRetryPerItem(t *testing.T) {
	f := newBatchFake(t)
	var first atomic.Uint64 // the first request id of the first batch
	f.item = func(attempt int, rid uint64) *api.SpawnBatchResult {
		switch {
		case attempt == 0 && first.CompareAndSwap(0, rid):
			// Maybe applied: retried with the same id.
			return &api.SpawnBatchResult{Status: 503, Error: &api.Error{Code: api.CodeUnknownOutcome, Message: "lost leadership"}}
		case attempt == 0 && rid == first.Load()+1:
			return &api.SpawnBatchResult{Status: 400, Error: &api.Error{Code: api.CodeUnknownProgram, Message: "no such program"}}
		}
		return nil
	}
	c := f.client(t)
	const n = 12
	res, errs := spawnAll(t, f, c, n)
	var unknown int
	for i := range n {
		switch {
		case errors.Is(errs[i], ErrUnknownProgram):
			unknown++
			var se *StatusError
			if !errors.As(errs[i], &se) || se.StatusCode != 400 {
				t.Errorf("caller %d: got %v, want a 400 StatusError", i, errs[i])
			}
		case errs[i] != nil || res[i].PID == 0:
			t.Errorf("caller %d: got %+v, %v", i, res[i], errs[i])
		}
	}
	if unknown != 1 {
		t.Errorf("got %d callers with unknown_program, want 1", unknown)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The item with an unknown outcome went again, alone, with its id;
	// the others kept their first answers.
	var retried int
	for _, b := range f.batches[1:] {
		for _, rid := range b {
			if rid == first.Load() {
				retried++
			}
		}
	}
	if retried != 1 {
		t.Errorf("request id %d sent again %d times, want 1; batches %v", first.Load(), retried, f.batches)
	}
}

func TestSpawnMergedContext(t *testing.T) {
	// A call whose context has ended sends nothing.
	f := newBatchFake(t)
	c := f.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Spawn(ctx, api.SpawnRequest{Command: "true"}); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if len(f.callsTo("/v1/session")) != 0 {
		t.Errorf("a canceled spawn registered a session")
	}
}

func TestConfigMaxSpawnBatch(t *testing.T) {
	for _, n := range []int{-1, api.MaxSpawnBatch + 1} {
		cfg := DefaultConfig()
		cfg.MaxSpawnBatch = n
		if cfg.Validate() == nil {
			t.Errorf("MaxSpawnBatch %d: validated", n)
		}
	}
}
