package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// TestCompose runs the three-node Compose cluster: it waits for a leader,
// spawns and runs processes from the host, kills the leader's container
// and checks failover, the rescheduling of a restart=always process and
// that no acknowledged PID is lost, then restarts the container and checks
// that the node rejoins with its data.
func TestCompose(t *testing.T) {
	if !*runFlag {
		t.Skip("the Compose cluster test runs with -deploy.run (make deploy-test)")
	}
	if why := dockerAnswers(); why != "" {
		t.Skip("skipping the Compose cluster test: " + why)
	}
	compose := composeCommand()
	if compose == nil {
		t.Skip("skipping the Compose cluster test: neither docker-compose nor the compose plugin is installed")
	}
	d := newDeployment(t, compose)
	first := services[0]

	// Up, then a leader and a spawn that runs: the time a user waits.
	start := time.Now()
	if _, err := d.composeCmd(5*time.Minute, "up", "-d"); err != nil {
		t.Fatalf("up: %v", err)
	}
	waitUntil(t, "a leader and a process that runs", 3*time.Minute, func() error {
		if r := d.vproc(first, "health"); r.code != 0 {
			return fmt.Errorf("health: %s", strings.TrimSpace(r.stderr))
		}
		if r := d.vproc(first, "run", "--", "true"); r.code != 0 {
			return fmt.Errorf("run true: exit %d: %s", r.code, strings.TrimSpace(r.stderr))
		}
		return nil
	})
	t.Logf("from up to a working cluster (a leader, and `vproc run -- true` exited 0): %v", time.Since(start).Round(10*time.Millisecond))

	waitUntil(t, "three alive nodes", 2*time.Minute, func() error {
		ns, err := d.nodes(first)
		if err != nil {
			return err
		}
		var alive []string
		for _, n := range ns {
			if n.Status == "alive" {
				alive = append(alive, n.Name)
			}
		}
		if slices.Sort(alive); !slices.Equal(alive, services) {
			return fmt.Errorf("alive nodes %v", alive)
		}
		return nil
	})
	// The compose health check (vproc health in each container) agrees.
	waitUntil(t, "every container healthy", 2*time.Minute, func() error {
		for _, s := range services {
			if h := d.health(s); h != "running/healthy" {
				return fmt.Errorf("%s is %s", s, h)
			}
		}
		return nil
	})

	// Processes through the CLI from the host.
	if r := d.vproc(first, "run", "--", "echo", "hello", "from", "compose"); r.code != 0 || r.stdout != "hello from compose\n" {
		t.Fatalf("run echo: got %+v, want its output and exit 0", r)
	}
	if r := d.vproc(first, "run", "--", "false"); r.code != 1 {
		t.Fatalf("run false: got %+v, want exit 1", r)
	}

	leader := leaderOf(t, d, first)
	t.Logf("leader: %s", leader)
	survivor := services[0]
	if survivor == leader {
		survivor = services[1]
	}
	// A process on the leader that exits with output, kept in the
	// leader's volume: the restarted node must still serve it.
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	echoPID := d.spawn(survivor, "--node", leader, "--", "echo", marker)
	if r := d.vproc(survivor, "wait", strconv.FormatUint(echoPID, 10)); r.code != 0 {
		t.Fatalf("wait %d: got %+v, want exit 0", echoPID, r)
	}
	// Long-running processes, some restart=always, until one of those
	// runs on the leader.
	acked := []uint64{echoPID}
	var always []uint64
	onLeader := uint64(0)
	for i := 0; i < 30 && onLeader == 0; i++ {
		pid := d.spawn(survivor, "--restart", "always", "--", "sleep", "1h")
		acked, always = append(acked, pid), append(always, pid)
		acked = append(acked, d.spawn(survivor, "--", "sleep", "1h"))
		waitUntil(t, fmt.Sprintf("pid %d running", pid), time.Minute, func() error {
			ps, err := d.procs(survivor)
			if err != nil {
				return err
			}
			if p := ps[pid]; p.State != "running" {
				return fmt.Errorf("pid %d is %q on %q", pid, p.State, p.Node)
			} else if p.Node == leader {
				onLeader = pid
			}
			return nil
		})
	}
	if onLeader == 0 {
		t.Fatalf("no restart=always process was placed on the leader %s among %v", leader, always)
	}
	before, err := d.procs(survivor)
	if err != nil {
		t.Fatal(err)
	}

	// Kill the leader's container.
	killedAt := time.Now()
	if _, err := d.cmd(time.Minute, nil, "docker", "kill", d.container(leader)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a new leader", 2*time.Minute, func() error {
		l, err := leaderNow(d, survivor)
		if err != nil {
			return err
		}
		if l == leader {
			return fmt.Errorf("%s still leads", l)
		}
		return nil
	})
	t.Logf("a new leader %v after the kill", time.Since(killedAt).Round(10*time.Millisecond))
	waitUntil(t, fmt.Sprintf("restart=always pid %d rescheduled off %s", onLeader, leader), 2*time.Minute, func() error {
		ps, err := d.procs(survivor)
		if err != nil {
			return err
		}
		p := ps[onLeader]
		if p.State != "running" || p.Node == leader || p.Incarnation <= before[onLeader].Incarnation {
			return fmt.Errorf("pid %d is %q on %q, incarnation %d", onLeader, p.State, p.Node, p.Incarnation)
		}
		return nil
	})
	t.Logf("pid %d running again elsewhere %v after the kill", onLeader, time.Since(killedAt).Round(10*time.Millisecond))
	// The cluster still spawns, and every acknowledged PID is still in
	// the table: running, or lost with its node (never restart), or
	// exited (the echo).
	after := d.spawn(survivor, "--", "sleep", "1h")
	acked = append(acked, after)
	waitUntil(t, "every acknowledged PID in the table", 2*time.Minute, func() error {
		ps, err := d.procs(survivor)
		if err != nil {
			return err
		}
		for _, pid := range acked {
			p, ok := ps[pid]
			switch {
			case !ok:
				return fmt.Errorf("acknowledged pid %d is missing from ps -a", pid)
			case pid == echoPID:
				if p.State != "exited" || p.ExitCode == nil || *p.ExitCode != 0 {
					return fmt.Errorf("pid %d: got %q, want exited 0", pid, p.State)
				}
			case slices.Contains(always, pid) || before[pid].Node != leader:
				if p.State != "running" {
					return fmt.Errorf("pid %d: got %q on %q, want running", pid, p.State, p.Node)
				}
			default: // never restarted, and its node died
				if p.State != "lost" {
					return fmt.Errorf("pid %d on the killed node: got %q, want lost", pid, p.State)
				}
			}
		}
		return nil
	})

	// Restart the container: the node rejoins under its name, with its
	// raft log and its process logs.
	restartedAt := time.Now()
	if _, err := d.cmd(time.Minute, nil, "docker", "start", d.container(leader)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, leader+" alive again", 3*time.Minute, func() error {
		ns, err := d.nodes(survivor)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.Name == leader && n.Status == "alive" {
				return nil
			}
		}
		return fmt.Errorf("%s not alive: %+v", leader, ns)
	})
	t.Logf("%s alive again %v after its restart", leader, time.Since(restartedAt).Round(10*time.Millisecond))
	var peers []api.Peer
	if err := d.vprocJSON(survivor, &peers, "operator", "raft", "list-peers"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range peers {
		ids = append(ids, p.ID)
	}
	if slices.Sort(ids); !slices.Equal(ids, services) {
		t.Errorf("raft peers after the restart: got %v, want %v", ids, services)
	}
	waitUntil(t, "the restarted node's copy of the table to converge", 2*time.Minute, func() error {
		want, err := d.state(survivor)
		if err != nil {
			return err
		}
		got, err := d.state(leader)
		if err != nil {
			return err
		}
		if got.Hash != want.Hash {
			return fmt.Errorf("%s at index %d, %s at %d", leader, got.AppliedIndex, survivor, want.AppliedIndex)
		}
		return nil
	})
	if r := d.vproc(leader, "logs", strconv.FormatUint(echoPID, 10)); r.code != 0 || r.stdout != marker+"\n" {
		t.Errorf("logs of pid %d after its node restarted: got %+v, want %q from the node's volume", echoPID, r, marker)
	}
	if r := d.vproc(leader, "run", "--node", leader, "--", "echo", "back"); r.code != 0 || r.stdout != "back\n" {
		t.Errorf("run on the restarted node: got %+v, want back", r)
	}
}

