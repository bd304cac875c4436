package cluster

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/cluster/mtls"
	"github.com/vproc/vproc/internal/wasmtest"
)

// forbiddenErr reports whether err is the API's 403 answer.
func forbiddenErr(err error) bool {
	var se *client.StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusForbidden
}

// TestProgramsUnderACL runs the program store with ACLs on: adding a
// program takes a token whose user becomes its owner, replacing and
// removing it take its owner or a management token, and the nodes push
// and fetch the bytes with their own credentials while a user cannot.
func TestProgramsUnderACL(t *testing.T) {
	hello := wasmtest.Build(t, "../node/wasm/testdata/hello")
	c, _, names := wasmCluster(t, func(i int, cfg *Config) { cfg.ACLEnabled, cfg.AgentToken = true, testAgentToken })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	urls := make([]string, len(c.agents))
	for i, a := range c.agents {
		urls[i] = "http://" + a.HTTPAddr()
	}
	r := do(t, "POST", urls[0]+"/v1/acl/bootstrap", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("bootstrap: %d %s", r.status, r.body)
	}
	var root api.ACLToken
	r.decode(t, &root)
	mk := func(user string) string {
		r := do(t, "POST", urls[0]+"/v1/acl/tokens", api.ACLTokenRequest{User: user}, tok(root.SecretID))
		if r.status != http.StatusOK {
			t.Fatalf("token for %s: %d %s", user, r.status, r.body)
		}
		var out api.ACLToken
		r.decode(t, &out)
		return out.SecretID
	}
	alice, bob := mk("alice"), mk("bob")
	as := func(i int, secret string) *client.Client {
		cfg := client.DefaultConfig()
		cfg.Addr, cfg.Token = urls[i], secret
		cl, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}

	// Without a token: no upload, no listing.
	anon := as(1, "")
	if _, err := anon.AddProgram(ctx, "hellow", "", hello); !forbiddenErr(err) {
		t.Fatalf("anonymous add: %v, want 403", err)
	}
	if _, err := anon.Programs(ctx); !forbiddenErr(err) {
		t.Fatalf("anonymous ls: %v, want 403", err)
	}

	// alice's upload through a follower is hers and is pushed to a second
	// node with the agent's credentials; she cannot name another owner.
	a1 := as(1, alice)
	p, err := a1.AddProgram(ctx, "hellow", "", hello)
	if err != nil {
		t.Fatal(err)
	}
	if p.Owner != "alice" || len(p.Holders) != 2 {
		t.Fatalf("add: %+v, want owner alice on two nodes", p)
	}
	if _, err := a1.AddProgram(ctx, "other", "bob", hello); !forbiddenErr(err) {
		t.Fatalf("alice adds a program for bob: %v, want 403", err)
	}

	// bob sees it, but can neither replace nor remove it.
	b2 := as(2, bob)
	poll(t, 30*time.Second, func() error {
		q, err := b2.Program(ctx, "hellow")
		if err == nil && q.Owner != "alice" {
			t.Fatalf("bob's show: %+v, want alice's", q)
		}
		return err
	})
	if _, err := b2.AddProgram(ctx, "hellow", "", []byte("\x00asm bob's")); !forbiddenErr(err) {
		t.Fatalf("bob replaces alice's program: %v, want 403", err)
	}
	if err := b2.RemoveProgram(ctx, "hellow"); !forbiddenErr(err) {
		t.Fatalf("bob removes alice's program: %v, want 403", err)
	}

	// The blob routes are node traffic: a user's token is not enough.
	// Node 0 took the upload, so it holds the bytes.
	for _, secret := range []string{"", alice, root.SecretID} {
		h := map[string]string{}
		if secret != "" {
			h = tok(secret)
		}
		want := http.StatusForbidden
		if secret == root.SecretID {
			want = http.StatusOK // a management token may do everything
		}
		if r := do(t, "GET", urls[0]+api.ProgramBlobsPath+"/"+p.Hash, nil, h); r.status != want {
			t.Fatalf("blob fetch with token %q: %d %s, want %d", secret, r.status, r.body, want)
		}
	}
	if r := do(t, "PUT", urls[0]+api.ProgramBlobsPath+"/"+p.Hash, hello, tok(bob)); r.status != http.StatusForbidden {
		t.Fatalf("bob pushes a blob: %d %s, want 403", r.status, r.body)
	}

	// alice runs it on the node that does not hold it: that node fetches
	// the bytes with its own credentials.
	far := nonHolder(t, p, names)
	res, err := a1.Spawn(ctx, api.SpawnRequest{Command: "hellow", Node: names[far]})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := a1.Wait(ctx, res.PID)
	if err != nil {
		t.Fatal(err)
	}
	if proc.ExitCode == nil || *proc.ExitCode != 0 || proc.Owner != "alice" {
		t.Fatalf("hellow: %+v, want alice's, exit 0", proc)
	}

	// The owner replaces and removes her program; a management token
	// removes anyone's.
	if _, err := a1.AddProgram(ctx, "hellow", "", hello); err != nil {
		t.Fatalf("alice replaces her program: %v", err)
	}
	if err := a1.RemoveProgram(ctx, "hellow"); err != nil {
		t.Fatalf("alice removes her program: %v", err)
	}
	if _, err := b2.AddProgram(ctx, "bobs", "", hello); err != nil {
		t.Fatal(err)
	}
	if err := as(0, root.SecretID).RemoveProgram(ctx, "bobs"); err != nil {
		t.Fatalf("management removes bob's program: %v", err)
	}
	poll(t, 30*time.Second, func() error {
		if _, err := a1.Program(ctx, "bobs"); err == nil {
			return errors.New("bobs still there after its removal")
		}
		return nil
	})
}

// TestProgramsUnderTLS runs the program store on a cluster with mutual
// TLS: the push of an upload and the fetch of a node that runs a program
// it does not hold go over the nodes' own TLS connections.
func TestProgramsUnderTLS(t *testing.T) {
	hello := wasmtest.Build(t, "../node/wasm/testdata/hello")
	pki := newTestPKI(t)
	cache := wasmtest.CacheDir(t)
	c := MakeCluster(t, 3, func(i int, cfg *Config) {
		cfg.TLS = pki.server(cfg.Name)
		cfg.WasmCacheDir = cache
	})
	names := agentNames(c)
	tc := pki.client(pki, mtls.CertRequest{})
	cls := make([]*client.Client, len(c.agents))
	for i, a := range c.agents {
		cfg := client.DefaultConfig()
		cfg.Addr = a.HTTPAddr()
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		cl, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close(); cfg.HTTPClient.CloseIdleConnections() })
		cls[i] = cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := cls[0].AddProgram(ctx, "hellow", "", hello)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Holders) != 2 {
		t.Fatalf("add: %+v, want two holders", p)
	}
	far := nonHolder(t, p, names)
	res, err := cls[far].Spawn(ctx, api.SpawnRequest{Command: "hellow", Node: names[far]})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := cls[far].Wait(ctx, res.PID)
	if err != nil {
		t.Fatal(err)
	}
	if proc.ExitCode == nil || *proc.ExitCode != 0 || proc.Node != names[far] {
		t.Fatalf("hellow: %+v, want exit 0 on %s", proc, names[far])
	}
}
