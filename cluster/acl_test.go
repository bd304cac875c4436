package cluster

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

const testAgentToken = "agent-token-0123456789abcdef"

func withACL() harnessOpt {
	return func(o *harnessOpts) { o.cfg.ACLEnabled, o.cfg.AgentToken = true, testAgentToken }
}

func tok(secret string) map[string]string { return map[string]string{api.HeaderToken: secret} }

// aclHarness starts an agent with ACLs on, bootstraps it and makes tokens
// for alice and bob. It returns the management secret and theirs.
func aclHarness(t *testing.T) (h *harness, mgmt, alice, bob string) {
	t.Helper()
	h = newHarness(t, nil, true, withACL())
	r := do(t, "POST", h.url+"/v1/acl/bootstrap", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("bootstrap: status %d %s", r.status, r.body)
	}
	var root api.ACLToken
	r.decode(t, &root)
	if root.SecretID == "" || root.User != "root" || len(root.Policies) != 1 || root.Policies[0] != api.PolicyManagement {
		t.Fatalf("bootstrap token: got %+v", root)
	}
	mk := func(user string, extra func(*api.ACLTokenRequest)) string {
		req := api.ACLTokenRequest{User: user}
		if extra != nil {
			extra(&req)
		}
		r := do(t, "POST", h.url+"/v1/acl/tokens", req, tok(root.SecretID))
		if r.status != http.StatusOK {
			t.Fatalf("token for %s: status %d %s", user, r.status, r.body)
		}
		var out api.ACLToken
		r.decode(t, &out)
		if out.SecretID == "" || out.User != user {
			t.Fatalf("token for %s: got %+v", user, out)
		}
		return out.SecretID
	}
	return h, root.SecretID, mk("alice", nil), mk("bob", nil)
}

func spawnAs(t *testing.T, h *harness, secret string, req api.SpawnRequest) (uint64, resp) {
	t.Helper()
	r := do(t, "POST", h.url+"/v1/spawn", req, tok(secret))
	if r.status != http.StatusOK {
		return 0, r
	}
	var out api.SpawnResponse
	r.decode(t, &out)
	return out.PID, r
}

func TestACLAnonymousDenied(t *testing.T) {
	h := newHarness(t, nil, true, withACL())
	pid := h.c.apply(&fsm.Spawn{Parent: fsm.InitPID, Owner: "alice", Spec: fsm.Spec{Command: "sleep", Args: []string{"30"}, Env: []string{"DB_PASSWORD=hunter2"}}}).PID
	cases := []struct{ method, path string }{
		{"POST", "/v1/spawn"},
		{"POST", "/v1/kill"},
		{"GET", "/v1/procs"},
		{"GET", fmt.Sprintf("/v1/procs/%d", pid)},
		{"GET", fmt.Sprintf("/v1/procs/%d/logs", pid)},
		{"GET", fmt.Sprintf("/v1/procs/%d/wait?timeout=1s", pid)},
		{"GET", "/v1/snapshot"},
		{"PUT", "/v1/snapshot"},
		{"GET", "/v1/nodes"},
		{"GET", "/v1/operator/raft/peers"},
		{"PUT", "/v1/operator/scheduler"},
		{"POST", "/v1/internal/command"},
		{"POST", "/v1/internal/lease"},
		{"POST", "/v1/mq"},
		{"GET", "/v1/acl/tokens"},
	}
	for _, c := range cases {
		r := do(t, c.method, h.url+c.path, "{}", nil)
		if r.status != http.StatusForbidden || r.err().Code != api.CodeForbidden {
			t.Errorf("anonymous %s %s: got %d %s, want 403 forbidden", c.method, c.path, r.status, r.body)
		}
		if strings.Contains(string(r.body), "hunter2") {
			t.Errorf("anonymous %s %s: the answer shows the env", c.method, c.path)
		}
	}
	// An unknown token is no better.
	if r := do(t, "GET", h.url+"/v1/procs", nil, tok("no-such-token")); r.status != http.StatusForbidden {
		t.Errorf("unknown token: got %d, want 403", r.status)
	}
	// Probes still work.
	if r := do(t, "GET", h.url+"/v1/health", nil, nil); r.status == http.StatusForbidden {
		t.Errorf("health: got 403, want it open to probes")
	}
}

