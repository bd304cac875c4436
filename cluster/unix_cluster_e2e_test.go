package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
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

// progRegroup spawns two "sleep 600" children, moves the first into a
// group of its own and the second into the first's (setpgid after the
// spawn, as a shell's job control does), prints "ready C1 C2" and pauses.
func progRegroup(s *Sys) int {
	var kids [2]int
	for i := range kids {
		pid, err := s.Spawn(node.SpawnAttr{Command: "sleep", Args: []string{"600"}})
		if err != nil {
			s.Errorf("spawn: %v", err)
			return 1
		}
		kids[i] = pid
	}
	if err := s.Setpgid(kids[0], 0); err != nil {
		s.Errorf("setpgid %d 0: %v", kids[0], err)
		return 1
	}
	if err := s.Setpgid(kids[1], kids[0]); err != nil {
		s.Errorf("setpgid %d %d: %v", kids[1], kids[0], err)
		return 1
	}
	s.Printf("ready %d %d\n", kids[0], kids[1])
	for {
		s.Pause()
	}
}

// regroupCluster is unixCluster with progRegroup.
func regroupCluster(t *testing.T) ([]*client.Client, []string) {
	c := MakeCluster(t, 3, func(i int, cfg *Config) {
		progs := unixPrograms()
		progs.Register("regroup", progRegroup)
		cfg.Programs = progs
		cfg.Retention = 5 * time.Second
	})
	clients := make([]*client.Client, 3)
	names := make([]string, 3)
	for i, a := range c.agents {
		cfg := client.DefaultConfig()
		cfg.Addr = "http://" + a.HTTPAddr()
		cl, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		clients[i] = cl
		names[i] = a.Name()
	}
	return clients, names
}

// TestKillReachesGroupJoinedAfterSpawn: processes that formed a group
// with setpgid after their spawn on node 0 are in that group in the table,
// so that "kill -s TERM -PGID" sent through node 2 reaches both, and not
// their parent, which stayed in its own group.
func TestKillReachesGroupJoinedAfterSpawn(t *testing.T) {
	clients, names := regroupCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := clients[1].Spawn(ctx, api.SpawnRequest{Command: "regroup", Node: names[0]})
	if err != nil {
		t.Fatal(err)
	}
	out := waitLog(t, ctx, clients[1], res.PID, "ready")
	var c1, c2 uint64
	if _, err := fmt.Sscanf(out, "ready %d %d", &c1, &c2); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	poll(t, 30*time.Second, func() error {
		for _, pid := range []uint64{c1, c2} {
			p, err := clients[2].Get(ctx, pid, client.ReadOpts{})
			if err != nil {
				return err
			}
			if p.Pgid != c1 || p.Sid != res.PID || p.State != "running" {
				return fmt.Errorf("%d: %+v, want running in group %d of session %d", pid, p, c1, res.PID)
			}
		}
		return nil
	})
	kr, err := clients[2].Kill(ctx, api.KillRequest{Targets: []int64{-int64(c1)}, Signal: int(ipc.SIGTERM)})
	if err != nil {
		t.Fatalf("kill -TERM -%d through node 2: %v", c1, err)
	}
	if len(kr.Reached) != 2 {
		t.Fatalf("kill -TERM -%d reached %+v, want %d and %d", c1, kr.Reached, c1, c2)
	}
	poll(t, 60*time.Second, func() error {
		for _, pid := range []uint64{c1, c2} {
			p, err := clients[1].Get(ctx, pid, client.ReadOpts{})
			if err != nil {
				return err
			}
			if p.State != "exited" || p.Signal == nil || *p.Signal != int(ipc.SIGTERM) {
				return fmt.Errorf("%d: %+v, want killed by SIGTERM", pid, p)
			}
		}
		return nil
	})
	if p, err := clients[0].Get(ctx, res.PID, client.ReadOpts{}); err != nil || p.State != "running" {
		t.Fatalf("the parent, outside the group: %+v, %v; want running", p, err)
	}
	clients[0].Kill(ctx, api.KillRequest{Targets: []int64{int64(res.PID)}, Signal: int(ipc.SIGKILL)})
}

// TestTwoStreamsThroughTheAPI: a process's stdout and stderr are told apart
// by GET /v1/procs/{pid}/logs?stream=, read through a node that does not
// run it; both, the default, is the output as written.
func TestTwoStreamsThroughTheAPI(t *testing.T) {
	_, clients, names := unixCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "sh", Args: []string{"-c", "echo out; echo err >&2; echo out2"}, Node: names[1]})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := clients[2].Wait(ctx, res.PID); err != nil || p.ExitCode == nil || *p.ExitCode != 0 {
		t.Fatalf("sh: %+v, %v", p, err)
	}
	read := func(opts client.LogOpts) string {
		t.Helper()
		ls, err := clients[2].LogsWith(ctx, res.PID, opts)
		if err != nil {
			t.Fatalf("logs %+v: %v", opts, err)
		}
		defer ls.Close()
		b, err := io.ReadAll(ls)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct{ stream, want string }{
		{"", "out\nerr\nout2\n"},
		{api.StreamBoth, "out\nerr\nout2\n"},
		{api.StreamStdout, "out\nout2\n"},
		{api.StreamStderr, "err\n"},
	} {
		if got := read(client.LogOpts{Stream: tc.stream}); got != tc.want {
			t.Errorf("stream %q: %q, want %q", tc.stream, got, tc.want)
		}
	}
	ls, err := clients[2].LogsWith(ctx, res.PID, client.LogOpts{Chunks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	cr := client.NewChunkReader(ls)
	var got []string
	var off int64
	for {
		ch, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Off != off || ch.At.IsZero() || time.Since(ch.At) > time.Hour {
			t.Fatalf("chunk %+v: want offset %d and the time it was written", ch, off)
		}
		off += int64(len(ch.Data))
		got = append(got, ch.Stream+":"+string(ch.Data))
	}
	if want := []string{"stdout:out\n", "stderr:err\n", "stdout:out2\n"}; !slices.Equal(got, want) {
		t.Fatalf("chunks %q, want %q", got, want)
	}
	// A bad stream is refused.
	if _, err := clients[2].LogsWith(ctx, res.PID, client.LogOpts{Stream: "stdin"}); err == nil {
		t.Fatal("stream=stdin: no error")
	}
}

// TestStartFailureSaysWhy: a process that cannot start (no such working
// directory, no such program) is reported exited 126 or 127 with a one-line
// reason naming the cause, which vproc run prints.
func TestStartFailureSaysWhy(t *testing.T) {
	_, clients, names := unixCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		req  api.SpawnRequest
		code int
		want string
	}{
		{api.SpawnRequest{Command: "pwd", Cwd: "/nonexistent", Node: names[1]}, 126, "/nonexistent"},
	} {
		res, err := clients[0].Spawn(ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		p, err := clients[2].Wait(ctx, res.PID)
		if err != nil {
			t.Fatal(err)
		}
		if p.ExitCode == nil || *p.ExitCode != tc.code || !strings.Contains(p.Reason, tc.want) || strings.Contains(p.Reason, "\n") {
			t.Fatalf("%+v: %+v, want exit %d with a reason naming %s", tc.req, p, tc.code, tc.want)
		}
		t.Logf("%s: %s", tc.req.Command, p.Reason)
	}
}
