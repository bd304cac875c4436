package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// File names `vproc tls` writes, after Consul's: the CA's certificate and
// key, and for each certificate "<kind>-vproc-<name>.pem" and its
// "-key.pem".
const (
	CAFile    = "vproc-agent-ca.pem"
	CAKeyFile = "vproc-agent-ca-key.pem"
)

// Default validity periods, as Consul's: five years for a CA, one for a
// certificate.
const (
	DefaultCADays   = 1825
	DefaultCertDays = 365
)

// Errors of certificate creation and loading.
var (
	// ErrBadCA: the CA's certificate or key cannot be used to sign.
	ErrBadCA = errors.New("bad certificate authority")
	// ErrBadCert: a certificate or key cannot be read or does not fit.
	ErrBadCert = errors.New("bad certificate")
)

// PEM is a certificate and its private key, PEM-encoded.
type PEM struct {
	Cert []byte
	Key  []byte
}

// CreateCA returns a new self-signed CA valid for days days.
func CreateCA(days int, now time.Time) (PEM, error) {
	if days <= 0 {
		return PEM{}, fmt.Errorf("%w: validity of %d days", ErrBadCA, days)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return PEM{}, err
	}
	serial, err := serialNumber()
	if err != nil {
		return PEM{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "vproc agent CA " + serial.Text(16)[:8]},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Duration(days) * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return PEM{}, err
	}
	return encode(der, key)
}

// CertRequest says what certificate CreateCert signs.
type CertRequest struct {
	// Server makes a server certificate: DNS names ServerName, "localhost"
	// and NodeSAN(Node), IP 127.0.0.1, usable to serve and to dial.
	// Otherwise a client certificate: ClientName, usable to dial only.
	Server bool
	// Node names the node of a server certificate (required with Server).
	// A client certificate names no node.
	Node string
	// DNS and IPs are further names of a server certificate.
	DNS []string
	IPs []net.IP
	// Days is the validity period.
	Days int
}

// CreateCert returns a certificate for req signed by ca.
func CreateCert(ca PEM, req CertRequest, now time.Time) (PEM, error) {
	caCert, caKey, err := parse(ca)
	if err != nil {
		return PEM{}, fmt.Errorf("%w: %w", ErrBadCA, err)
	}
	if !caCert.IsCA {
		return PEM{}, fmt.Errorf("%w: the certificate is not a CA", ErrBadCA)
	}
	if req.Days <= 0 {
		return PEM{}, fmt.Errorf("%w: validity of %d days", ErrBadCert, req.Days)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return PEM{}, err
	}
	serial, err := serialNumber()
	if err != nil {
		return PEM{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Duration(req.Days) * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if req.Server {
		if err := CheckNodeName(req.Node); err != nil {
			return PEM{}, err
		}
		tmpl.Subject = pkix.Name{CommonName: NodeSAN(req.Node)}
		tmpl.DNSNames = append([]string{NodeSAN(req.Node), ServerName, "localhost"}, req.DNS...)
		tmpl.IPAddresses = append([]net.IP{net.IPv4(127, 0, 0, 1)}, req.IPs...)
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	} else {
		if req.Node != "" || len(req.DNS) > 0 || len(req.IPs) > 0 {
			return PEM{}, fmt.Errorf("%w: a client certificate names no node, DNS name or IP", ErrBadCert)
		}
		tmpl.Subject = pkix.Name{CommonName: ClientName}
		tmpl.DNSNames = []string{ClientName}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return PEM{}, err
	}
	return encode(der, key)
}

// CheckNodeName checks that node can be named in a server certificate: a
// DNS label (letters, digits, '-' and '_', at most 63 bytes).
func CheckNodeName(node string) error {
	if node == "" {
		return fmt.Errorf("%w: a server certificate names its node", ErrBadCert)
	}
	if len(node) > 63 {
		return fmt.Errorf("%w: node name %q is longer than 63 bytes", ErrBadCert, node)
	}
	for _, r := range node {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return fmt.Errorf("%w: node name %q: %q is not allowed in a DNS label", ErrBadCert, node, r)
		}
	}
	return nil
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func encode(der []byte, key *ecdsa.PrivateKey) (PEM, error) {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return PEM{}, err
	}
	return PEM{
		Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	}, nil
}

// parse reads a certificate and its key.
func parse(p PEM) (*x509.Certificate, any, error) {
	cb, _ := pem.Decode(p.Cert)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode(p.Key)
	if kb == nil {
		return nil, nil, errors.New("no PEM private key")
	}
	var key any
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	}
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}
