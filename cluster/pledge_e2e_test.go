package cluster

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// TestSpawnPledgeEnforced: a process spawned with --pledge "stdio" that
// opens a queue dies of SIGABRT, and the table and the API show why.
func TestSpawnPledgeEnforced(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "mqsend", Args: []string{"-c", "/q", "hi"}, Pledge: "stdio"})
	p := h.waitState(pid, fsm.StateExited)
	if p.Status.Signal != 6 || p.Status.Reason != `pledge "ipc" needed by mq_open` {
		t.Fatalf("got status %+v, want SIGABRT with the pledge reason", p.Status)
	}
	var out api.Process
	do(t, "GET", fmt.Sprintf("%s/v1/procs/%d", h.url, pid), nil, nil).decode(t, &out)
	if out.Signal == nil || *out.Signal != 6 || out.Reason != `pledge "ipc" needed by mq_open` || out.Pledge != "stdio" {
		t.Fatalf("API: got signal %v reason %q pledge %q", out.Signal, out.Reason, out.Pledge)
	}
	// With ipc held it runs.
	pid = h.spawn(api.SpawnRequest{Command: "mqsend", Args: []string{"-c", "/q2", "hi"}, Pledge: "stdio ipc"})
	if p := h.waitState(pid, fsm.StateExited); !p.Status.Exited || p.Status.Code != 0 {
		t.Fatalf("with ipc: got %+v", p.Status)
	}
	// Bad grammar is a 400.
	for _, req := range []api.SpawnRequest{
		{Command: "true", Pledge: "stdio fly"},
		{Command: "true", Unveil: []string{"relative:r"}},
		{Command: "true", Unveil: []string{"/data:rq"}},
	} {
		if r := do(t, "POST", h.url+"/v1/spawn", req, nil); r.status != http.StatusBadRequest {
			t.Errorf("spawn %+v: got %d, want 400", req, r.status)
		}
	}
}

// TestSpawnUnveilEnforced: a process unveiled to /allowed cannot read
// /secret.txt.
func TestSpawnUnveilEnforced(t *testing.T) {
	h := newHarness(t, nil, true)
	w := h.spawn(api.SpawnRequest{Command: "sh", Args: []string{"-c", "echo DB_PASSWORD=x > /secret.txt"}})
	if p := h.waitState(w, fsm.StateExited); p.Status.Code != 0 {
		t.Fatalf("writing the secret: %+v", p.Status)
	}
	pid := h.spawn(api.SpawnRequest{Command: "cat", Args: []string{"/secret.txt"}, Unveil: []string{"/allowed:r"}})
	if p := h.waitState(pid, fsm.StateExited); p.Status.Code == 0 {
		t.Fatalf("an unveiled cat read /secret.txt: %+v", p.Status)
	}
	r := do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", h.url, pid), nil, nil)
	if string(r.body) == "DB_PASSWORD=x\n" {
		t.Fatal("the secret is in the logs")
	}
	pid = h.spawn(api.SpawnRequest{Command: "cat", Args: []string{"/secret.txt"}})
	if p := h.waitState(pid, fsm.StateExited); p.Status.Code != 0 {
		t.Fatalf("cat without unveil: %+v", p.Status)
	}
}
