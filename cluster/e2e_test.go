package cluster

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

// TestEndToEndAcrossNodes drives a three-node cluster through the HTTP API
// and the Go client, as the CLI does: a spawn sent to one node runs on
// another, and its status, its output and a kill go through a third.
func TestEndToEndAcrossNodes(t *testing.T) {
	c := MakeCluster(t, 3)
	clients := make([]*client.Client, 3)
	for i, a := range c.agents {
		cfg := client.DefaultConfig()
		cfg.Addr = "http://" + a.HTTPAddr()
		cl, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		clients[i] = cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	names := []string{c.agents[0].Name(), c.agents[1].Name(), c.agents[2].Name()}

	// Spawn through node 0, run on node 1, wait and read the output
	// through node 2.
	res, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "sh", Args: []string{"-c", "echo out-$$; exit 3"}, Node: names[1]})
	if err != nil {
		t.Fatal(err)
	}
	p, err := clients[2].Wait(ctx, res.PID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Node != names[1] || p.ExitCode == nil || *p.ExitCode != 3 {
		t.Fatalf("process %d: node %s exit %v, want node %s exit 3", res.PID, p.Node, p.ExitCode, names[1])
	}
	rc, err := clients[2].Logs(ctx, res.PID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	if want := "out-" + itoa(res.PID) + "\n"; string(out) != want {
		t.Fatalf("logs through another node: %q, want %q", out, want)
	}

	// A process on node 2, killed through node 1, seen from node 0.
	res, err = clients[0].Spawn(ctx, api.SpawnRequest{Command: "sleep", Args: []string{"600"}, Node: names[2]})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, func() error {
		list, err := clients[0].List(ctx, client.ListOpts{})
		if err != nil {
			return err
		}
		for _, q := range list.Processes {
			if q.PID == res.PID && q.State == "running" && q.MicroState == "waiting" {
				return nil // the micro-state comes from the node that runs it
			}
		}
		return errString("not running on its node yet")
	})
	if _, err := clients[1].Kill(ctx, api.KillRequest{Targets: []int64{int64(res.PID)}, Signal: 15}); err != nil {
		t.Fatal(err)
	}
	p, err = clients[0].Wait(ctx, res.PID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Signal == nil || *p.Signal != 15 || p.ExitCode != nil {
		t.Fatalf("killed process: signal %v exit %v, want SIGTERM", p.Signal, p.ExitCode)
	}
	// Wait never reaps: the exited process is still in the table.
	if q, err := clients[2].Get(ctx, res.PID, client.ReadOpts{}); err != nil || !strings.EqualFold(q.State, "exited") {
		t.Fatalf("after wait: %+v %v", q, err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
