package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/mtls"
)

// Transport security and join proofs (docs/guarantees.md).
//
//   - TLS (Config.TLS): the HTTP listener and raft's stream layer speak
//     only mutual TLS with certificates of the cluster's CA, so plaintext
//     and other CAs' certificates fail the handshake. The agent's own
//     certificate must name the node (mtls.NodeSAN). Raft dials an address:
//     nodeAtRaftAddr maps it to the node gossip or the table knows there,
//     and the peer's certificate must name that node. Node-to-node HTTP
//     (forwarding, reports, lease renewals, IPC streams) presents the
//     node's certificate, and the HTTP API knows a node by it, not by a
//     header (httpapi/identity.go).
//   - Gossip encryption (Config.EncryptKey, the keyring file): memberlist
//     refuses members without a key of the ring.
//   - Join proof: with TLS, a member proves its identity by a handshake
//     with its raft listener before the leader adds it to raft or the
//     table (membership/proof.go); with a gossip key, knowing the key is
//     the proof. With neither, joins are not authenticated and the agent
//     warns once at start.

// validateSecurity checks the TLS settings and the gossip key.
func (c *Config) validateSecurity() error {
	if err := c.TLS.Validate(); err != nil {
		return err
	}
	if c.EncryptKey != "" {
		if _, err := membership.DecodeKey(c.EncryptKey); err != nil {
			return err
		}
	}
	if c.TLS.Enabled() {
		if err := mtls.CheckNodeName(c.Name); err != nil {
			return fmt.Errorf("with TLS the node name is a DNS label: %w", err)
		}
	}
	return nil
}

// ErrLoopbackHTTP is returned by New when the HTTP API binds the loopback interface while gossip
// does not, so the other nodes, which reach this one over HTTP (forwarding,
// reports, IPC streams), could not.
var ErrLoopbackHTTP = errors.New("the HTTP address is loopback but the gossip address is not")

// checkBind refuses, outside Dev, an HTTP address on the loopback
// interface with a gossip address that is not: New checks it before
// starting.
func (c *Config) checkBind() error {
	if c.Dev {
		return nil
	}
	httpHost, _, _ := net.SplitHostPort(c.HTTPAddr)
	gossipHost, _, _ := net.SplitHostPort(c.GossipAddr)
	if isLoopback(httpHost) && !isLoopback(gossipHost) {
		return fmt.Errorf("%w: http %s, gossip %s: other nodes could not reach this node's API (bind HTTP to a reachable address, or use --dev)",
			ErrLoopbackHTTP, c.HTTPAddr, c.GossipAddr)
	}
	return nil
}

// isLoopback reports whether a listen host binds the loopback interface
// only. An empty host is every interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrWrongCertificate is returned by New when the agent's certificate does
// not name its node.
var ErrWrongCertificate = errors.New("the certificate does not name this node")

// loadTLS loads the agent's TLS configuration, nil when TLS is off, and
// checks that the certificate names the node.
func (c *Config) loadTLS() (*mtls.TLS, error) {
	if !c.TLS.Enabled() {
		return nil, nil
	}
	t, err := mtls.Load(c.TLS)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if t.Node() != c.Name {
		return nil, fmt.Errorf("%w: %w: it names %q, the node is %q (vproc tls cert create --server --node %s)",
			ErrBadConfig, ErrWrongCertificate, t.Node(), c.Name, c.Name)
	}
	return t, nil
}

// gossipKeys returns the gossip keys, the primary first, and the keyring
// file to keep them in: the file's when it exists, else EncryptKey's.
// Without a data directory (Dev) nothing is kept.
func (c *Config) gossipKeys() (keys [][]byte, path string, fromFile bool, err error) {
	if !c.Dev && c.DataDir != "" {
		path = filepath.Join(c.DataDir, membership.KeyringFile)
		keys, err = membership.LoadKeyring(path)
		if err != nil {
			return nil, "", false, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
		if keys != nil {
			return keys, path, true, nil
		}
	}
	if c.EncryptKey == "" {
		return nil, path, false, nil
	}
	k, err := membership.DecodeKey(c.EncryptKey)
	if err != nil {
		return nil, "", false, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return [][]byte{k}, path, false, nil
}

// nodeAtRaftAddr returns the node gossip, else the table, knows at a raft
// address: whom raft's dialer expects to find there.
func (a *Agent) nodeAtRaftAddr(addr raft.ServerAddress) (string, bool) {
	if string(addr) == a.raftAddr {
		return a.cfg.Name, true
	}
	if a.gossip != nil {
		for _, m := range a.gossip.Members() {
			if m.MetaOK && m.Meta.RaftAddr == string(addr) {
				return m.Name, true
			}
		}
	}
	if a.fsm != nil {
		for _, n := range a.fsm.View().Nodes() {
			if n.RaftAddr == string(addr) {
				return n.ID, true
			}
		}
	}
	return "", false
}

// proveTLS is the join proof with TLS: a handshake with the member's raft
// listener whose certificate, from the CA, names the member.
func proveTLS(t *mtls.TLS) func(ctx context.Context, name, raftAddr string) error {
	return func(ctx context.Context, name, raftAddr string) error {
		d := &tls.Dialer{Config: t.ClientFor(name)}
		c, err := d.DialContext(ctx, "tcp", raftAddr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// warnSecurity logs, once at start, what an attacker on the network could
// do with this configuration.
func (a *Agent) warnSecurity(tlsOn, gossipKey bool) {
	if a.cfg.Dev {
		return
	}
	if !tlsOn && !gossipKey {
		a.logger.Warn("neither TLS nor a gossip key is configured: any host that reaches the gossip port can join the cluster (see the README, \"Secure cluster\")")
	}
	host, _, _ := net.SplitHostPort(a.cfg.HTTPAddr)
	if isLoopback(host) {
		return
	}
	if !tlsOn {
		a.logger.Warn("serving the HTTP API on a non-loopback address without TLS: anyone who reaches it can use the cluster", "http", a.cfg.HTTPAddr)
	}
	if !a.cfg.ACLEnabled {
		a.logger.Warn("serving the HTTP API on a non-loopback address with ACLs off: anyone who reaches it may spawn, kill and read every process (see --acl-enabled)", "http", a.cfg.HTTPAddr)
	}
}

// keyringHolder is the optional ability of a core to serve the gossip
// keyring (the Agent's memberlist).
type keyringHolder interface {
	gossipKeyring() httpapi.Keyring
}

// keyringOf returns c's gossip keyring, nil if it has none.
func keyringOf(c core) httpapi.Keyring {
	if k, ok := c.(keyringHolder); ok {
		return k.gossipKeyring()
	}
	return nil
}

// gossipKeyring implements keyringHolder.
func (a *Agent) gossipKeyring() httpapi.Keyring { return a.gossip }
