package main

import (
	"crypto/tls"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/vproc/vproc/cluster/mtls"
)

// The environment variables a client verb reads its TLS files from when
// the flags are not given, as Consul's CONSUL_CACERT, CONSUL_CLIENT_CERT
// and CONSUL_CLIENT_KEY.
const (
	EnvCACert     = "VPROC_CACERT"
	EnvClientCert = "VPROC_CLIENT_CERT"
	EnvClientKey  = "VPROC_CLIENT_KEY"
)

// clientTLSFlags are the TLS files of a client verb.
type clientTLSFlags struct {
	caCert, clientCert, clientKey string
}

func (g *globals) registerTLS(fs *pflag.FlagSet) {
	fs.StringVar(&g.tls.caCert, "ca-cert", "", "the cluster's CA certificate, to reach an https agent (default $"+EnvCACert+")")
	fs.StringVar(&g.tls.clientCert, "client-cert", "", "a client certificate from the CA (default $"+EnvClientCert+")")
	fs.StringVar(&g.tls.clientKey, "client-key", "", "the key of --client-cert (default $"+EnvClientKey+")")
}

// tlsConfig returns the client's TLS configuration, nil when no TLS file
// is named by a flag or the environment.
func (g *globals) tlsConfig(e *env) (*tls.Config, error) {
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return e.getenv(env)
	}
	c := mtls.Config{
		CAFile:   pick(g.tls.caCert, EnvCACert),
		CertFile: pick(g.tls.clientCert, EnvClientCert),
		KeyFile:  pick(g.tls.clientKey, EnvClientKey),
	}
	if !c.Enabled() {
		return nil, nil
	}
	t, err := mtls.Load(c)
	if err != nil {
		return nil, fmt.Errorf("client TLS (--ca-cert, --client-cert, --client-key): %w", err)
	}
	return t.Client(), nil
}
