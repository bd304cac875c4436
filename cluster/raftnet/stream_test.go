package raftnet

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCloseEndsTrackedConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewStreamLayer(ln, nil)
	if s.Addr().String() != ln.Addr().String() {
		t.Fatalf("Addr %v, want the listener's %v", s.Addr(), ln.Addr())
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := s.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	dialed, err := s.Dial(raft.ServerAddress(ln.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	in := <-accepted
	if in == nil {
		t.Fatal("accept failed")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Both ends it tracked are closed: a read on them fails at once.
	for _, c := range []net.Conn{dialed, in} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("read on a tracked connection after Close: %v", err)
		}
	}
	// A connection dialled after Close is refused by the layer itself.
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := s.Dial(raft.ServerAddress(other.Addr().String()), time.Second); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("dial after Close: %v, want net.ErrClosed", err)
	}
}
