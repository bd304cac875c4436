package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster"
)

// aclAgent starts a dev-like agent with ACLs on and returns its address.
func aclAgent(t *testing.T) string {
	t.Helper()
	return devAgent(t, func(cfg *cluster.Config) {
		cfg.ACLEnabled, cfg.AgentToken = true, "acl-test-agent-token-0123456789"
	})
}

// devAgent starts a dev agent on free loopback ports, its configuration
// adjusted by adjust, stops it at the end of the test and returns its
// address.
func devAgent(t *testing.T, adjust func(*cluster.Config)) string {
	t.Helper()
	cfg := cluster.DevConfig()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	adjust(&cfg)
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

// vprocAs runs the CLI against addr with token as VPROC_TOKEN.
func vprocAs(addr, token string, args ...string) result {
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		switch k {
		case "VPROC_ADDR":
			return addr
		case "VPROC_TOKEN":
			return token
		case "USER":
			return "someone"
		}
		return ""
	}}
	code := run(context.Background(), args, e)
	return result{code, stdout.String(), stderr.String()}
}

// TestACLQuietAndDenials runs, through the CLI, the ACL steps of the
// README's "Secure cluster" walk-through (which test/secure runs whole
// under TLS) against an agent with ACLs on and without TLS: -q prints
// only a secret that works as VPROC_TOKEN, and an anonymous request and
// another user's kill are denied with one line that names the reason.
func TestACLQuietAndDenials(t *testing.T) {
	addr := aclAgent(t)
	secret := func(token string, args ...string) string {
		t.Helper()
		r := vprocAs(addr, token, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		s := strings.TrimSuffix(r.stdout, "\n")
		if s == "" || strings.ContainsAny(s, " \t\n:") {
			t.Fatalf("%v: stdout %q, want the secret alone on one line", args, r.stdout)
		}
		return s
	}
	mgmt := secret("", "acl", "bootstrap", "-q")
	if r := vprocAs(addr, mgmt, "acl", "token", "self"); r.code != 0 || !strings.Contains(r.stdout, "management") {
		t.Fatalf("acl token self with the bootstrap secret: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	alice := secret(mgmt, "acl", "token", "create", "--user", "alice", "--max-procs", "100", "--max-ipc", "20", "-q")
	bob := secret(mgmt, "acl", "token", "create", "--user", "bob", "-q")
	if r := vprocAs(addr, alice, "acl", "token", "self"); r.code != 0 || !strings.Contains(r.stdout, "alice") {
		t.Fatalf("acl token self as alice: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	r := vprocAs(addr, alice, "spawn", "--env", "DB_PASSWORD=s3cret", "--", "sleep", "600")
	if r.code != 0 {
		t.Fatalf("spawn as alice: exit %d, %q", r.code, r.stderr)
	}
	pid := strings.TrimSpace(r.stdout)
	denied := func(token, want string, args ...string) {
		t.Helper()
		r := vprocAs(addr, token, args...)
		if r.code == 0 {
			t.Fatalf("%v: succeeded, want it denied; stdout %q", args, r.stdout)
		}
		checkOneLine(t, args, r.stderr)
		if !strings.HasPrefix(r.stderr, want) {
			t.Fatalf("%v: stderr %q, want it to start %q", args, r.stderr, want)
		}
	}
	denied(bob, fmt.Sprintf("vproc: kill: pid %s belongs to alice, not bob", pid), "kill", pid)
	denied("", "vproc: ps: an ACL token is needed", "ps")
	if r := vprocAs(addr, alice, "kill", pid); r.code != 0 {
		t.Fatalf("alice's own kill: exit %d, %q", r.code, r.stderr)
	}
	if r := vprocAs(addr, mgmt, "acl", "token", "list"); r.code != 0 || !strings.Contains(r.stdout, "bob") {
		t.Fatalf("acl token list: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// A second bootstrap is refused, -q or not.
	if r := vprocAs(addr, "", "acl", "bootstrap", "-q"); r.code == 0 || r.stdout != "" {
		t.Fatalf("second bootstrap: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestACLQuietExcludesJSON checks that -q and -o json, which each say what
// to print, are refused together before any request.
func TestACLQuietExcludesJSON(t *testing.T) {
	for _, args := range [][]string{
		{"acl", "bootstrap", "-q", "-o", "json"},
		{"acl", "token", "create", "--user", "alice", "-q", "-o", "json"},
	} {
		r := vprocAs(unreachable(t), "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "-q and -o json exclude each other") {
			t.Errorf("%v: exit %d, stderr %q; want the usage error", args, r.code, r.stderr)
		}
	}
}
