package replica

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

// TestChangesHook checks that Env.Changes hears each applied entry's
// changes at its index, in log order.
func TestChangesHook(t *testing.T) {
	var mu sync.Mutex
	var last uint64
	got := map[uint64][]fsm.Change{}
	r := newDevReplicaEnv(t, Env{Changes: func(index uint64, changes []fsm.Change) {
		mu.Lock()
		defer mu.Unlock()
		if index <= last {
			t.Errorf("changes of index %d after %d", index, last)
		}
		last = index
		got[index] = append([]fsm.Change(nil), changes...) // the slice is reused
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.Submit(ctx, nil, &fsm.Spawn{Spec: fsm.Spec{Command: "true"}, Now: time.Now().UnixNano()})
	if err != nil || res.Err != nil {
		t.Fatalf("spawn: %+v, %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	ch := got[res.Index]
	if len(ch) != 1 || ch[0].Kind != fsm.ChangeProcess || ch[0].OldProc != nil || ch[0].NewProc.PID != res.PID {
		t.Fatalf("changes at the spawn's index %d: %+v", res.Index, ch)
	}
}
