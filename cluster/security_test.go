package cluster

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/mtls"
	"github.com/vproc/vproc/fsm"
)

// testPKI is a CA in a temporary directory and the certificates it signs.
type testPKI struct {
	t   testing.TB
	dir string
	ca  mtls.PEM
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	ca, err := mtls.CreateCA(1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{t: t, dir: t.TempDir(), ca: ca}
	p.write(mtls.CAFile, ca.Cert)
	return p
}

func (p *testPKI) write(name string, b []byte) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// cert signs a certificate and returns it with its key.
func (p *testPKI) cert(req mtls.CertRequest) mtls.PEM {
	p.t.Helper()
	req.Days = 1
	c, err := mtls.CreateCert(p.ca, req, time.Now())
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// server returns the TLS files of node's agent.
func (p *testPKI) server(node string) mtls.Config {
	c := p.cert(mtls.CertRequest{Server: true, Node: node})
	return mtls.Config{
		CAFile:   filepath.Join(p.dir, mtls.CAFile),
		CertFile: p.write("server-"+node+".pem", c.Cert),
		KeyFile:  p.write("server-"+node+"-key.pem", c.Key),
	}
}

// client returns a TLS client configuration with a certificate from req,
// trusting the CA of trust.
func (p *testPKI) client(trust *testPKI, req mtls.CertRequest) *tls.Config {
	p.t.Helper()
	c := p.cert(req)
	cfg, err := mtls.New(trust.ca.Cert, c)
	if err != nil && !errors.Is(err, mtls.ErrBadCert) {
		p.t.Fatal(err)
	}
	if cfg == nil {
		// A certificate of another CA: trust trust's CA, present p's.
		own, err := tls.X509KeyPair(c.Cert, c.Key)
		if err != nil {
			p.t.Fatal(err)
		}
		t, err := mtls.New(trust.ca.Cert, trust.cert(mtls.CertRequest{}))
		if err != nil {
			p.t.Fatal(err)
		}
		tc := t.Client()
		tc.Certificates = []tls.Certificate{own}
		return tc
	}
	return cfg.Client()
}

func hostPort(addr string) string {
	_, hp, _ := strings.Cut(addr, "://")
	return hp
}

// makeTLSCluster starts a three-node cluster with TLS and a gossip key.
func makeTLSCluster(t *testing.T, pki *testPKI, key string) *testCluster {
	return MakeCluster(t, 3, func(i int, c *Config) {
		c.TLS = pki.server(c.Name)
		c.EncryptKey = key
	})
}

// TestTLSCluster runs a cluster with TLS and a gossip key, and checks
// every port against strangers: plaintext and another CA's certificates
// are refused on the HTTP and raft ports; a node report is attributed to
// the certificate, never to X-Vproc-Node.
func TestTLSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow multi-node test; skipped with -short")
	}
	pki, other := newTestPKI(t), newTestPKI(t)
	key, err := membership.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := makeTLSCluster(t, pki, key)
	l := c.leader()
	for _, a := range c.up() {
		if !strings.HasPrefix(a.HTTPAddr(), "https://") {
			t.Fatalf("%s advertises %q, want an https address", a.Name(), a.HTTPAddr())
		}
		if !a.gossip.Encrypted() {
			t.Fatalf("%s: gossip not encrypted", a.Name())
		}
	}
	// Work runs on a follower and its reports reach the leader over
	// mutual TLS.
	f := c.followers()[0]
	pid := c.spawnSpec(fsm.Spec{Command: "sleep", Args: []string{"600"}, Node: f.Name()})
	poll(t, 15*time.Second, func() error {
		p, ok := l.localView().Get(pid)
		if !ok || p.State != fsm.StateRunning {
			return fmt.Errorf("pid %d: %+v, want running", pid, p)
		}
		return nil
	})

	good := pki.client(pki, mtls.CertRequest{})
	get := func(tc *tls.Config, url string) (int, error) {
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		defer hc.CloseIdleConnections()
		resp, err := hc.Get(url)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	t.Run("http", func(t *testing.T) {
		for _, a := range c.up() {
			if code, err := get(good, a.HTTPAddr()+"/v1/health"); err != nil || code != 200 {
				t.Fatalf("%s with the CA's client certificate: %d %v, want 200", a.Name(), code, err)
			}
			if code, err := get(nil, "http://"+hostPort(a.HTTPAddr())+"/v1/health"); err == nil && code == 200 {
				t.Errorf("%s answered plaintext HTTP with 200", a.Name())
			}
			noCert := &tls.Config{RootCAs: good.RootCAs, ServerName: mtls.ServerName}
			if _, err := get(noCert, a.HTTPAddr()+"/v1/health"); err == nil {
				t.Errorf("%s answered a client without a certificate", a.Name())
			}
			strange := other.client(pki, mtls.CertRequest{})
			if _, err := get(strange, a.HTTPAddr()+"/v1/health"); err == nil {
				t.Errorf("%s answered a certificate of another CA", a.Name())
			}
			strangeNode := other.client(pki, mtls.CertRequest{Server: true, Node: l.Name()})
			if _, err := get(strangeNode, a.HTTPAddr()+"/v1/health"); err == nil {
				t.Errorf("%s answered another CA's certificate naming a node", a.Name())
			}
		}
	})
	t.Run("raft", func(t *testing.T) {
		for _, a := range c.up() {
			// Plaintext: the first bytes of a raft RPC end the connection.
			conn, err := net.DialTimeout("tcp", a.RaftAddr(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = conn.Write([]byte{0, 0x80, 0, 0, 0, 0, 0, 0, 0})
			if _, err := conn.Read(make([]byte, 64)); err == nil {
				t.Errorf("%s: raft answered plaintext", a.Name())
			}
			conn.Close()
			if !raftAnswers(t, a.RaftAddr(), pki.client(pki, mtls.CertRequest{Server: true, Node: "node1"})) {
				t.Fatalf("%s: raft refused a node's certificate from the CA", a.Name())
			}
			for name, tc := range map[string]*tls.Config{
				"another CA":         other.client(pki, mtls.CertRequest{Server: true, Node: "node1"}),
				"client certificate": good,
			} {
				if raftAnswers(t, a.RaftAddr(), tc) {
					t.Errorf("%s: raft took a %s", a.Name(), name)
				}
			}
		}
	})
	t.Run("forged report", func(t *testing.T) {
		exited := fsm.Encode(&fsm.Exited{PID: pid, Incarnation: 1, Node: f.Name(), Status: fsm.Status{}, Now: time.Now().UnixNano()})
		// postOnce posts body once; postTo posts it again while the
		// answer is 503 (no leader for a moment, as a loaded machine may
		// see), so that the check answers and not the election.
		var postOnce func(tc *tls.Config, url, header string, body []byte) int
		postTo := func(tc *tls.Config, url, header string, body []byte) int {
			code, _ := retryUnavailable(func() (int, struct{}) { return postOnce(tc, url, header, body), struct{}{} })
			return code
		}
		postOnce = func(tc *tls.Config, url, header string, body []byte) int {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/octet-stream")
			if header != "" {
				req.Header.Set(api.HeaderNode, header)
			}
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
			defer hc.CloseIdleConnections()
			resp, err := hc.Do(req)
			if err != nil {
				return 0
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.StatusCode
		}
		post := func(tc *tls.Config, header string, body []byte) int {
			return postTo(tc, l.HTTPAddr()+"/v1/internal/command", header, body)
		}
		// A forged lease renewal for the follower is refused.
		if code := postTo(good, l.HTTPAddr()+"/v1/internal/lease", f.Name(), nil); code != http.StatusForbidden {
			t.Errorf("a lease renewal under a client certificate: status %d, want 403", code)
		}
		var third string
		for _, a := range c.up() {
			if a.Name() != f.Name() && a.Name() != l.Name() {
				third = a.Name()
			}
		}
		thirdCert := pki.client(pki, mtls.CertRequest{Server: true, Node: third})
		for _, tc := range []struct {
			what   string
			tls    *tls.Config
			header string
		}{
			{"a client certificate naming the node in the header", good, f.Name()},
			{"another node's certificate naming the node in the header", thirdCert, f.Name()},
			{"another node's certificate", thirdCert, ""},
		} {
			if code := post(tc.tls, tc.header, exited); code != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", tc.what, code)
			}
		}
		// The forged exits changed nothing.
		if p, _ := l.localView().Get(pid); p.State != fsm.StateRunning {
			t.Errorf("pid %d is %s after forged reports, want running", pid, p.State)
		}
	})
}

// raftAnswers reports whether a raft listener completes a TLS exchange
// with tc: a handshake and a read that does not fail with the server's
// refusal (TLS 1.3 reports a refused client certificate on the first read).
func raftAnswers(t *testing.T, addr string, tc *tls.Config) bool {
	t.Helper()
	tc = tc.Clone()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, tc)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	// A timeout means the server took the handshake and waits for an RPC.
	return errors.As(err, &ne) && ne.Timeout()
}

func TestBindDefaults(t *testing.T) {
	if d := DevConfig(); !strings.HasPrefix(d.HTTPAddr, "127.0.0.1:") || !strings.HasPrefix(d.GossipAddr, "127.0.0.1:") || !strings.HasPrefix(d.RaftAddr, "127.0.0.1:") {
		t.Errorf("--dev binds %s, %s, %s; want 127.0.0.1", d.HTTPAddr, d.RaftAddr, d.GossipAddr)
	}
	for _, tc := range []struct {
		dev          bool
		http, gossip string
		refused      bool
	}{
		{false, "127.0.0.1:7070", "0.0.0.0:7072", true},
		{false, "localhost:7070", "10.0.0.1:7072", true},
		{false, "127.0.0.1:7070", ":7072", true},
		{false, "127.0.0.1:7070", "127.0.0.1:7072", false},
		{false, "0.0.0.0:7070", "0.0.0.0:7072", false},
		{true, "127.0.0.1:7070", "0.0.0.0:7072", false},
	} {
		c := DefaultConfig()
		c.Dev, c.HTTPAddr, c.GossipAddr = tc.dev, tc.http, tc.gossip
		err := c.checkBind()
		if got := errors.Is(err, ErrLoopbackHTTP); got != tc.refused {
			t.Errorf("dev %v, http %s, gossip %s: got %v, want refused %v", tc.dev, tc.http, tc.gossip, err, tc.refused)
		}
	}
	// New refuses it before opening anything.
	c := testConfig(t, "n1")
	c.GossipAddr = "0.0.0.0:0"
	if _, err := New(c); !errors.Is(err, ErrLoopbackHTTP) {
		t.Errorf("New: got %v, want ErrLoopbackHTTP", err)
	}
}

func TestSecurityWarnings(t *testing.T) {
	for _, tc := range []struct {
		name         string
		dev, tls     bool
		key, acl     bool
		http         string
		want, absent []string
	}{
		{"nothing", false, false, false, false, "0.0.0.0:7070", []string{"neither TLS nor a gossip key", "without TLS", "ACLs off"}, nil},
		{"loopback", false, false, true, false, "127.0.0.1:7070", nil, []string{"neither", "without TLS", "ACLs off"}},
		{"key only", false, false, true, false, "0.0.0.0:7070", []string{"without TLS", "ACLs off"}, []string{"neither"}},
		{"tls", false, true, false, false, "0.0.0.0:7070", []string{"ACLs off"}, []string{"neither", "without TLS"}},
		{"tls and acls", false, true, false, true, "0.0.0.0:7070", nil, []string{"neither", "without TLS", "ACLs off"}},
		{"dev", true, false, false, false, "127.0.0.1:7070", nil, []string{"neither", "without TLS", "ACLs off"}},
	} {
		var b bytes.Buffer
		a := &Agent{cfg: Config{Dev: tc.dev, HTTPAddr: tc.http, ACLEnabled: tc.acl}, logger: slog.New(slog.NewTextHandler(&b, nil))}
		a.warnSecurity(tc.tls, tc.key)
		for _, w := range tc.want {
			if strings.Count(b.String(), w) != 1 {
				t.Errorf("%s: log %q, want one warning with %q", tc.name, b.String(), w)
			}
		}
		for _, w := range tc.absent {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: log %q, want no %q", tc.name, b.String(), w)
			}
		}
	}
}
