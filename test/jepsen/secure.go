//go:build linux

package jepsen

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/mtls"
	"github.com/vproc/vproc/internal/ctxutil"
)

// secure is what a run with Config.Secure gives its agents and clients:
// a CA in the output directory, a server certificate per node, a gossip
// key, the workload's client certificate, ACLs on every agent, and the
// management token the harness bootstraps once the cluster is up.
type secure struct {
	dir    string
	ca     mtls.PEM
	key    string      // the gossip key
	client *tls.Config // the workload's and the checks' TLS
	// token is the management token's secret, set by bootstrap; every
	// client request carries it.
	token atomic.Pointer[string]
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
	// With TLS, a node's certificate identifies it under ACLs: no agent
	// token.
	return []string{"--ca-file", filepath.Join(s.dir, mtls.CAFile), "--cert-file", cert, "--key-file", key, "--encrypt", s.key, "--acl-enabled"}, nil
}

// bootstrap creates the management token through one of eps, retrying
// refusals (a leader change, a dial error) until ctx ends. An attempt
// whose outcome is unknown ends it: a second bootstrap would be refused.
func (s *secure) bootstrap(ctx context.Context, eps []Endpoint) error {
	hc := &http.Client{Transport: newTransport(s.client, "")}
	defer hc.CloseIdleConnections()
	var last attempt
	for i := 0; ctx.Err() == nil && i < 120; i++ {
		ep := eps[i%len(eps)]
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var tok api.ACLToken
		last = callAPI(actx, hc, ep, http.MethodPost, "/v1/acl/bootstrap", nil, nil, &tok, nil)
		cancel()
		switch {
		case last.kind == answered && last.code == "" && tok.SecretID != "":
			s.token.Store(&tok.SecretID)
			return nil
		case last.kind == maybe:
			return fmt.Errorf("ACL bootstrap through %s: outcome unknown: %s %s", ep.Name, last.code, last.msg)
		}
		ctxutil.Sleep(ctx, 250*time.Millisecond)
	}
	return fmt.Errorf("ACL bootstrap: %s %s", last.code, last.msg)
}

// tokenOf returns the management token's secret, "" without Secure or
// before bootstrap.
func (s *secure) tokenOf() string {
	if s == nil {
		return ""
	}
	if p := s.token.Load(); p != nil {
		return *p
	}
	return ""
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

// tokenOfEndpoints returns the ACL token of the endpoints (they share
// one), "" with ACLs off.
func tokenOfEndpoints(eps []Endpoint) string {
	for _, ep := range eps {
		if ep.Token != "" {
			return ep.Token
		}
	}
	return ""
}

// tokenTransport sends an ACL token with every request.
type tokenTransport struct {
	base  *http.Transport
	token string
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must not change the request it is given.
	r := req.Clone(req.Context())
	r.Header.Set(api.HeaderToken, t.token)
	return t.base.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// base transport.
func (t *tokenTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }
