package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/cluster/membership"
)

// startStranger starts an agent that joins c's gossip through node 0.
func startStranger(t *testing.T, c *testCluster, name string, tune func(*Config)) *Agent {
	t.Helper()
	cfg := testConfig(t, name)
	cfg.Join = []string{c.agents[0].GossipAddr()}
	tune(&cfg)
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(a.crash)
	return a
}

// TestJoinWithoutProofNeverVoter: with TLS on, a member that reaches
// gossip but cannot prove its identity (no certificate, or one from
// another CA) is never added to raft or to the table, where placement
// would find it.
func TestJoinWithoutProofNeverVoter(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow multi-node test; skipped with -short")
	}
	pki, other := newTestPKI(t), newTestPKI(t)
	c := MakeCluster(t, 3, func(i int, cfg *Config) { cfg.TLS = pki.server(cfg.Name) })
	startStranger(t, c, "plain", func(*Config) {})
	startStranger(t, c, "forger", func(cfg *Config) { cfg.TLS = other.server(cfg.Name) })
	poll(t, 20*time.Second, func() error {
		l := c.leaderNow()
		if l == nil {
			return fmt.Errorf("no leader")
		}
		un := l.members.Unproven()
		for _, name := range []string{"plain", "forger"} {
			if un[name] < 3 {
				return fmt.Errorf("the leader refused %s %d times, want 3: %v", name, un[name], un)
			}
		}
		return nil
	})
	l := c.leader()
	peers, err := l.peers()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if p.ID == "plain" || p.ID == "forger" {
			t.Errorf("%s is a raft %s without proof", p.ID, p.Suffrage)
		}
	}
	if len(peers) != 3 {
		t.Errorf("%d raft servers, want 3: %+v", len(peers), peers)
	}
	for _, n := range l.localView().Nodes() {
		if n.ID == "plain" || n.ID == "forger" {
			t.Errorf("%s is a node of the table without proof", n.ID)
		}
	}
}

// TestGossipKeyRequired: with a gossip key, a member without it, or with
// another key, cannot join gossip at all.
func TestGossipKeyRequired(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow multi-node test; skipped with -short")
	}
	key, _ := membership.GenerateKey()
	wrong, _ := membership.GenerateKey()
	c := MakeCluster(t, 1, func(i int, cfg *Config) { cfg.EncryptKey = key })
	for name, k := range map[string]string{"nokey": "", "wrongkey": wrong} {
		a := startStranger(t, c, name, func(cfg *Config) { cfg.Join = nil; cfg.EncryptKey = k })
		if n, err := a.gossip.Join([]string{c.agents[0].GossipAddr()}); err == nil {
			t.Errorf("%s joined gossip (%d contacted)", name, n)
		}
		if _, ok := c.agents[0].gossip.Member(name); ok {
			t.Errorf("the cluster knows %s", name)
		}
	}
	// The right key joins.
	a := startStranger(t, c, "withkey", func(cfg *Config) { cfg.Join = nil; cfg.EncryptKey = key })
	if _, err := a.gossip.Join([]string{c.agents[0].GossipAddr()}); err != nil {
		t.Fatalf("joining with the key: %v", err)
	}
}

// TestKeyringRotation rotates the gossip key through one node's HTTP API:
// every member installs, uses and removes as told, keeps the ring in its
// data directory, and a node with only the old key can no longer join.
func TestKeyringRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow multi-node test; skipped with -short")
	}
	k1, _ := membership.GenerateKey()
	k2, _ := membership.GenerateKey()
	c := MakeCluster(t, 3, func(i int, cfg *Config) { cfg.EncryptKey = k1 })
	cl, err := client.New(client.Config{Addr: c.agents[1].HTTPAddr(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(step string, want []string, primary string) {
		t.Helper()
		r, err := cl.KeyringList(ctx)
		if err != nil {
			t.Fatalf("%s: list: %v", step, err)
		}
		if len(r.Nodes) != 3 {
			t.Fatalf("%s: %d nodes answered, want 3: %+v", step, len(r.Nodes), r)
		}
		for _, n := range r.Nodes {
			got := slices.Clone(n.Keys)
			slices.Sort(got)
			w := slices.Clone(want)
			slices.Sort(w)
			if n.Error != "" || !slices.Equal(got, w) || n.Primary != primary {
				t.Errorf("%s: node %s has %v primary %q (error %q), want %v primary %q", step, n.Node, n.Keys, n.Primary, n.Error, want, primary)
			}
		}
	}
	check("start", []string{k1}, k1)
	for _, step := range []struct {
		name string
		op   func(context.Context, string) (any, error)
		key  string
	}{
		{"install", func(ctx context.Context, k string) (any, error) { return cl.KeyringInstall(ctx, k) }, k2},
		{"use", func(ctx context.Context, k string) (any, error) { return cl.KeyringUse(ctx, k) }, k2},
		{"remove", func(ctx context.Context, k string) (any, error) { return cl.KeyringRemove(ctx, k) }, k1},
	} {
		if _, err := step.op(ctx, step.key); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	check("rotated", []string{k2}, k2)
	r, err := cl.KeyringRemove(ctx, k2)
	if err != nil || len(r.Nodes) != 3 || !strings.Contains(r.Nodes[0].Error, "primary") {
		t.Errorf("removing the primary key: %+v %v, want every node to refuse", r, err)
	}
	for i, cfg := range c.cfgs {
		keys, err := membership.LoadKeyring(filepath.Join(cfg.DataDir, membership.KeyringFile))
		if err != nil || len(keys) != 1 {
			t.Fatalf("node %d's keyring file: %d keys, %v", i, len(keys), err)
		}
	}
	old := startStranger(t, c, "oldkey", func(cfg *Config) { cfg.Join = nil; cfg.EncryptKey = k1 })
	if _, err := old.gossip.Join([]string{c.agents[0].GossipAddr()}); err == nil {
		t.Error("a node with the removed key joined")
	}
	// A restarted node keeps the rotated ring, whatever --encrypt says.
	c.crash(2)
	c.start(2)
	if _, _, err := c.agents[2].gossip.Keys(); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := c.agents[2].gossip.Keys(); p != k2 {
		t.Errorf("restarted node's primary key %q, want the rotated %q", p, k2)
	}
}
