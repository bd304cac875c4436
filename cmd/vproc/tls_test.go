package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/mtls"
)

func TestTLSCommands(t *testing.T) {
	dir := t.TempDir()
	in := func(name string) string { return filepath.Join(dir, name) }
	cli := func(args ...string) result {
		t.Helper()
		return runCLI(t, "", "", args...)
	}
	if r := cli("tls", "ca", "create", "--dir", dir); r.code != 0 {
		t.Fatalf("ca create: %d %s", r.code, r.stderr)
	}
	if r := cli("tls", "ca", "create", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("a second ca create: %d %q, want 1 and an error naming the existing file", r.code, r.stderr)
	}
	caFlags := []string{"--ca", in(mtls.CAFile), "--key", in(mtls.CAKeyFile), "--dir", dir}
	if r := cli(append([]string{"tls", "cert", "create", "--server", "--node", "n1"}, caFlags...)...); r.code != 0 {
		t.Fatalf("cert create --server: %d %s", r.code, r.stderr)
	}
	for i := 0; i < 2; i++ {
		if r := cli(append([]string{"tls", "cert", "create", "--client"}, caFlags...)...); r.code != 0 {
			t.Fatalf("cert create --client: %d %s", r.code, r.stderr)
		}
	}
	for _, bad := range [][]string{
		{"tls", "cert", "create"},
		{"tls", "cert", "create", "--server", "--client"},
		{"tls", "cert", "create", "--client", "--node", "n1"},
		{"tls", "cert", "create", "--server", "--node", "a.b"},
	} {
		if r := cli(append(bad, caFlags...)...); r.code == 0 {
			t.Errorf("%v: exit 0, want an error", bad)
		} else {
			checkOneLine(t, bad, strings.SplitN(r.stderr, "\nUsage:", 2)[0]+"\n")
		}
	}
	srv, err := mtls.Load(mtls.Config{CAFile: in(mtls.CAFile), CertFile: in("server-vproc-n1.pem"), KeyFile: in("server-vproc-n1-key.pem")})
	if err != nil || srv.Node() != "n1" {
		t.Fatalf("the server certificate: %v, node %q", err, srv.Node())
	}
	for _, n := range []string{"0", "1"} {
		c, err := mtls.Load(mtls.Config{CAFile: in(mtls.CAFile), CertFile: in("client-vproc-" + n + ".pem"), KeyFile: in("client-vproc-" + n + "-key.pem")})
		if err != nil || c.Node() != "" {
			t.Fatalf("client certificate %s: %v, node %q", n, err, c.Node())
		}
	}
	if fi, err := os.Stat(in("server-vproc-n1-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the key's mode: %v %v, want 0600", fi.Mode(), err)
	}

	r := cli("keygen")
	if r.code != 0 {
		t.Fatalf("keygen: %d %s", r.code, r.stderr)
	}
	if _, err := membership.DecodeKey(strings.TrimSpace(r.stdout)); err != nil {
		t.Errorf("keygen printed %q: %v", r.stdout, err)
	}
	if r := cli("operator", "keyring", "install", "not-a-key"); r.code != 1 {
		t.Errorf("keyring install of a bad key: exit %d, want 1", r.code)
	}
}
