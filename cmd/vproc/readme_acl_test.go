package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster"
)

// TestReadmeACLSteps runs the ACL steps of the README's "Secure cluster"
// section, line by line, against an agent with ACLs on: a line whose
// comment says "denied" must fail with one line that names the reason,
// every other line must succeed. The secrets the lines name in angle
// brackets are those the earlier lines printed.
func TestReadmeACLSteps(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- acl-steps:[^>]*-->\n```sh\n(.*?)```\n<!-- end acl-steps -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README has no acl-steps block")
	}
	cfg := cluster.DevConfig()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.ACLEnabled, cfg.AgentToken = true, "readme-agent-token-0123456789"
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
	addr := "http://" + a.HTTPAddr()

	secrets := map[string]string{} // "management", "alice", "bob" → SecretID
	token := ""                    // the exported VPROC_TOKEN
	secretRE := regexp.MustCompile(`SecretID:\s+(\S+)`)
	userRE := regexp.MustCompile(`User:\s+(\S+)`)
	placeholder := regexp.MustCompile(`^<(\S+) SecretID>$`)
	lookup := func(v string) string {
		if v == "" {
			return ""
		}
		pm := placeholder.FindStringSubmatch(v)
		if pm == nil || secrets[pm[1]] == "" {
			t.Fatalf("unknown secret %q", v)
		}
		return secrets[pm[1]]
	}
	for _, line := range strings.Split(strings.TrimSpace(string(m[1])), "\n") {
		cmd, comment, _ := strings.Cut(line, "#")
		cmd = strings.TrimSpace(cmd)
		if v, ok := strings.CutPrefix(cmd, "export VPROC_TOKEN="); ok {
			token = lookup(v)
			continue
		}
		tok := token
		if rest, ok := strings.CutPrefix(cmd, "VPROC_TOKEN="); ok {
			v, after, _ := strings.Cut(rest, " vproc ")
			if strings.HasPrefix(rest, " vproc ") {
				v, after = "", strings.TrimPrefix(rest, " vproc ")
			}
			tok, cmd = lookup(strings.TrimSpace(v)), "vproc "+after
		}
		args := strings.Fields(strings.TrimPrefix(cmd, "vproc "))
		var stdout, stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
			switch k {
			case "VPROC_ADDR":
				return addr
			case "VPROC_TOKEN":
				return tok
			case "USER":
				return "someone"
			}
			return ""
		}}
		code := run(context.Background(), args, e)
		denied := strings.Contains(comment, "denied")
		switch {
		case denied && code == 0:
			t.Fatalf("%q: succeeded, want it denied; stdout %q", line, stdout.String())
		case denied:
			checkOneLine(t, args, stderr.String())
			want := strings.TrimSpace(strings.SplitN(comment, "denied:", 2)[1])
			if !strings.HasPrefix(stderr.String(), want) {
				t.Fatalf("%q: got stderr %q, want it to start %q", line, stderr.String(), want)
			}
		case code != 0:
			t.Fatalf("%q: exit %d, stderr %q", line, code, stderr.String())
		}
		if sm := secretRE.FindStringSubmatch(stdout.String()); sm != nil {
			user := userRE.FindStringSubmatch(stdout.String())[1]
			if user == "root" {
				user = "management"
			}
			secrets[user] = sm[1]
		}
		t.Logf("%s\n%s%s", line, stdout.String(), stderr.String())
	}
	if len(secrets) != 3 {
		t.Fatalf("secrets made: %v, want management, alice and bob", secrets)
	}
}
