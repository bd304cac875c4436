package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
)

// TestPSShowsTheProgramAfterExec: after "sh -c 'exec sleep 600'", ps and
// GET /v1/procs/{pid} through every node show sleep, the program running
// now, in the same PID; a restart runs the original spec, sh, which execs
// sleep again.
func TestPSShowsTheProgramAfterExec(t *testing.T) {
	_, clients, names := unixCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := clients[0].Spawn(ctx, api.SpawnRequest{
		Command: "sh", Args: []string{"-c", "exec sleep 600"}, Node: names[1], Restart: "always:5:100ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	showsSleep := func(inc uint64) func() error {
		return func() error {
			for i, cl := range clients {
				p, err := cl.Get(ctx, res.PID, client.ReadOpts{})
				if err != nil {
					return err
				}
				if p.Incarnation < inc || p.State != "running" || p.Command != "sleep" || !slices.Equal(p.Args, []string{"600"}) {
					return fmt.Errorf("get %d through node %d: %s %q (incarnation %d, %s), want sleep [600] from incarnation %d",
						res.PID, i, p.Command, p.Args, p.Incarnation, p.State, inc)
				}
				l, err := cl.List(ctx, client.ListOpts{})
				if err != nil {
					return err
				}
				i := slices.IndexFunc(l.Processes, func(q api.Process) bool { return q.PID == res.PID })
				if i < 0 || l.Processes[i].Command != "sleep" || !slices.Equal(l.Processes[i].Args, []string{"600"}) {
					return fmt.Errorf("ps through node %d does not show %d as sleep 600: %+v", i, res.PID, l.Processes)
				}
			}
			return nil
		}
	}
	poll(t, 60*time.Second, showsSleep(1))

	// The restart runs sh again: the table's spec is the one spawned.
	if _, err := clients[2].Kill(ctx, api.KillRequest{Targets: []int64{int64(res.PID)}, Signal: int(ipc.SIGTERM)}); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, showsSleep(2))
	v := clients[2]
	p, err := v.Get(ctx, res.PID, client.ReadOpts{})
	if err != nil || p.Restarts < 1 {
		t.Fatalf("after the kill: %+v, %v; want a restart", p, err)
	}
	if _, err := clients[2].Kill(ctx, api.KillRequest{Targets: []int64{int64(res.PID)}, Signal: int(ipc.SIGKILL)}); err != nil {
		t.Fatal(err)
	}
}
