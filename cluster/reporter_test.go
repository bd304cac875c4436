package cluster

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/fsm"
)

func TestInternalRouteTakesBatches(t *testing.T) {
	c := newFakeCore(t, "n1")
	h := newHarness(t, c, false)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	h.waitState(pid, fsm.StatePlaced)
	post := func(cmds []fsm.Command, hdr map[string]string) resp {
		t.Helper()
		body := fsm.Encode(&fsm.Batch{Commands: cmds})
		if hdr == nil {
			hdr = map[string]string{}
		}
		hdr[api.HeaderNode] = "n1"
		hdr["Content-Type"] = "application/octet-stream"
		return do(t, "POST", h.url+"/v1/internal/command", body, hdr)
	}

	// A command another node may not send refuses the whole batch.
	r := post([]fsm.Command{
		&fsm.Started{PID: pid, Incarnation: 1, Node: "n1"},
		&fsm.Exited{PID: pid, Incarnation: 1, Node: "n2", Status: fsm.Status{Exited: true}},
	}, nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("batch with another node's event: got %d %s, want 403", r.status, r.body)
	}
	if p, _ := h.proc(pid); p.State != fsm.StatePlaced {
		t.Fatalf("a refused batch changed the table: %s", p.State)
	}
	// Batches travel outside sessions.
	r = post(lifecycle(pid), map[string]string{api.HeaderSession: "1", api.HeaderRequest: "1"})
	if r.status != http.StatusBadRequest {
		t.Fatalf("batch in a session: got %d %s, want 400", r.status, r.body)
	}

	// One result per command, in order; a domain error is a result.
	r = post([]fsm.Command{
		&fsm.Started{PID: pid, Incarnation: 1, Node: "n1"},
		&fsm.Started{PID: pid, Incarnation: 2, Node: "n1"},
		&fsm.Exited{PID: pid, Incarnation: 1, Node: "n1", Status: fsm.Status{Exited: true, Code: 3}},
	}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("batch: got %d %s", r.status, r.body)
	}
	var out api.CommandResults
	r.decode(t, &out)
	if len(out.Results) != 3 {
		t.Fatalf("got %d results, want 3: %s", len(out.Results), r.body)
	}
	got := out.Results
	if got[0].State != string(fsm.StateRunning) || got[0].Code != "" ||
		got[1].Code != fsm.Code(fsm.ErrStale) ||
		got[2].State != string(fsm.StateExited) || got[2].Failure != "" ||
		out.Index != got[2].Index || !(got[0].Index < got[2].Index) {
		t.Fatalf("results: %+v (index %d)", got, out.Index)
	}
	if p, _ := h.proc(pid); p.State != fsm.StateExited || p.Status.Code != 3 || p.StartedAt == 0 {
		t.Fatalf("after the batch: %+v", p)
	}
}

func TestFollowerSendsReportsInBatches(t *testing.T) {
	// A follower's reports reach the leader as batches, chunked at
	// httpapi.MaxReportBatch commands: one request per chunk, every command
	// answered in order.
	c := newFakeCore(t, "n1")
	leader := newHarness(t, c, false)
	var requests atomic.Int64
	count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/internal/command" {
			requests.Add(1)
		}
		leader.s.handler().ServeHTTP(w, r)
	})
	counted := httptest.NewServer(count)
	t.Cleanup(counted.Close)
	follower := &fakeFollower{fakeCore: c, leaderURL: counted.URL}
	s, err := newServing(follower, Config{Name: "n1", Dev: true, CPUs: 1, FenceTimeout: 2 * time.Second, LostTimeout: 4 * time.Second}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.stop(ctx)
	})
	n := 2*httpapi.MaxReportBatch + 10
	cmds := make([]fsm.Command, n)
	for i := range cmds {
		cmds[i] = &fsm.SignalDelivered{ID: uint64(i + 1), PID: 99, Incarnation: 1}
	}
	outs, err := s.client.SendBatch(context.Background(), cmds)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != n {
		t.Fatalf("got %d outcomes for %d commands", len(outs), n)
	}
	last := uint64(0)
	for i, o := range outs {
		if o.Err != nil || o.Res == nil || o.Res.Index < last {
			t.Fatalf("outcome %d: %+v %v (after index %d)", i, o.Res, o.Err, last)
		}
		last = o.Res.Index
	}
	if got := requests.Load(); got != 3 {
		t.Errorf("%d commands took %d requests, want 3", n, got)
	}
	if got := len(c.commands(fsm.TypeSignalDelivered)); got != n {
		t.Errorf("the leader applied %d acknowledgements, want %d", got, n)
	}
}

// lifecycle is two reports about each PID: started, then stopped.
func lifecycle(pids ...uint64) []fsm.Command {
	var cmds []fsm.Command
	for _, pid := range pids {
		cmds = append(cmds,
			&fsm.Started{PID: pid, Incarnation: 1, Node: "n1"},
			&fsm.Stopped{PID: pid, Incarnation: 1, Node: "n1", Signal: 19})
	}
	return cmds
}
