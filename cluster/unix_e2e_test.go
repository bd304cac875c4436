package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/builtins"
)

// Unix semantics across nodes, end to end on an in-process three-node
// cluster, through the HTTP API and the Go client as the CLI uses them.

// unixPrograms are the builtins and the test programs below.
func unixPrograms() *node.ProgramTable {
	r := builtins.Programs()
	r.Register("rwait", progRemoteWait)
	r.Register("grouplead", progGroupLead)
	r.Register("ids", progIDs)
	return r
}

// progIDs prints "ids ppid=P pgid=G sid=S" at its start and at each
// SIGUSR1, and pauses for ever.
func progIDs(s *Sys) int {
	print := func(s *Sys, _ ipc.Signal) {
		pgid, _ := s.Getpgid(0)
		sid, _ := s.Getsid(0)
		s.Printf("ids ppid=%d pgid=%d sid=%d\n", s.Getppid(), pgid, sid)
	}
	s.Signal(ipc.SIGUSR1, print)
	print(s, 0)
	for {
		s.Pause()
	}
}

// progRemoteWait is "rwait NODE": it spawns "sleep 600" on NODE, prints
// "child PID", and then reports, one line each, what wait4 tells of it:
// "nohang PID" (WNOHANG before any change), "stopped PID SIG",
// "continued PID", "exited PID CODE"; then "sigchld N" (the SIGCHLD
// deliveries) and "echild" once no child is left.
func progRemoteWait(s *Sys) int {
	var sigchld int
	s.Sigaction(ipc.SIGCHLD, &node.SigAction{Handler: func(*node.Sys, ipc.Signal) { sigchld++ }})
	pid, err := s.Spawn(node.SpawnAttr{Command: "sleep", Args: []string{"600"}, Node: s.Args()[0]})
	if err != nil {
		s.Errorf("spawn: %v", err)
		return 1
	}
	s.Printf("child %d\n", pid)
	got, _, err := s.Wait4(pid, node.WNOHANG)
	s.Printf("nohang %d %v\n", got, err)
	for {
		got, ws, err := s.Wait4(-1, node.WUNTRACED|node.WCONTINUED)
		switch {
		case errors.Is(err, ipc.EINTR):
			continue
		case err != nil:
			s.Errorf("wait4: %v", err)
			return 1
		case ws.Stopped():
			s.Printf("stopped %d %d\n", got, ws.StopSignal())
			continue
		case ws.Continued():
			s.Printf("continued %d\n", got)
			continue
		}
		s.Printf("exited %d %d\n", got, ws.Code())
		break
	}
	s.Yield() // a last system call: the exit's SIGCHLD handler has run
	s.Printf("sigchld %d\n", sigchld)
	if _, _, err := s.Wait4(-1, node.WNOHANG); errors.Is(err, ipc.ECHILD) {
		s.Printf("echild\n")
	}
	return 0
}

// Sys is node.Sys, for the test programs' signatures.
type Sys = node.Sys

// progGroupLead is "grouplead NODE": a process group of three, on two
// nodes. It prints "sig pid=P sig=S" for each SIGUSR1 or SIGUSR2 it gets,
// spawns "heartbeat 1s" on NODE and another here, both in its group,
// prints "ready REMOTE LOCAL", and pauses for ever.
func progGroupLead(s *Sys) int {
	onSig := func(s *Sys, sig ipc.Signal) { s.Printf("sig pid=%d sig=%d\n", s.Getpid(), sig) }
	s.Signal(ipc.SIGUSR1, onSig)
	s.Signal(ipc.SIGUSR2, onSig)
	far, err := s.Spawn(node.SpawnAttr{Command: "heartbeat", Args: []string{"1s"}, Node: s.Args()[0]})
	if err != nil {
		s.Errorf("spawn there: %v", err)
		return 1
	}
	near, err := s.Spawn(node.SpawnAttr{Command: "heartbeat", Args: []string{"1s"}})
	if err != nil {
		s.Errorf("spawn here: %v", err)
		return 1
	}
	s.Printf("ready %d %d\n", far, near)
	for {
		s.Pause()
	}
}

