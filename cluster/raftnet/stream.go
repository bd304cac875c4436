// Package raftnet is the raft network layer vproc's agent and its raw raft
// baseline share, so that the baseline measures the same transport the
// product uses.
package raftnet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/mtls"
)

// StreamLayer is raft's StreamLayer over a TCP listener the caller owns: it
// advertises the address given (the listener's own when nil) and, on Close,
// closes every connection it accepted or dialled, so that no connection
// handler outlives the transport.
type StreamLayer struct {
	ln        net.Listener
	advertise net.Addr
	tls       *TLS // nil: plain TCP; set by the constructor

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // guarded by mu
	closed bool                  // guarded by mu
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer returns a StreamLayer over ln that advertises advertise
// (nil: ln's address).
func NewStreamLayer(ln net.Listener, advertise net.Addr) *StreamLayer {
	if advertise == nil {
		advertise = ln.Addr()
	}
	return &StreamLayer{ln: ln, advertise: advertise, conns: make(map[net.Conn]struct{})}
}

func (s *StreamLayer) track(c net.Conn) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, s: s}
	s.conns[tc] = struct{}{}
	return tc, nil
}

// TLS secures a StreamLayer with mutual TLS: every connection, accepted or
// dialled, presents a node's certificate from the cluster's CA. raft's Dial
// gets only an address, so NodeAt maps it to the node raft means there, and
// the dialled peer's certificate must name that node.
type TLS struct {
	Config *mtls.TLS
	// NodeAt returns the node at a raft address; an address no node is
	// known at is not dialled (ErrUnknownAddress).
	NodeAt func(addr raft.ServerAddress) (node string, ok bool)
}

// ErrUnknownAddress is returned when raft asks to dial an address at which
// no node is known, so there is no identity to check its certificate
// against.
var ErrUnknownAddress = errors.New("no node known at the raft address")

// NewTLSStreamLayer returns a StreamLayer over ln, as NewStreamLayer does,
// that speaks only mutual TLS as t says: a plaintext connection, or one
// whose certificate is not a node's from the CA, fails its handshake.
func NewTLSStreamLayer(ln net.Listener, advertise net.Addr, t TLS) (*StreamLayer, error) {
	if t.Config == nil || t.NodeAt == nil {
		return nil, errors.New("raftnet: TLS needs a configuration and NodeAt")
	}
	s := NewStreamLayer(ln, advertise)
	s.tls = &t
	return s, nil
}

// Accept accepts a connection and tracks it. With TLS the handshake runs
// on the connection's first read, on raft's handler of the connection, so
// that a slow peer does not hold up the accept loop; it requires a node's
// certificate.
func (s *StreamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	if s.tls != nil {
		cfg := s.tls.Config.Server()
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if _, ok := mtls.NodeOfState(&cs); !ok {
				return fmt.Errorf("%w: raft takes only a node's certificate", mtls.ErrWrongNode)
			}
			return nil
		}
		c = tls.Server(c, cfg)
	}
	return s.track(c)
}

// Dial dials a server and tracks the connection. With TLS it completes the
// handshake within timeout and checks that the peer's certificate names
// the node at address.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if s.tls == nil {
		c, err := net.DialTimeout("tcp", string(address), timeout)
		if err != nil {
			return nil, err
		}
		return s.track(c)
	}
	node, ok := s.tls.NodeAt(address)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAddress, address)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: s.tls.Config.ClientFor(node)}
	c, err := d.DialContext(ctx, "tcp", string(address))
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

// Close closes the listener and every tracked connection.
func (s *StreamLayer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		_ = c.(*trackedConn).Conn.Close()
	}
	return err
}

// Addr returns the advertised address.
func (s *StreamLayer) Addr() net.Addr { return s.advertise }

type trackedConn struct {
	net.Conn
	s *StreamLayer
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	return c.Conn.Close()
}
