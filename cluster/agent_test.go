package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

func TestAgentDevBootstrapsAlone(t *testing.T) {
	cfg := DevConfig()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = agentTestLogger(t, "dev")
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New(dev): %v", err)
	}
	t.Cleanup(a.crash)
	c := &testCluster{t: t, cfgs: []Config{cfg}, agents: []*Agent{a}}
	if l := c.leader(); l != a {
		t.Fatalf("leader = %v, want the dev node", l)
	}
	res := spawn(t, a, "hello")
	if res.PID != 2 {
		t.Errorf("first spawn PID = %d, want 2", res.PID)
	}
	for _, addr := range []string{a.HTTPAddr(), a.RaftAddr(), a.GossipAddr()} {
		if host, port, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" || port == "0" {
			t.Errorf("advertised address %q, want 127.0.0.1 and a bound port", addr)
		}
	}
	if a.Name() != "dev" {
		t.Errorf("Name() = %q, want dev", a.Name())
	}
	// The dev node is a table node, so the spawn gets placed on it.
	poll(t, 5*time.Second, func() error {
		p, _ := a.localView().Get(res.PID)
		if p.Node != "dev" {
			return errors.New("spawn not placed on dev: " + string(p.State))
		}
		return nil
	})
	// The leader reports the lease it renews for each node.
	poll(t, 5*time.Second, func() error {
		if ns := a.nodes(nil); len(ns) != 1 || ns[0].Lease != "held" {
			return fmt.Errorf("nodes %+v, want dev with its lease held", ns)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestAgentRejectsBadConfig(t *testing.T) {
	cfg := testConfig(t, "x")
	cfg.DataDir = ""
	if _, err := New(cfg); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("New without a data dir: got %v, want ErrBadConfig", err)
	}
}

func TestAgentPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t, "x")
	cfg.HTTPAddr = ln.Addr().String()
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "http listener") {
		t.Fatalf("New on a busy HTTP port: got %v, want a listener error", err)
	}
}

func TestAgentAccessorsAndLeaderAddress(t *testing.T) {
	c := MakeCluster(t, 3)
	l := c.leader()
	for _, a := range c.up() {
		name, addr, ok := a.leader()
		if !ok || name != l.Name() || addr != l.HTTPAddr() {
			t.Errorf("%s: leader() = %q %q %v, want %q %q", a.Name(), name, addr, ok, l.Name(), l.HTTPAddr())
		}
		for _, b := range c.up() {
			if got, ok := a.nodeHTTPAddr(b.Name()); !ok || got != b.HTTPAddr() {
				t.Errorf("%s: nodeHTTPAddr(%s) = %q, want %q", a.Name(), b.Name(), got, b.HTTPAddr())
			}
		}
	}
	nodes := l.nodes(nil)
	if len(nodes) != 3 {
		t.Fatalf("nodes() = %d nodes, want 3", len(nodes))
	}
	leaders := 0
	for _, n := range nodes {
		if n.Status != string(fsm.NodeAlive) || !n.Voter || n.RaftAddr == "" || n.HTTPAddr == "" || n.Slots < 1 {
			t.Errorf("node %+v, want an alive voter with addresses and slots", n)
		}
		if n.Leader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("%d nodes flagged leader, want 1", leaders)
	}
}
