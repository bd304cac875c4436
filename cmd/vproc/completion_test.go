package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster"
)

// testAgent starts a single in-memory agent on free loopback ports, with
// the changes tweak makes to its configuration, and returns its address.
func testAgent(t *testing.T, tweak func(*cluster.Config)) string {
	t.Helper()
	cfg := cluster.DevConfig()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return "http://" + a.HTTPAddr()
}

// candidates runs cobra's completion of args against addr and returns
// the candidates, without their descriptions.
func candidates(t *testing.T, addr string, args ...string) []string {
	t.Helper()
	r := runCLI(t, addr, "", append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %q: got %+v", args, r)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.HasPrefix(l, ":") { // the directive
			continue
		}
		name, _, _ := strings.Cut(l, "\t")
		out = append(out, name)
	}
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCompletionFromAgent completes PIDs, node names and IPC names from a
// real agent, as a shell does through "vproc __complete".
func TestCompletionFromAgent(t *testing.T) {
	addr := testAgent(t, nil)
	must := func(args ...string) string {
		t.Helper()
		r := runCLI(t, addr, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: got %+v", args, r)
		}
		return strings.TrimSpace(r.stdout)
	}
	pid := must("spawn", "--", "sleep", "60")
	other := must("spawn", "--", "sleep", "60")
	must("mq", "create", "/jobs")
	must("fifo", "create", "/events")
	t.Cleanup(func() { runCLI(t, addr, "", "kill", "-s", "KILL", pid, other) })

	if got := candidates(t, addr, "kill", ""); !has(got, pid) || !has(got, other) || has(got, "1") {
		t.Errorf("kill: got %q, want PIDs %s and %s and not init", got, pid, other)
	}
	if got := candidates(t, addr, "kill", "-s", "KILL", pid, ""); has(got, pid) || !has(got, other) {
		t.Errorf("kill -s KILL %s: got %q, want only %s", pid, got, other)
	}
	if got := candidates(t, addr, "kill", "-s", ""); !has(got, "TERM") || !has(got, "KILL") || has(got, pid) {
		t.Errorf("kill -s: got %q, want signal names", got)
	}
	if got := candidates(t, addr, "wait", pid, ""); has(got, pid) || !has(got, other) {
		t.Errorf("wait %s: got %q, want %s only", pid, got, other)
	}
	if got := candidates(t, addr, "logs", ""); !has(got, pid) {
		t.Errorf("logs: got %q, want %s", got, pid)
	}
	if got := candidates(t, addr, "logs", pid, ""); len(got) != 0 {
		t.Errorf("logs %s: got %q, want nothing more", pid, got)
	}
	if got := candidates(t, addr, "spawn", "--node", ""); len(got) != 1 || got[0] != "dev" {
		t.Errorf("spawn --node: got %q, want the node dev", got)
	}
	if got := candidates(t, addr, "mq", "send", ""); len(got) != 1 || got[0] != "/jobs" {
		t.Errorf("mq send: got %q, want /jobs", got)
	}
	if got := candidates(t, addr, "fifo", "rm", ""); len(got) != 1 || got[0] != "/events" {
		t.Errorf("fifo rm: got %q, want /events", got)
	}
	if got := candidates(t, addr, "ps", "-o", ""); len(got) != 2 || got[0] != "table" || got[1] != "json" {
		t.Errorf("ps -o: got %q, want table and json", got)
	}
	if got := candidates(t, addr, "mq", "cr"); len(got) != 1 || got[0] != "create" {
		t.Errorf("mq cr: got %q, want create", got)
	}
}

// TestCompletionWithoutAgent checks that a completion is silent and quick
// when the agent does not answer.
func TestCompletionWithoutAgent(t *testing.T) {
	start := time.Now()
	r := runCLI(t, unreachable(t), "", "__complete", "kill", "")
	// cobra tells the shell's debug log the directive on stderr; the
	// shell scripts drop it.
	if r.code != 0 || strings.TrimSpace(r.stdout) != ":36" || strings.Contains(r.stderr, "vproc:") {
		t.Errorf("got %+v, want only the directive", r)
	}
	if got := candidates(t, unreachable(t), "wait", ""); len(got) != 0 {
		t.Errorf("got candidates %q from no agent", got)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("took %v", d)
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_vproc",
		"zsh":  "#compdef vproc",
		"fish": "complete -c vproc",
	} {
		r := runCLI(t, unreachable(t), "", "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("completion %s: got exit %d, %d bytes, want a script with %q", shell, r.code, len(r.stdout), want)
		}
	}
	if r := runCLI(t, unreachable(t), "", "completion", "tcsh"); r.code != 1 || !strings.Contains(r.stderr, `unknown command "tcsh"`) {
		t.Errorf("completion tcsh: got %+v", r)
	}
}
