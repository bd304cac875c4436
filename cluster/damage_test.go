package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/raftstore"
	"github.com/vproc/vproc/cluster/replica"
	"github.com/vproc/vproc/fsm"
)

// TestDamagedNodeRefusedThenReplaced: a follower whose raft.db was cut
// short refuses to start, naming the file; started again with the same
// name and an empty data dir, it rejoins and catches up, as the README's
// recovery steps say.
func TestDamagedNodeRefusedThenReplaced(t *testing.T) {
	c := MakeCluster(t, 3)
	l := c.leader()
	for range 5 {
		c.spawn()
	}
	i := (c.index(l) + 1) % 3
	c.waitConverged()
	c.crash(i)
	db := filepath.Join(c.cfgs[i].DataDir, raftstore.DBFile)
	// Bolt grows its file ahead of use: cut it below the pages in use,
	// keeping only the two meta pages and one more.
	if err := os.Truncate(db, 3*int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	a, err := New(c.cfgs[i])
	if err == nil {
		a.crash()
		t.Fatal("an agent started on a cut raft.db")
	}
	if !errors.Is(err, raftstore.ErrDamaged) || !strings.Contains(err.Error(), db) {
		t.Fatalf("start on a cut raft.db: got %v, want ErrDamaged naming %s", err, db)
	}
	c.cfgs[i].DataDir = t.TempDir()
	c.cfgs[i].Join = c.joinAddrs(i)
	c.start(i)
	pid := c.spawn().PID
	poll(t, 30*time.Second, func() error {
		if _, ok := c.agents[i].fsm.Get(pid); !ok {
			return fmt.Errorf("the replaced node has not caught up to pid %d", pid)
		}
		return nil
	})
	c.waitConverged()
}

// TestCorruptEntryStopsEveryAgent: a committed entry whose checksum does
// not match stops every agent that applies it (Failed, Err), with the
// index and each agent's own raft.db named.
func TestCorruptEntryStopsEveryAgent(t *testing.T) {
	c := MakeCluster(t, 3)
	l := c.leader()
	c.spawn()
	bad := fsm.Seal(fsm.Encode(&fsm.Tick{Now: time.Now().UnixNano()}))
	bad[len(bad)-1] ^= 0x01
	f := l.raft.Apply(bad, 10*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	for i, a := range c.up() {
		select {
		case <-a.Failed():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not stop on a corrupt entry", a.Name())
		}
		err := a.Err()
		db := filepath.Join(c.cfgs[i].DataDir, raftstore.DBFile)
		if !errors.Is(err, replica.ErrCorruptLog) || !errors.Is(err, fsm.ErrChecksum) ||
			!strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), fmt.Sprintf("index %d", f.Index())) {
			t.Fatalf("%s: Err %v, want ErrCorruptLog naming %s and index %d", a.Name(), err, db, f.Index())
		}
	}
}
