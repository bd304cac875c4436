package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Config names the PEM files of a node's TLS: the cluster's CA, and the
// node's certificate and key. TLS is on when all three are set.
type Config struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Enabled reports whether any file is set (Validate then requires all).
func (c Config) Enabled() bool { return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" }

// Validate checks that the files are all set or all empty.
func (c Config) Validate() error {
	if c.Enabled() && (c.CAFile == "" || c.CertFile == "" || c.KeyFile == "") {
		return fmt.Errorf("%w: TLS needs a CA file, a certificate file and a key file", ErrBadCert)
	}
	return nil
}

// ErrWrongNode is returned when a peer's certificate names another node
// than the one dialled (or none).
var ErrWrongNode = errors.New("peer certificate names another node")

// TLS is a loaded configuration: the CA pool and this side's certificate.
// Its methods return fresh *tls.Config values.
type TLS struct {
	pool *x509.CertPool
	cert tls.Certificate
	node string // the node the certificate names, "" for a client certificate
}

// Load reads the files of c.
func Load(c Config) (*TLS, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %w", ErrBadCert, err)
	}
	certPEM, err := os.ReadFile(c.CertFile)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate file: %w", ErrBadCert, err)
	}
	keyPEM, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: key file: %w", ErrBadCert, err)
	}
	return New(caPEM, PEM{Cert: certPEM, Key: keyPEM})
}

// New returns the configuration of a CA certificate and this side's
// certificate, all PEM. The certificate must be signed by the CA.
func New(caPEM []byte, own PEM) (*TLS, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: no certificate in the CA file", ErrBadCA)
	}
	cert, err := tls.X509KeyPair(own.Cert, own.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCert, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCert, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: the certificate is not signed by the CA: %w", ErrBadCert, err)
	}
	cert.Leaf = leaf
	node, _ := NodeOf(leaf)
	return &TLS{pool: pool, cert: cert, node: node}, nil
}

// Node returns the node this side's certificate names, "" for a client
// certificate.
func (t *TLS) Node() string { return t.node }

// Server returns the configuration of a listener: TLS 1.2 or later, a
// client certificate from the CA required.
func (t *TLS) Server() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{t.cert},
		ClientCAs:    t.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// Client returns the configuration of a dialer of any node: the peer must
// present a server certificate from the CA (ServerName), and this side
// presents its own.
func (t *TLS) Client() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{t.cert},
		RootCAs:      t.pool,
		ServerName:   ServerName,
	}
}

// ClientFor returns Client's configuration that also requires the peer's
// certificate to name node (ErrWrongNode otherwise): raft's dialer, which
// knows which server it means to reach.
func (t *TLS) ClientFor(node string) *tls.Config {
	c := t.Client()
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		got, ok := NodeOfState(&cs)
		if !ok || got != node {
			return fmt.Errorf("%w: want %q, got %q", ErrWrongNode, node, got)
		}
		return nil
	}
	return c
}
