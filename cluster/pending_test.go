package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/internal/testwait"
)

// TestPendingWork: a spawn no node can ever take is refused; one that
// waits says why in ps; a signal to it acts as on a process that has not
// run: TERM ends it, exited by SIGTERM, STOP holds it and CONT releases
// it.
func TestPendingWork(t *testing.T) {
	c := MakeCluster(t, 1, func(i int, c *Config) {
		c.CPUs = 1
		c.Scheduler.ProcsPerSlot = 1
		c.Labels = map[string]string{"zone": "a"}
	})
	cl := clientOf(t, c.agents[0])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for _, req := range []api.SpawnRequest{
		{Command: "true", Node: "nosuchnode"},
		{Command: "true", Constraints: []string{"zone=b"}},
		{Command: "true", Node: c.agents[0].Name(), Constraints: []string{"zone=b"}},
	} {
		_, err := cl.Spawn(ctx, req)
		var se *client.StatusError
		if !errors.As(err, &se) || se.StatusCode != 400 || se.Err.Code != api.CodeUnplaceable {
			t.Fatalf("spawn %+v: got %v, want 400 %s", req, err, api.CodeUnplaceable)
		}
	}
	ok, err := cl.Spawn(ctx, api.SpawnRequest{Command: "true", Constraints: []string{"zone=a"}})
	if err != nil {
		t.Fatalf("spawn with a constraint the node meets: %v", err)
	}
	// It must end before the place is filled: a process that frees the
	// place later would let the waiting one run.
	if _, err := cl.Wait(ctx, ok.PID); err != nil {
		t.Fatal(err)
	}

	// The node has one place: a sleep fills it, and the next one waits
	// for capacity as long as the first runs.
	var pid uint64
	reason := func() (string, string) {
		p, err := cl.Get(ctx, pid, client.ReadOpts{})
		if err != nil {
			t.Fatal(err)
		}
		return p.State, p.PendingReason
	}
	first, err := cl.Spawn(ctx, api.SpawnRequest{Command: "sleep", Args: []string{"600"}})
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the first sleep running", 30*time.Second, func() bool {
		p, err := cl.Get(ctx, first.PID, client.ReadOpts{})
		return err == nil && p.State == "running"
	})
	second, err := cl.Spawn(ctx, api.SpawnRequest{Command: "sleep", Args: []string{"600"}})
	if err != nil {
		t.Fatal(err)
	}
	pid = second.PID
	if st, r := reason(); st != "pending" || !strings.Contains(r, "waiting for capacity on") {
		t.Fatalf("sleep beyond capacity: state %s reason %q, want pending, waiting for capacity", st, r)
	}
	list, err := cl.List(ctx, client.ListOpts{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range list.Processes {
		found = found || (p.PID == pid && p.PendingReason != "")
	}
	if !found {
		t.Fatalf("ps: pid %d without its pending_reason in %+v", pid, list.Processes)
	}

	// STOP holds it, CONT releases it.
	if _, err := cl.Kill(ctx, api.KillRequest{Targets: []int64{int64(pid)}, Signal: 19}); err != nil {
		t.Fatal(err)
	}
	if st, r := reason(); st != "pending" || !strings.Contains(r, "held until SIGCONT") {
		t.Fatalf("after SIGSTOP: state %s reason %q, want pending and held", st, r)
	}
	if _, err := cl.Kill(ctx, api.KillRequest{Targets: []int64{int64(pid)}, Signal: 18}); err != nil {
		t.Fatal(err)
	}
	if st, r := reason(); st != "pending" || !strings.Contains(r, "waiting for capacity") {
		t.Fatalf("after SIGCONT: state %s reason %q, want pending for capacity", st, r)
	}

	// TERM ends it without running it; wait answers at once.
	if _, err := cl.Kill(ctx, api.KillRequest{Targets: []int64{int64(pid)}, Signal: 15}); err != nil {
		t.Fatal(err)
	}
	p, err := cl.Wait(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != "exited" || p.Signal == nil || *p.Signal != 15 || !p.StartedAt.IsZero() {
		t.Fatalf("after SIGTERM: %+v, want exited by signal 15, never started", p)
	}
}