func unixCluster(t *testing.T) (*testCluster, []*client.Client, []string) {
	c := MakeCluster(t, 3, func(i int, cfg *Config) {
		cfg.Programs = unixPrograms()
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
	return c, clients, names
}

// logOf returns the stored output of pid, read through cl.
func logOf(ctx context.Context, cl *client.Client, pid uint64) (string, error) {
	rc, err := cl.Logs(ctx, pid, false, 0)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// waitLog polls pid's output, through cl, until it contains want.
func waitLog(t *testing.T, ctx context.Context, cl *client.Client, pid uint64, want string) string {
	t.Helper()
	var out string
	poll(t, 30*time.Second, func() error {
		var err error
		if out, err = logOf(ctx, cl, pid); err != nil {
			return err
		}
		if !strings.Contains(out, want) {
			return fmt.Errorf("output of %d is %q, waiting for %q", pid, out, want)
		}
		return nil
	})
	return out
}

func TestUnixAcrossNodes(t *testing.T) {
	_, clients, names := unixCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kill := func(cl *client.Client, target int64, sig int) {
		t.Helper()
		if _, err := cl.Kill(ctx, api.KillRequest{Targets: []int64{target}, Signal: sig}); err != nil {
			t.Fatalf("kill -%d %d: %v", sig, target, err)
		}
	}

	// A parent on node 0 waits for its child on node 1: WNOHANG, stops
	// and continues, the exit, SIGCHLD for each, and the reap, which
	// leaves the table too. Signals go through node 2.
	t.Run("wait", func(t *testing.T) {
		res, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "rwait", Args: []string{names[1]}, Node: names[0]})
		if err != nil {
			t.Fatal(err)
		}
		out := waitLog(t, ctx, clients[2], res.PID, "nohang")
		var child uint64
		if _, err := fmt.Sscanf(out, "child %d\n", &child); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		if !strings.Contains(out, "nohang 0 <nil>") {
			t.Fatalf("WNOHANG before any change: %q, want 0", out)
		}
		parent, err := clients[2].Get(ctx, res.PID, client.ReadOpts{})
		if err != nil {
			t.Fatal(err)
		}
		poll(t, 30*time.Second, func() error {
			p, err := clients[2].Get(ctx, child, client.ReadOpts{})
			if err != nil {
				return err
			}
			if p.PPID != res.PID || p.Node != names[1] || p.Pgid != parent.Pgid || p.State != "running" {
				return fmt.Errorf("child %+v: want a running child of %d on %s in group %d", p, res.PID, names[1], parent.Pgid)
			}
			return nil
		})
		kill(clients[2], int64(child), int(ipc.SIGSTOP))
		waitLog(t, ctx, clients[1], res.PID, fmt.Sprintf("stopped %d %d\n", child, ipc.SIGSTOP))
		kill(clients[1], int64(child), int(ipc.SIGCONT))
		waitLog(t, ctx, clients[0], res.PID, fmt.Sprintf("continued %d\n", child))
		kill(clients[0], int64(child), int(ipc.SIGTERM))
		p, err := clients[2].Wait(ctx, res.PID)
		if err != nil {
			t.Fatal(err)
		}
		if p.ExitCode == nil || *p.ExitCode != 0 {
			t.Fatalf("rwait: %+v, want exit 0", p)
		}
		out, err = logOf(ctx, clients[1], res.PID)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("exited %d %d\nsigchld 3\nechild\n", child, 128+ipc.SIGTERM)
		if !strings.HasSuffix(out, want) {
			t.Fatalf("rwait's output %q, want it to end with %q", out, want)
		}
		// The parent's wait4 reaped the child in the table too.
		poll(t, 30*time.Second, func() error {
			if _, err := clients[0].Get(ctx, child, client.ReadOpts{}); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("child %d after its parent reaped it: %v, want not found", child, err)
			}
			return nil
		})
	})

	// A group on two nodes: a signal from the CLI to -PGID, and one from
	// a process's kill(-pgid), are each made pending once in each member.
	t.Run("group", func(t *testing.T) {
		res, err := clients[1].Spawn(ctx, api.SpawnRequest{Command: "grouplead", Args: []string{names[2]}, Node: names[0]})
		if err != nil {
			t.Fatal(err)
		}
		lead := res.PID
		out := waitLog(t, ctx, clients[1], lead, "ready")
		var far, near uint64
		if _, err := fmt.Sscanf(out[strings.Index(out, "ready"):], "ready %d %d\n", &far, &near); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		for pid, where := range map[uint64]string{far: names[2], near: names[0]} {
			p, err := clients[1].Get(ctx, pid, client.ReadOpts{})
			if err != nil || p.Node != where || p.Pgid != lead || p.PPID != lead {
				t.Fatalf("member %d: %+v %v; want on %s in group %d", pid, p, err, where, lead)
			}
		}
		// The heartbeats have set up their handlers once they beat. Both
		// write to the output they inherit from their parent, the one on
		// the other node through a stream to the parent's node.
		waitLog(t, ctx, clients[0], lead, "hb pid="+itoa(near)+" ")
		waitLog(t, ctx, clients[0], lead, "hb pid="+itoa(far)+" ")
		// Each member's deliveries, counted from its lines.
		counts := func() (map[uint64][2]int, error) {
			n := map[uint64][2]int{}
			for _, src := range []uint64{lead} {
				out, err := logOf(ctx, clients[src%3], src)
				if err != nil {
					return nil, err
				}
				for _, line := range strings.Split(out, "\n") {
					var pid uint64
					var sig int
					f := strings.Fields(line)
					if len(f) < 2 || f[0] != "sig" {
						continue
					}
					pid, _ = strconv.ParseUint(strings.TrimPrefix(f[1], "pid="), 10, 64)
					for _, kv := range f {
						if v, ok := strings.CutPrefix(kv, "sig="); ok {
							sig, _ = strconv.Atoi(v)
						}
					}
					c := n[pid]
					switch ipc.Signal(sig) {
					case ipc.SIGUSR1:
						c[0]++
					case ipc.SIGUSR2:
						c[1]++
					}
					n[pid] = c
				}
			}
			return n, nil
		}
		// expect waits until every member has had usr2 SIGUSR2s (the
		// marker sent after the SIGUSR1s) and checks that each has had
		// usr1 SIGUSR1s exactly.
		expect := func(usr1, usr2 int) {
			t.Helper()
			poll(t, 30*time.Second, func() error {
				n, err := counts()
				if err != nil {
					return err
				}
				for _, pid := range []uint64{lead, far, near} {
					if n[pid][1] < usr2 {
						return fmt.Errorf("member %d: %d SIGUSR2, waiting for %d (all: %v)", pid, n[pid][1], usr2, n)
					}
				}
				for _, pid := range []uint64{lead, far, near} {
					if n[pid] != [2]int{usr1, usr2} {
						t.Fatalf("member %d got SIGUSR1 %d times and SIGUSR2 %d times, want %d and %d (all: %v)", pid, n[pid][0], n[pid][1], usr1, usr2, n)
					}
				}
				return nil
			})
		}

		// From the CLI (vproc kill -s USR1 -- -PGID), through each node.
		kill(clients[2], -int64(lead), int(ipc.SIGUSR1))
		kill(clients[1], -int64(lead), int(ipc.SIGUSR2))
		expect(1, 1)

		// From a process on the third node: kill(2) of the group.
		k, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "kill", Args: []string{"-s", "USR1", "-" + itoa(lead)}, Node: names[1]})
		if err != nil {
			t.Fatal(err)
		}
		if p, err := clients[0].Wait(ctx, k.PID); err != nil || p.ExitCode == nil || *p.ExitCode != 0 {
			t.Fatalf("kill -s USR1 -%d from a process: %+v %v", lead, p, err)
		}
		kill(clients[0], -int64(lead), int(ipc.SIGUSR2))
		expect(2, 2)

		kill(clients[0], -int64(lead), int(ipc.SIGKILL))
		for _, pid := range []uint64{lead, far, near} {
			if p, err := clients[pid%3].Wait(ctx, pid); err != nil || p.Signal == nil || *p.Signal != int(ipc.SIGKILL) {
				t.Fatalf("member %d after SIGKILL to the group: %+v %v", pid, p, err)
			}
		}
	})

	// A parent dies with its child on another node: the child goes to
	// init, and getppid says so. vproc wait never reaps; init reaps both
	// after the retention.
	t.Run("orphan", func(t *testing.T) {
		res, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "onnode", Args: []string{names[2], "ids"}, Node: names[1]})
		if err != nil {
			t.Fatal(err)
		}
		parent := res.PID
		var child uint64
		poll(t, 30*time.Second, func() error {
			list, err := clients[0].List(ctx, client.ListOpts{})
			if err != nil {
				return err
			}
			for _, p := range list.Processes {
				if p.PPID == parent && p.State == "running" {
					child = p.PID
					if p.Node != names[2] {
						t.Fatalf("child %+v: want it on %s", p, names[2])
					}
					return nil
				}
			}
			var seen []string
			for _, p := range list.Processes {
				seen = append(seen, fmt.Sprintf("%d(ppid %d %s on %s)", p.PID, p.PPID, p.State, p.Node))
			}
			out, _ := logOf(ctx, clients[0], parent)
			return fmt.Errorf("no running child of %d yet: %v; its output %q", parent, seen, out)
		})
		pp, err := clients[0].Get(ctx, parent, client.ReadOpts{})
		if err != nil {
			t.Fatal(err)
		}
		// The child sees its parent and its group on the other node; it
		// writes to the output it inherits from its parent.
		waitLog(t, ctx, clients[0], parent, fmt.Sprintf("ids ppid=%d pgid=%d sid=%d\n", parent, pp.Pgid, pp.Sid))
		kill(clients[2], int64(parent), int(ipc.SIGKILL))
		first, err := clients[1].Wait(ctx, parent)
		if err != nil {
			t.Fatal(err)
		}
		second, err := clients[2].Wait(ctx, parent)
		if err != nil {
			t.Fatal(err)
		}
		if first.Signal == nil || second.Signal == nil || *first.Signal != 9 || *second.Signal != 9 || !first.ExitedAt.Equal(second.ExitedAt) {
			t.Fatalf("two waits: %+v then %+v; want the same SIGKILL status", first, second)
		}
		p, err := clients[0].Get(ctx, child, client.ReadOpts{})
		if err != nil || p.PPID != 1 || p.State != "running" {
			t.Fatalf("orphan %+v %v: want a running child of init", p, err)
		}
		kill(clients[1], int64(child), int(ipc.SIGUSR1))
		// The orphan keeps the descriptor: its output still reaches its
		// dead parent's log.
		waitLog(t, ctx, clients[1], parent, fmt.Sprintf("ids ppid=1 pgid=%d sid=%d\n", pp.Pgid, pp.Sid))
		kill(clients[1], int64(child), int(ipc.SIGTERM))
		if p, err := clients[0].Wait(ctx, child); err != nil || p.Signal == nil || *p.Signal != int(ipc.SIGTERM) {
			t.Fatalf("orphan after SIGTERM: %+v %v", p, err)
		}
		poll(t, 30*time.Second, func() error {
			for _, pid := range []uint64{parent, child} {
				if _, err := clients[0].Get(ctx, pid, client.ReadOpts{}); !errors.Is(err, client.ErrNotFound) {
					return fmt.Errorf("%d after the retention: %v, want reaped", pid, err)
				}
			}
			return nil
		})
	})
}
