// Package raftnet is the raft network layer vproc's agent and its raw raft
// baseline share, so that the baseline measures the same transport the
// product uses.
package raftnet

import (
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// StreamLayer is raft's StreamLayer over a TCP listener the caller owns: it
// advertises the address given (the listener's own when nil) and, on Close,
// closes every connection it accepted or dialled, so that no connection
// handler outlives the transport.
type StreamLayer struct {
	ln        net.Listener
	advertise net.Addr

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

// Accept accepts a connection and tracks it.
func (s *StreamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

// Dial dials a server and tracks the connection.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
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
