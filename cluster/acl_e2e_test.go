package cluster

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// TestACLCluster runs ACLs across nodes: forwarding to the leader carries
// the caller's token, the nodes' own traffic (reports, leases, IPC streams)
// carries the agent token, and ownership holds on every node.
func TestACLCluster(t *testing.T) {
	c := MakeCluster(t, 2, func(i int, cfg *Config) { cfg.ACLEnabled, cfg.AgentToken = true, testAgentToken })
	l := c.leader()
	var f *Agent
	for _, a := range c.up() {
		if a != l {
			f = a
		}
	}
	furl := "http://" + f.HTTPAddr()
	// Bootstrap and tokens through the follower, forwarded to the leader.
	r := do(t, "POST", furl+"/v1/acl/bootstrap", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("bootstrap via follower: %d %s", r.status, r.body)
	}
	var root api.ACLToken
	r.decode(t, &root)
	mk := func(user string) string {
		r := do(t, "POST", furl+"/v1/acl/tokens", api.ACLTokenRequest{User: user}, tok(root.SecretID))
		if r.status != http.StatusOK {
			t.Fatalf("token for %s: %d %s", user, r.status, r.body)
		}
		var out api.ACLToken
		r.decode(t, &out)
		return out.SecretID
	}
	alice, bob := mk("alice"), mk("bob")
	// The follower knows the tokens once it has applied them.
	waitFor(t, "tokens on the follower", 20*time.Second, func() bool {
		return do(t, "GET", furl+"/v1/procs?stale", nil, tok(bob)).status == http.StatusOK
	})

	// A process on the follower's node: its start is a node report.
	r = do(t, "POST", furl+"/v1/spawn", api.SpawnRequest{Command: "sleep", Args: []string{"60"}, Node: f.Name()}, tok(alice))
	if r.status != http.StatusOK {
		t.Fatalf("spawn: %d %s", r.status, r.body)
	}
	var sp api.SpawnResponse
	r.decode(t, &sp)
	url := fmt.Sprintf("%s/v1/procs/%d", furl, sp.PID)
	waitFor(t, "the process running", 20*time.Second, func() bool {
		var p api.Process
		r := do(t, "GET", url, nil, tok(alice))
		if r.status != http.StatusOK {
			return false
		}
		r.decode(t, &p)
		return p.State == "running" && p.Owner == "alice"
	})
	if r := do(t, "POST", furl+"/v1/kill", api.KillRequest{Targets: []int64{int64(sp.PID)}, Signal: 9}, tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("bob kills through the follower: %d %s, want 403", r.status, r.body)
	}
	if r := do(t, "GET", url+"/logs", nil, tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("bob reads logs through the follower: %d %s, want 403", r.status, r.body)
	}

	// A queue alice makes on the leader's node, used from the follower's
	// through an IPC stream between the nodes.
	if r := do(t, "POST", furl+"/v1/mq", api.MQCreateRequest{Name: "/aq", Node: l.Name()}, tok(alice)); r.status != http.StatusOK {
		t.Fatalf("mq create: %d %s", r.status, r.body)
	}
	waitFor(t, "the queue's name on the follower", 20*time.Second, func() bool {
		return do(t, "POST", furl+"/v1/mq/send", api.MQSendRequest{Name: "/aq", Message: []byte("hi"), NonBlock: true}, tok(alice)).status == http.StatusOK
	})
	if r := do(t, "POST", furl+"/v1/mq/send", api.MQSendRequest{Name: "/aq", Message: []byte("x"), NonBlock: true}, tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("bob opens alice's 0600 queue: %d %s, want 403", r.status, r.body)
	}
	if r := do(t, "DELETE", furl+"/v1/mq?name=/aq", nil, tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("bob unlinks alice's queue: %d %s, want 403", r.status, r.body)
	}

	// alice's kill reaches the process, and its node reports the exit.
	if r := do(t, "POST", furl+"/v1/kill", api.KillRequest{Targets: []int64{int64(sp.PID)}, Signal: 9}, tok(alice)); r.status != http.StatusOK {
		t.Fatalf("alice kills: %d %s", r.status, r.body)
	}
	r = do(t, "GET", url+"/wait?timeout=30s", nil, tok(alice))
	var p api.Process
	r.decode(t, &p)
	if r.status != http.StatusOK || p.State != "exited" {
		t.Fatalf("wait: %d %s", r.status, r.body)
	}
}
