package replica

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/fsm"
)

// TestUnblockOnShutdownFitsRaft pins unblockOnShutdown to the raft version
// in go.mod: its apply futures must take the shutdown channel.
func TestUnblockOnShutdownFitsRaft(t *testing.T) {
	r := newDevReplica(t)
	f := r.raft.Apply(fsm.Encode(&fsm.Tick{}), 0)
	if !unblockOnShutdown(f, make(chan struct{})) {
		t.Fatalf("a %T takes no shutdown channel", f)
	}
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	b := r.raft.Barrier(0)
	if !unblockOnShutdown(b, make(chan struct{})) {
		t.Fatalf("a barrier's %T takes no shutdown channel", b)
	}
	if err := b.Error(); err != nil {
		t.Fatal(err)
	}
	// A configuration change's future: re-adding the voter as it is.
	cf := r.raft.AddVoter(raft.ServerID(r.cfg.Name), raft.ServerAddress(r.cfg.Addr), 0, 0)
	if !unblockOnShutdown(cf, make(chan struct{})) {
		t.Fatalf("a configuration change's %T takes no shutdown channel", cf)
	}
	if err := cf.Error(); err != nil {
		t.Fatal(err)
	}
	if unblockOnShutdown(raft.Future(nil), make(chan struct{})) {
		t.Error("a nil future took the channel")
	}
}
