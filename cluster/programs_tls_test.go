package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/mtls"
	"github.com/vproc/vproc/internal/wasmtest"
)

// TestProgramsUnderTLSAndACLs uploads a program to a cluster with TLS, a
// gossip key and ACLs: the node that takes the upload pushes the bytes to
// a second node as node traffic, over mutual TLS under its certificate,
// and the upload is acknowledged with two holders.
func TestProgramsUnderTLSAndACLs(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow multi-node test; skipped with -short")
	}
	hello := wasmtest.Build(t, "../node/wasm/testdata/hello")
	pki := newTestPKI(t)
	key, err := membership.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cache := wasmtest.CacheDir(t)
	c := MakeCluster(t, 3, func(i int, cfg *Config) {
		cfg.TLS = pki.server(cfg.Name)
		cfg.EncryptKey = key
		cfg.ACLEnabled = true
		cfg.WasmCacheDir = cache
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	connect := func(token string) *client.Client {
		cfg := client.DefaultConfig()
		cfg.Addr = c.leader().HTTPAddr()
		cfg.TLS = pki.client(pki, mtls.CertRequest{})
		cfg.Token = token
		cl, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	mgmt, err := connect("").ACLBootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := connect(mgmt.SecretID).AddProgram(ctx, "hellow", "", hello)
	if err != nil {
		t.Fatalf("upload under TLS and ACLs: %v", err)
	}
	if len(p.Holders) != 2 {
		t.Fatalf("upload: holders %v, want two nodes", p.Holders)
	}
}
