package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/mtls"
)

// vproc tls ca create and vproc tls cert create write the files of a
// cluster's TLS, as Consul's commands of the same names do, into the
// current directory (or --dir):
//
//	vproc-agent-ca.pem, vproc-agent-ca-key.pem    the CA
//	server-vproc-<node>.pem, ...-key.pem          a node's server certificate
//	client-vproc-<n>.pem, ...-key.pem             a client certificate (CLI)
//
// No file is ever overwritten.

func newTLSCmd(e *env) *cobra.Command {
	var caDir string
	var caDays int
	caCreate := &cobra.Command{
		Use:   "create",
		Short: "Create the cluster's certificate authority: " + mtls.CAFile + " and " + mtls.CAKeyFile,
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ca, err := mtls.CreateCA(caDays, time.Now())
			if err != nil {
				return fmt.Errorf("tls ca create: %w", err)
			}
			certPath, keyPath := filepath.Join(caDir, mtls.CAFile), filepath.Join(caDir, mtls.CAKeyFile)
			if err := writePair(certPath, keyPath, ca); err != nil {
				return fmt.Errorf("tls ca create: %w", err)
			}
			fmt.Fprintf(e.stdout, "==> Saved %s\n==> Saved %s\n", certPath, keyPath)
			return nil
		},
	}
	caCreate.Flags().StringVar(&caDir, "dir", ".", "the directory to write the files to")
	caCreate.Flags().IntVar(&caDays, "days", mtls.DefaultCADays, "how many days the CA is valid")

	var (
		server, clientCert bool
		node, dir, ca, key string
		days               int
		dnsNames, ips      []string
	)
	certCreate := &cobra.Command{
		Use:   "create --server|--client [--node NAME]",
		Short: "Create a server certificate for a node, or a client certificate, signed by the CA",
		Long: `Create a certificate signed by the cluster's CA (--ca, --key).

--server makes a node's certificate: it names server.vproc, which every node
checks when it dials another, and <node>.server.vproc, from which the other
side reads which node it is (--node, default the host name, as the agent's
--name). The agent uses it with --ca-file, --cert-file and --key-file.

--client makes a certificate for the command line and other programs, which
names no node: use it with --ca-cert, --client-cert and --client-key (or
VPROC_CACERT, VPROC_CLIENT_CERT and VPROC_CLIENT_KEY).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if server == clientCert {
				return usagef(cmd, "give one of --server and --client")
			}
			req := mtls.CertRequest{Server: server, Days: days}
			if server {
				req.Node = node
				if !cmd.Flags().Changed("node") {
					h, err := os.Hostname()
					if err != nil || h == "" {
						return usagef(cmd, "no --node given and no host name")
					}
					req.Node = h
				}
				req.DNS = dnsNames
				for _, s := range ips {
					ip := net.ParseIP(s)
					if ip == nil {
						return usagef(cmd, "bad --additional-ipaddress %q: want an IP address such as 10.0.0.5", s)
					}
					req.IPs = append(req.IPs, ip)
				}
			} else if node != "" || len(dnsNames) > 0 || len(ips) > 0 {
				return usagef(cmd, "a client certificate names no node, DNS name or IP address")
			}
			caPEM, err := os.ReadFile(ca)
			if err != nil {
				return fmt.Errorf("tls cert create: the CA certificate: %w (run vproc tls ca create first)", err)
			}
			caKey, err := os.ReadFile(key)
			if err != nil {
				return fmt.Errorf("tls cert create: the CA key: %w", err)
			}
			p, err := mtls.CreateCert(mtls.PEM{Cert: caPEM, Key: caKey}, req, time.Now())
			if err != nil {
				return fmt.Errorf("tls cert create: %w", err)
			}
			var certPath, keyPath string
			if server {
				certPath = filepath.Join(dir, "server-vproc-"+req.Node+".pem")
				keyPath = filepath.Join(dir, "server-vproc-"+req.Node+"-key.pem")
			} else {
				certPath, keyPath, err = nextClientFiles(dir)
				if err != nil {
					return fmt.Errorf("tls cert create: %w", err)
				}
			}
			if err := writePair(certPath, keyPath, p); err != nil {
				return fmt.Errorf("tls cert create: %w", err)
			}
			fmt.Fprintf(e.stdout, "==> Using %s and %s\n==> Saved %s\n==> Saved %s\n", ca, key, certPath, keyPath)
			return nil
		},
	}
	fs := certCreate.Flags()
	fs.BoolVar(&server, "server", false, "create a node's server certificate")
	fs.BoolVar(&clientCert, "client", false, "create a client certificate (command line, programs)")
	fs.StringVar(&node, "node", "", "the node a server certificate names (default the host name)")
	fs.StringVar(&dir, "dir", ".", "the directory to write the files to")
	fs.StringVar(&ca, "ca", mtls.CAFile, "the CA certificate")
	fs.StringVar(&key, "key", mtls.CAKeyFile, "the CA's private key")
	fs.IntVar(&days, "days", mtls.DefaultCertDays, "how many days the certificate is valid")
	fs.StringSliceVar(&dnsNames, "additional-dnsname", nil, "another DNS name of a server certificate (repeatable)")
	fs.StringSliceVar(&ips, "additional-ipaddress", nil, "another IP address of a server certificate (repeatable)")

	return group("tls", "Create the certificates of a cluster's mutual TLS",
		group("ca", "The certificate authority", caCreate),
		group("cert", "Server and client certificates", certCreate))
}

// writePair writes a certificate (mode 0644) and its key (0600), refusing
// to overwrite either.
func writePair(certPath, keyPath string, p mtls.PEM) error {
	for _, path := range []string{certPath, keyPath} {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s exists already", path)
		}
	}
	if err := writeNew(certPath, p.Cert, 0o644); err != nil {
		return err
	}
	if err := writeNew(keyPath, p.Key, 0o600); err != nil {
		_ = os.Remove(certPath)
		return err
	}
	return nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// nextClientFiles returns the first client-vproc-<n>.pem not taken in dir.
func nextClientFiles(dir string) (cert, key string, err error) {
	for n := range 10000 {
		cert = filepath.Join(dir, "client-vproc-"+strconv.Itoa(n)+".pem")
		if _, err := os.Stat(cert); errors.Is(err, os.ErrNotExist) {
			return cert, filepath.Join(dir, "client-vproc-"+strconv.Itoa(n)+"-key.pem"), nil
		}
	}
	return "", "", errors.New("too many client certificates in " + dir)
}
