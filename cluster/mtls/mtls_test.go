package mtls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func mustCA(t *testing.T) PEM {
	t.Helper()
	ca, err := CreateCA(1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustCert(t *testing.T, ca PEM, req CertRequest) PEM {
	t.Helper()
	req.Days = 1
	c, err := CreateCert(ca, req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServerCertificateNamesItsNode(t *testing.T) {
	ca := mustCA(t)
	s, err := New(ca.Cert, mustCert(t, ca, CertRequest{Server: true, Node: "n1"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Node() != "n1" {
		t.Errorf("Node() = %q, want n1", s.Node())
	}
	leaf := s.cert.Leaf
	for _, want := range []string{ServerName, NodeSAN("n1"), "localhost"} {
		if err := leaf.VerifyHostname(want); err != nil {
			t.Errorf("server certificate does not name %s: %v", want, err)
		}
	}
	c, err := New(ca.Cert, mustCert(t, ca, CertRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node() != "" {
		t.Errorf("a client certificate names node %q", c.Node())
	}
}

func TestCertificateErrors(t *testing.T) {
	ca, other := mustCA(t), mustCA(t)
	for _, tc := range []struct {
		name string
		ca   PEM
		req  CertRequest
	}{
		{"server without a node", ca, CertRequest{Server: true, Days: 1}},
		{"node not a DNS label", ca, CertRequest{Server: true, Node: "a.b", Days: 1}},
		{"client naming a node", ca, CertRequest{Node: "n1", Days: 1}},
		{"no validity", ca, CertRequest{}},
		{"not a CA", mustCert(t, ca, CertRequest{Server: true, Node: "x"}), CertRequest{Days: 1}},
		{"garbage CA", PEM{Cert: []byte("x"), Key: []byte("y")}, CertRequest{Days: 1}},
	} {
		if _, err := CreateCert(tc.ca, tc.req, time.Now()); !errors.Is(err, ErrBadCert) && !errors.Is(err, ErrBadCA) {
			t.Errorf("%s: got %v, want ErrBadCert or ErrBadCA", tc.name, err)
		}
	}
	// A certificate of another CA does not load against this one.
	if _, err := New(ca.Cert, mustCert(t, other, CertRequest{Server: true, Node: "n1"})); !errors.Is(err, ErrBadCert) {
		t.Errorf("another CA's certificate: got %v, want ErrBadCert", err)
	}
	if _, err := CreateCA(0, time.Now()); !errors.Is(err, ErrBadCA) {
		t.Errorf("CreateCA(0 days): got %v, want ErrBadCA", err)
	}
	if err := (Config{CAFile: "x"}).Validate(); !errors.Is(err, ErrBadCert) {
		t.Errorf("a CA file alone: got %v, want ErrBadCert", err)
	}
}

func TestLoadFiles(t *testing.T) {
	ca := mustCA(t)
	c := mustCert(t, ca, CertRequest{Server: true, Node: "n1"})
	dir := t.TempDir()
	w := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := Config{CAFile: w("ca.pem", ca.Cert), CertFile: w("c.pem", c.Cert), KeyFile: w("k.pem", c.Key)}
	got, err := Load(cfg)
	if err != nil || got.Node() != "n1" {
		t.Fatalf("Load: %v, node %q", err, got.Node())
	}
	cfg.KeyFile = filepath.Join(dir, "missing")
	if _, err := Load(cfg); !errors.Is(err, ErrBadCert) {
		t.Errorf("a missing key file: got %v, want ErrBadCert", err)
	}
}

// handshake runs a TLS handshake between a server with srv and a client
// with cli, and returns the node the server saw and the client's and the
// server's errors.
func handshake(t *testing.T, srv, cli *tls.Config) (node string, cliErr, srvErr error) {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := tls.Server(b, srv)
		srvErr = s.HandshakeContext(context.Background())
		if srvErr == nil {
			cs := s.ConnectionState()
			node, _ = NodeOfState(&cs)
		}
		s.Close()
	}()
	c := tls.Client(a, cli)
	cliErr = c.HandshakeContext(context.Background())
	if cliErr == nil {
		// TLS 1.3 reports the server's refusal of the client's
		// certificate on the first read.
		_, cliErr = c.Read(make([]byte, 1))
		if errors.Is(cliErr, io.EOF) {
			cliErr = nil
		}
	}
	c.Close()
	<-done
	return node, cliErr, srvErr
}

func TestMutualTLS(t *testing.T) {
	ca, other := mustCA(t), mustCA(t)
	n1, _ := New(ca.Cert, mustCert(t, ca, CertRequest{Server: true, Node: "n1"}))
	n2, _ := New(ca.Cert, mustCert(t, ca, CertRequest{Server: true, Node: "n2"}))
	cli, _ := New(ca.Cert, mustCert(t, ca, CertRequest{}))
	strange, _ := New(other.Cert, mustCert(t, other, CertRequest{Server: true, Node: "n1"}))

	if node, _, srvErr := handshake(t, n1.Server(), n2.ClientFor("n1")); srvErr != nil || node != "n2" {
		t.Errorf("n2 dialling n1: server error %v, saw node %q, want n2", srvErr, node)
	}
	if node, _, srvErr := handshake(t, n1.Server(), cli.Client()); srvErr != nil || node != "" {
		t.Errorf("client dialling n1: server error %v, saw node %q, want none", srvErr, node)
	}
	if _, cliErr, _ := handshake(t, n1.Server(), n2.ClientFor("n3")); !errors.Is(cliErr, ErrWrongNode) {
		t.Errorf("n2 dialling n3 at n1's address: got %v, want ErrWrongNode", cliErr)
	}
	if _, _, srvErr := handshake(t, n1.Server(), strange.Client()); srvErr == nil {
		t.Error("n1 took a certificate of another CA")
	}
	if _, cliErr, _ := handshake(t, strange.Server(), n2.Client()); cliErr == nil {
		t.Error("n2 took a server certificate of another CA")
	}
}
