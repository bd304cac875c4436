package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
)

// ServerName is the DNS name every server certificate carries and every
// dialer of another node verifies.
const ServerName = "server.vproc"

// ClientName is the DNS name and common name of a client certificate.
const ClientName = "client.vproc"

// NodeSAN returns the DNS name that names node in its server certificate.
func NodeSAN(node string) string { return node + "." + ServerName }

// NodeOf returns the node a verified certificate names: the first label of
// its one DNS name of the form "<node>.server.vproc". A certificate with
// none (a client certificate) names no node, and so does one with several
// different node names.
func NodeOf(cert *x509.Certificate) (string, bool) {
	if cert == nil {
		return "", false
	}
	node := ""
	for _, n := range cert.DNSNames {
		name, ok := strings.CutSuffix(n, "."+ServerName)
		if !ok || name == "" || strings.Contains(name, ".") {
			continue
		}
		if node != "" && node != name {
			return "", false
		}
		node = name
	}
	return node, node != ""
}

// NodeOfState returns the node a connection's verified peer certificate
// names. An unverified connection names none.
func NodeOfState(cs *tls.ConnectionState) (string, bool) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", false
	}
	return NodeOf(cs.VerifiedChains[0][0])
}

type peerNodeKey struct{}

// WithPeerNode returns ctx carrying the verified node name of the peer.
func WithPeerNode(ctx context.Context, node string) context.Context {
	return context.WithValue(ctx, peerNodeKey{}, node)
}

// PeerNode returns the node that the peer of a request proved to be with
// its certificate, as the HTTP API's middleware records it. It reports
// false for a request without a node certificate (TLS off, or a client
// certificate).
func PeerNode(ctx context.Context) (string, bool) {
	n, ok := ctx.Value(peerNodeKey{}).(string)
	return n, ok && n != ""
}
