package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/mtls"
)

// leaseCore records the node a lease renewal is granted to.
type leaseCore struct {
	stubCore
	got *string
}

func (c leaseCore) RenewLease(_ context.Context, node string) (uint64, error) {
	*c.got = node
	return 5, nil
}

// verified returns a connection state whose verified peer certificate is
// one the CA signed for req.
func verified(t *testing.T, ca mtls.PEM, req mtls.CertRequest) *tls.ConnectionState {
	t.Helper()
	req.Days = 1
	p, err := mtls.CreateCert(ca, req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(p.Cert, p.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
}

// TestNodeIdentity: with NodeAuth, a lease renewal is granted to the node
// the certificate names, whatever X-Vproc-Node says; without it, the
// header names the node.
func TestNodeIdentity(t *testing.T) {
	ca, err := mtls.CreateCA(1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n2 := verified(t, ca, mtls.CertRequest{Server: true, Node: "n2"})
	client := verified(t, ca, mtls.CertRequest{})
	for _, tc := range []struct {
		name     string
		nodeAuth bool
		state    *tls.ConnectionState
		header   string
		status   int
		granted  string
	}{
		{"certificate", true, n2, "", http.StatusOK, "n2"},
		{"certificate and the same header", true, n2, "n2", http.StatusOK, "n2"},
		{"certificate and another node's header", true, n2, "n3", http.StatusForbidden, ""},
		{"client certificate", true, client, "n2", http.StatusForbidden, ""},
		{"no certificate", true, nil, "n2", http.StatusForbidden, ""},
		{"TLS off: the header", false, nil, "n2", http.StatusOK, "n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			c := leaseCore{got: &got}
			s, err := New(Config{
				Core: c, Node: stubNode{}, Logs: stubLogs{}, Client: NewClient(c),
				Logger:    slog.New(slog.DiscardHandler),
				IPCStream: func(w http.ResponseWriter, r *http.Request) {},
				NodeAuth:  tc.nodeAuth,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.client.Close()
			req := httptest.NewRequest(http.MethodPost, "/v1/internal/lease", nil)
			req.TLS = tc.state
			if tc.header != "" {
				req.Header.Set(api.HeaderNode, tc.header)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != tc.status || got != tc.granted {
				t.Errorf("status %d, granted to %q; want %d and %q (%s)", w.Code, got, tc.status, tc.granted, w.Body.String())
			}
		})
	}
}

// TestNodeReportNotForwardedWithTLS: with NodeAuth, a follower answers a
// node's report not_leader instead of forwarding it under its own
// certificate.
func TestNodeReportNotForwardedWithTLS(t *testing.T) {
	ca, err := mtls.CreateCA(1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := followerCore{stubCore{leaderAddr: "127.0.0.1:1"}}
	s, err := New(Config{
		Core: c, Node: stubNode{}, Logs: stubLogs{}, Client: NewClient(c),
		Logger:    slog.New(slog.DiscardHandler),
		IPCStream: func(w http.ResponseWriter, r *http.Request) {},
		NodeAuth:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.client.Close()
	req := httptest.NewRequest(http.MethodPost, "/v1/internal/command", nil)
	req.TLS = verified(t, ca, mtls.CertRequest{Server: true, Node: "n2"})
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), api.CodeNotLeader) {
		t.Errorf("status %d %s, want 503 not_leader", w.Code, w.Body.String())
	}
}

type followerCore struct{ stubCore }

func (followerCore) IsLeader() bool { return false }