// leaderOf waits for the leader as node sees it.
func leaderOf(t *testing.T, d *deployment, node string) string {
	t.Helper()
	var l string
	waitUntil(t, "a leader", time.Minute, func() error {
		var err error
		l, err = leaderNow(d, node)
		return err
	})
	return l
}

// leaderNow returns the leader node knows of (a stale read, which does
// not wait for a dead leader).
func leaderNow(d *deployment, node string) (string, error) {
	var ns []api.Node
	if err := d.vprocJSON(node, &ns, "nodes", "--stale"); err != nil {
		return "", err
	}
	for _, n := range ns {
		if n.Leader {
			return n.Name, nil
		}
	}
	return "", errors.New("no leader")
}

// TestCleanup removes the containers, volumes, networks and images of
// runs of TestCompose whose test process no longer exists (killed, or
// timed out), and leaves running ones alone.
func TestCleanup(t *testing.T) {
	if !*cleanupFlag {
		t.Skip("the cleanup runs with -deploy.cleanup (make deploy-test)")
	}
	if why := dockerAnswers(); why != "" {
		t.Skip("skipping the deploy test cleanup: " + why)
	}
	d := &deployment{t: t, root: "."}
	list := func(args ...string) []string {
		out, err := d.cmd(time.Minute, nil, "docker", args...)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(out)
	}
	stale := func(name string) bool {
		rest, ok := strings.CutPrefix(name, namePrefix)
		if !ok || len(rest) < 2 {
			return false
		}
		pid, err := strconv.Atoi(strings.SplitN(rest[1:], "-", 2)[0])
		if err != nil {
			return false
		}
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	remove := func(what string, names []string, rm ...string) {
		for _, n := range names {
			if !stale(n) {
				continue
			}
			if _, err := d.cmd(2*time.Minute, nil, "docker", append(rm, n)...); err != nil {
				t.Errorf("removing %s %s: %v", what, n, err)
			} else {
				t.Logf("removed %s %s", what, n)
			}
		}
	}
	filter := "name=" + namePrefix
	remove("container", list("ps", "-a", "--filter", filter, "--format", "{{.Names}}"), "rm", "-f", "-v")
	remove("volume", list("volume", "ls", "-q", "--filter", filter), "volume", "rm", "-f")
	remove("network", list("network", "ls", "--filter", filter, "--format", "{{.Name}}"), "network", "rm")
	remove("image", list("images", namePrefix, "--format", "{{.Repository}}:{{.Tag}}"), "image", "rm", "-f")
}