func TestACLBootstrapOnce(t *testing.T) {
	h, mgmt, _, bob := aclHarness(t)
	if r := do(t, "POST", h.url+"/v1/acl/bootstrap", nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("second bootstrap: got %d %s, want 403", r.status, r.body)
	}
	var list api.ACLTokenList
	r := do(t, "GET", h.url+"/v1/acl/tokens", nil, tok(mgmt))
	r.decode(t, &list)
	if len(list.Tokens) != 3 {
		t.Fatalf("tokens: got %d, want 3: %s", len(list.Tokens), r.body)
	}
	for _, tk := range list.Tokens {
		if tk.SecretID != "" {
			t.Fatalf("the list shows a secret: %+v", tk)
		}
	}
	if r := do(t, "GET", h.url+"/v1/acl/tokens", nil, tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("bob lists tokens: got %d, want 403", r.status)
	}
	var self api.ACLToken
	do(t, "GET", h.url+"/v1/acl/token/self", nil, tok(bob)).decode(t, &self)
	if self.User != "bob" || self.SecretID != "" {
		t.Fatalf("self: got %+v", self)
	}
	// A deleted token stops working.
	var bobAcc string
	for _, tk := range list.Tokens {
		if tk.User == "bob" {
			bobAcc = tk.AccessorID
		}
	}
	if r := do(t, "DELETE", h.url+"/v1/acl/tokens/"+bobAcc, nil, tok(mgmt)); r.status != http.StatusOK {
		t.Fatalf("delete: got %d %s", r.status, r.body)
	}
	if r := do(t, "GET", h.url+"/v1/procs", nil, tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("deleted token: got %d, want 403", r.status)
	}
	// Root is kept for management tokens.
	if r := do(t, "POST", h.url+"/v1/acl/tokens", api.ACLTokenRequest{User: "root"}, tok(mgmt)); r.status != http.StatusBadRequest {
		t.Fatalf("a user token for root: got %d, want 400", r.status)
	}
}

func TestACLOwnership(t *testing.T) {
	h, mgmt, alice, bob := aclHarness(t)
	// The owner is the token's user; a request cannot choose another.
	if _, r := spawnAs(t, h, alice, api.SpawnRequest{Command: "sleep", Args: []string{"30"}, Owner: "root"}); r.status != http.StatusForbidden {
		t.Fatalf("spawn with owner root: got %d %s, want 403", r.status, r.body)
	}
	pid, r := spawnAs(t, h, alice, api.SpawnRequest{Command: "sleep", Args: []string{"30"}, Env: []string{"DB_PASSWORD=hunter2"}})
	if pid == 0 {
		t.Fatalf("alice spawns: %d %s", r.status, r.body)
	}
	if p, _ := h.proc(pid); p.Owner != "alice" {
		t.Fatalf("owner: got %q, want alice", p.Owner)
	}
	h.waitState(pid, fsm.StateRunning)
	url := fmt.Sprintf("%s/v1/procs/%d", h.url, pid)

	// bob sees the process but not its env, and may not touch it.
	var p api.Process
	do(t, "GET", url, nil, tok(bob)).decode(t, &p)
	if p.Owner != "alice" || len(p.Env) != 0 {
		t.Fatalf("bob's view: got owner %q env %v, want alice and no env", p.Owner, p.Env)
	}
	for _, c := range []struct{ method, url string }{
		{"GET", url + "/wait?timeout=1s"},
		{"GET", url + "/logs"},
		{"POST", url + "/stdin"},
	} {
		if r := do(t, c.method, c.url, "", tok(bob)); r.status != http.StatusForbidden {
			t.Errorf("bob %s %s: got %d %s, want 403", c.method, c.url, r.status, r.body)
		}
	}
	for _, target := range []int64{int64(pid), -int64(pid)} {
		r := do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{target}, Signal: 9}, tok(bob))
		if r.status != http.StatusForbidden {
			t.Errorf("bob kills %d: got %d %s, want 403", target, r.status, r.body)
		}
	}
	if p, _ := h.proc(pid); !p.State.Live() || p.Killed {
		t.Fatalf("bob's kill reached the process: %+v", p)
	}
	// bob may not read or restore snapshots.
	if r := do(t, "GET", h.url+"/v1/snapshot", nil, tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("bob saves a snapshot: got %d, want 403", r.status)
	}
	if r := do(t, "PUT", h.url+"/v1/snapshot", "x", tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("bob restores a snapshot: got %d, want 403", r.status)
	}
	// alice sees her env, and the management token can too.
	for _, secret := range []string{alice, mgmt} {
		do(t, "GET", url, nil, tok(secret)).decode(t, &p)
		if len(p.Env) != 1 || p.Env[0] != "DB_PASSWORD=hunter2" {
			t.Fatalf("owner's view: env %v", p.Env)
		}
	}
	// The snapshot holds no token secret.
	r = do(t, "GET", h.url+"/v1/snapshot", nil, tok(mgmt))
	if r.status != http.StatusOK {
		t.Fatalf("management saves a snapshot: got %d %s", r.status, r.body)
	}
	for _, secret := range []string{mgmt, alice, bob} {
		if strings.Contains(string(r.body), secret) {
			t.Fatal("a snapshot holds a token's secret")
		}
	}
	// alice kills her own process.
	if r := do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{int64(pid)}, Signal: 9}, tok(alice)); r.status != http.StatusOK {
		t.Fatalf("alice kills her process: got %d %s", r.status, r.body)
	}
	h.waitState(pid, fsm.StateExited)
}

