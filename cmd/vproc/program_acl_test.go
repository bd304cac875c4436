package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster"
	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/internal/wasmtest"
)

// TestProgramVerbsUnderACL runs the program verbs against an agent with
// ACLs on: without a token nothing is listed or added; an upload belongs
// to the token's user, whatever $USER says; another user can neither
// replace nor remove it; its owner and a management token can.
func TestProgramVerbsUnderACL(t *testing.T) {
	addr := testAgent(t, func(cfg *cluster.Config) {
		cfg.ACLEnabled, cfg.AgentToken = true, "program-agent-token-0123456789"
		cfg.WasmCacheDir = wasmtest.CacheDir(t)
	})
	hello := wasmtest.Build(t, "../../node/wasm/testdata/hello")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ccfg := client.DefaultConfig()
	ccfg.Addr = addr
	c, err := client.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root, err := c.ACLBootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ccfg.Token = root.SecretID
	mc, err := client.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	secret := map[string]string{"management": root.SecretID}
	for _, u := range []string{"alice", "bob"} {
		tk, err := mc.ACLTokenCreate(ctx, api.ACLTokenRequest{User: u})
		if err != nil {
			t.Fatal(err)
		}
		secret[u] = tk.SecretID
	}
	file := filepath.Join(t.TempDir(), "mine.wasm")
	if err := os.WriteFile(file, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	// as runs the CLI with who's token (none for ""), as the Unix user
	// "mallory", who is none of the token users.
	as := func(who string, args ...string) result {
		var stdout, stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
			switch k {
			case "VPROC_ADDR":
				return addr
			case "VPROC_TOKEN":
				return secret[who]
			case "USER":
				return "mallory"
			}
			return ""
		}}
		code := run(context.Background(), args, e)
		return result{code, stdout.String(), stderr.String()}
	}
	denied := func(r result, what, want string) {
		t.Helper()
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Fatalf("%s: %+v, want refused with %q", what, r, want)
		}
	}

	denied(as("", "program", "add", "mine", file), "anonymous add", "token")
	denied(as("", "program", "ls"), "anonymous ls", "token")

	if r := as("alice", "program", "add", "mine", file); r.code != 0 {
		t.Fatalf("alice's add: %+v", r)
	}
	r := as("bob", "program", "show", "mine", "-o", "json")
	var p api.Program
	if err := json.Unmarshal([]byte(r.stdout), &p); r.code != 0 || err != nil || p.Owner != "alice" {
		t.Fatalf("show: %+v, want alice's program", r)
	}
	denied(as("bob", "program", "rm", "mine"), "bob's rm", "belongs to alice")
	denied(as("bob", "program", "add", "mine", file), "bob's replace", "belongs to alice")
	if r := as("alice", "program", "rm", "mine"); r.code != 0 {
		t.Fatalf("alice's rm: %+v", r)
	}
	if r := as("bob", "program", "add", "mine", file); r.code != 0 {
		t.Fatalf("bob's add of the free name: %+v", r)
	}
	denied(as("alice", "program", "rm", "mine"), "alice's rm of bob's", "belongs to bob")
	if r := as("management", "program", "rm", "mine"); r.code != 0 {
		t.Fatalf("management rm: %+v", r)
	}
	if r := as("management", "program", "ls", "-o", "json"); r.code != 0 || strings.Contains(r.stdout, "mine") {
		t.Fatalf("ls after the removals: %+v", r)
	}

	// run --wasm uploads as the token's user, and runs.
	hfile := filepath.Join(t.TempDir(), "hellow.wasm")
	if err := os.WriteFile(hfile, hello, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := as("alice", "run", "--wasm", hfile); r.code != 0 || r.stdout != "hello, world\n" {
		t.Fatalf("alice's run --wasm: %+v", r)
	}
	denied(as("bob", "run", "--wasm", hfile), "bob's run --wasm over alice's program", "belongs to alice")
}
