//go:build linux

package jepsen

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"time"

	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/mtls"
)

// secure is what a run with Config.Secure gives its agents and clients:
// a CA in the output directory, a server certificate per node, a gossip
// key, and the workload's client certificate.
type secure struct {
	dir    string
	ca     mtls.PEM
	key    string      // the gossip key
	client *tls.Config // the workload's and the checks' TLS
}

// newSecure creates the CA, the gossip key and a client certificate under
// outDir/tls.
func newSecure(outDir string) (*secure, error) {
	dir := filepath.Join(outDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := mtls.CreateCA(7, time.Now())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, mtls.CAFile), ca.Cert, 0o600); err != nil {
		return nil, err
	}
	key, err := membership.GenerateKey()
	if err != nil {
		return nil, err
	}
	cc, err := mtls.CreateCert(ca, mtls.CertRequest{Days: 7}, time.Now())
	if err != nil {
		return nil, err
	}
	t, err := mtls.New(ca.Cert, cc)
	if err != nil {
		return nil, err
	}
	return &secure{dir: dir, ca: ca, key: key, client: t.Client()}, nil
}

// agentArgs writes node's server certificate and returns the agent flags
// that turn TLS and gossip encryption on.
func (s *secure) agentArgs(node string) ([]string, error) {
	c, err := mtls.CreateCert(s.ca, mtls.CertRequest{Server: true, Node: node, Days: 7}, time.Now())
	if err != nil {
		return nil, err
	}
	cert := filepath.Join(s.dir, "server-vproc-"+node+".pem")
	key := filepath.Join(s.dir, "server-vproc-"+node+"-key.pem")
	if err := os.WriteFile(cert, c.Cert, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(key, c.Key, 0o600); err != nil {
		return nil, err
	}
	return []string{"--ca-file", filepath.Join(s.dir, mtls.CAFile), "--cert-file", cert, "--key-file", key, "--encrypt", s.key}, nil
}

// scheme is the URL scheme of the agents' HTTP API.
func (s *secure) scheme() string {
	if s == nil {
		return "http://"
	}
	return "https://"
}

// tlsConfig returns the clients' TLS configuration, nil without Secure.
func (s *secure) tlsConfig() *tls.Config {
	if s == nil {
		return nil
	}
	return s.client
}

// tlsOf returns the TLS configuration of the endpoints (they share one).
func tlsOf(eps []Endpoint) *tls.Config {
	for _, ep := range eps {
		if ep.TLS != nil {
			return ep.TLS
		}
	}
	return nil
}