func TestACLForgedNodeReport(t *testing.T) {
	h, _, alice, _ := aclHarness(t)
	pid, _ := spawnAs(t, h, alice, api.SpawnRequest{Command: "sleep", Args: []string{"30"}})
	h.waitState(pid, fsm.StateRunning)
	forged := fsm.Encode(&fsm.Exited{PID: pid, Incarnation: 1, Node: "n1", Status: fsm.Status{Exited: true}, Now: time.Now().UnixNano()})
	for _, secret := range []string{"", alice, "not-the-agent-token-at-all"} {
		hdr := map[string]string{api.HeaderNode: "n1", "Content-Type": "application/octet-stream"}
		if secret != "" {
			hdr[api.HeaderToken] = secret
		}
		if r := do(t, "POST", h.url+"/v1/internal/command", forged, hdr); r.status != http.StatusForbidden {
			t.Fatalf("forged report with token %q: got %d %s, want 403", secret, r.status, r.body)
		}
		if r := do(t, "POST", h.url+"/v1/internal/lease", nil, hdr); r.status != http.StatusForbidden {
			t.Fatalf("forged lease renewal with token %q: got %d %s, want 403", secret, r.status, r.body)
		}
	}
	if p, _ := h.proc(pid); p.State != fsm.StateRunning {
		t.Fatalf("a forged report changed the process: %s", p.State)
	}
	// The node's own reports (with the agent token) still go through: the
	// process exits when it is killed.
	do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{int64(pid)}, Signal: 15}, tok(alice))
	h.waitState(pid, fsm.StateExited)
}

func TestACLQuota(t *testing.T) {
	h, mgmt, _, _ := aclHarness(t)
	r := do(t, "POST", h.url+"/v1/acl/tokens", api.ACLTokenRequest{User: "carol", MaxProcs: 1, MaxIPC: 1}, tok(mgmt))
	var carol api.ACLToken
	r.decode(t, &carol)
	if pid, r := spawnAs(t, h, carol.SecretID, api.SpawnRequest{Command: "sleep", Args: []string{"30"}}); pid == 0 {
		t.Fatalf("first spawn: %d %s", r.status, r.body)
	}
	if _, r := spawnAs(t, h, carol.SecretID, api.SpawnRequest{Command: "sleep", Args: []string{"30"}}); r.status != http.StatusTooManyRequests || r.err().Code != api.CodeQuotaExceeded {
		t.Fatalf("second spawn: got %d %s, want 429 quota_exceeded", r.status, r.body)
	}
}

func TestACLOffKeepsOwnerChoice(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"30"}, Owner: "dave"})
	if p, _ := h.proc(pid); p.Owner != "dave" {
		t.Fatalf("owner with ACLs off: got %q, want dave", p.Owner)
	}
	if r := do(t, "POST", h.url+"/v1/acl/bootstrap", nil, nil); r.status != http.StatusBadRequest {
		t.Fatalf("bootstrap with ACLs off: got %d, want 400", r.status)
	}
}

func TestACLSpawnBatchOwners(t *testing.T) {
	h, _, alice, _ := aclHarness(t)
	body := api.SpawnBatchRequest{Items: []api.SpawnBatchItem{
		{Spawn: api.SpawnRequest{Command: "sleep", Args: []string{"30"}}},
		{Spawn: api.SpawnRequest{Command: "sleep", Args: []string{"30"}, Owner: "root"}},
	}}
	r := do(t, "POST", h.url+"/v1/spawn/batch", body, tok(alice))
	if r.status != http.StatusOK {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var out api.SpawnBatchResponse
	r.decode(t, &out)
	if len(out.Results) != 2 || out.Results[0].PID == 0 || out.Results[1].Status != http.StatusForbidden {
		t.Fatalf("batch results: %+v", out.Results)
	}
	if p, _ := h.proc(out.Results[0].PID); p.Owner != "alice" {
		t.Fatalf("batch item owner: got %q, want alice", p.Owner)
	}
	if r := do(t, "POST", h.url+"/v1/spawn/batch", body, nil); r.status != http.StatusForbidden {
		t.Fatalf("anonymous batch: got %d, want 403", r.status)
	}
}

// TestACLUnknownTokenWithoutLeader: a follower that cannot ask a leader
// about a token it does not know answers 503, which clients retry, not a
// refusal.
func TestACLUnknownTokenWithoutLeader(t *testing.T) {
	c := newFakeCore(t, "n1")
	h := newHarness(t, c, false, withACL())
	c.setLeader("", "", false)
	r := do(t, "GET", h.url+"/v1/procs?stale", nil, tok("a-token-made-a-moment-ago"))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s, want 503", r.status, r.body)
	}
}
