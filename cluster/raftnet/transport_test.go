package raftnet

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func newTestTransport(t *testing.T) *Transport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(&raft.NetworkTransportConfig{
		Stream:  NewStreamLayer(ln, nil),
		MaxPool: 2,
		Timeout: 10 * time.Second,
		Logger:  hclog.NewNullLogger(),
	})
	t.Cleanup(func() {
		_ = tr.Close()
		tr.CloseStreams()
	})
	return tr
}

// A heartbeat reaches raft's main loop (the consumer) even when raft sets a
// heartbeat handler: answered on the transport's goroutine, a heartbeat
// from a newer leader could raise the term in the middle of the old
// leader's log write (see Transport).
func TestHeartbeatsGoToTheConsumer(t *testing.T) {
	server, client := newTestTransport(t), newTestTransport(t)
	handled := make(chan struct{}, 1)
	server.SetHeartbeatHandler(func(rpc raft.RPC) {
		handled <- struct{}{}
		rpc.Respond(&raft.AppendEntriesResponse{}, nil)
	})
	consumed := make(chan raft.RPC, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case rpc := <-server.Consumer():
			consumed <- rpc
			rpc.Respond(&raft.AppendEntriesResponse{Term: 2, Success: true}, nil)
		case <-stop:
		}
	}()
	// What raft sends as a heartbeat: a term and a leader, nothing else.
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ID: []byte("n2"), Addr: []byte(client.LocalAddr())},
		Term:      2,
	}
	var resp raft.AppendEntriesResponse
	if err := client.AppendEntries("n1", server.LocalAddr(), req, &resp); err != nil {
		t.Fatal(err)
	}
	select {
	case rpc := <-consumed:
		if got, ok := rpc.Command.(*raft.AppendEntriesRequest); !ok || got.Term != 2 {
			t.Errorf("the consumer got %T %+v, want the heartbeat", rpc.Command, rpc.Command)
		}
	default:
		t.Fatal("the heartbeat did not reach the consumer")
	}
	select {
	case <-handled:
		t.Error("the heartbeat handler ran: heartbeats must go through raft's main loop")
	default:
	}
	if !resp.Success {
		t.Errorf("response %+v, want the consumer's answer", resp)
	}
}
