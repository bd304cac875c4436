package raftnet

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"go.uber.org/goleak"

	"github.com/vproc/vproc/cluster/mtls"
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

func TestTLSStreamLayer(t *testing.T) {
	ca, _ := mtls.CreateCA(1, time.Now())
	other, _ := mtls.CreateCA(1, time.Now())
	load := func(ca mtls.PEM, node string) *mtls.TLS {
		t.Helper()
		c, err := mtls.CreateCert(ca, mtls.CertRequest{Server: true, Node: node, Days: 1}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		l, err := mtls.New(ca.Cert, c)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	layer := func(cfg *mtls.TLS, at map[raft.ServerAddress]string) *StreamLayer {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewTLSStreamLayer(ln, nil, TLS{Config: cfg, NodeAt: func(a raft.ServerAddress) (string, bool) {
			n, ok := at[a]
			return n, ok
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	at := map[raft.ServerAddress]string{}
	n1 := layer(load(ca, "n1"), at)
	at[raft.ServerAddress(n1.Addr().String())] = "n1"
	// Echo one byte on every accepted connection.
	go func() {
		for {
			c, err := n1.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 1)
				if _, err := io.ReadFull(c, b); err == nil {
					_, _ = c.Write(b)
				}
			}()
		}
	}()
	roundTrip := func(s *StreamLayer, addr raft.ServerAddress) error {
		c, err := s.Dial(addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte{7}); err != nil {
			return err
		}
		b := make([]byte, 1)
		_, err = io.ReadFull(c, b)
		return err
	}
	addr := raft.ServerAddress(n1.Addr().String())
	if err := roundTrip(layer(load(ca, "n2"), at), addr); err != nil {
		t.Fatalf("n2 to n1: %v", err)
	}
	if err := roundTrip(layer(load(other, "n2"), at), addr); err == nil {
		t.Error("a node of another CA reached n1")
	}
	wrong := map[raft.ServerAddress]string{addr: "n3"}
	if err := roundTrip(layer(load(ca, "n2"), wrong), addr); !errors.Is(err, mtls.ErrWrongNode) {
		t.Errorf("expecting n3 at n1's address: got %v, want ErrWrongNode", err)
	}
	if err := roundTrip(layer(load(ca, "n2"), map[raft.ServerAddress]string{}), addr); !errors.Is(err, ErrUnknownAddress) {
		t.Errorf("an unknown address: got %v, want ErrUnknownAddress", err)
	}
	// Plaintext gets no echo.
	c, err := net.DialTimeout("tcp", string(addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte{7, 7, 7, 7, 7, 7})
	b := make([]byte, 1)
	if n, _ := io.ReadFull(c, b); n == 1 && b[0] == 7 {
		t.Error("plaintext was echoed")
	}
}
