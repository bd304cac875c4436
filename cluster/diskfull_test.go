package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// TestDiskFullReportedAndRecovered fills the disk of a single-node
// cluster's data dir (a small tmpfs; root only): spawns fail naming
// "ENOSPC on <dir>", health says so, and once space is freed the agent
// takes spawns again by itself.
func TestDiskFullReportedAndRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	// Registered before the agent's, so it runs after the agent stopped.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	data := filepath.Join(dir, "data")
	c := MakeCluster(t, 1, func(_ int, c *Config) { c.DataDir = data })
	cl := clientOf(t, c.agents[0])
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := cl.Spawn(ctx, api.SpawnRequest{Command: "true"}); err != nil {
		t.Fatalf("spawn with space: %v", err)
	}

	// Fill the disk.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for i := 0; i < 1024; i++ {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()

	var failed error
	poll(t, 60*time.Second, func() error {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		defer scancel()
		_, err := cl.Spawn(sctx, api.SpawnRequest{Command: "sleep", Args: []string{strings.Repeat("x", 16<<10)}})
		if err == nil {
			return errors.New("spawns still succeed on a full disk")
		}
		if !strings.Contains(err.Error(), "ENOSPC on "+data) {
			return fmt.Errorf("spawn on a full disk: %v, want ENOSPC on %s", err, data)
		}
		failed = err
		return nil
	})
	t.Logf("spawn on a full disk: %v", failed)
	h, err := cl.Health(ctx)
	if err != nil && !strings.Contains(err.Error(), "ENOSPC") {
		t.Fatalf("health on a full disk: %v", err)
	}
	if err == nil && !strings.Contains(h.Disk, "ENOSPC on "+data) {
		t.Fatalf("health on a full disk: %+v, want ENOSPC on %s", h, data)
	}

	// Free the space: the agent recovers by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, func() error {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		defer scancel()
		if _, err := cl.Spawn(sctx, api.SpawnRequest{Command: "true"}); err != nil {
			return fmt.Errorf("spawn after space was freed: %v", err)
		}
		h, err := cl.Health(sctx)
		if err != nil || !h.OK || h.Disk != "" {
			return fmt.Errorf("health after space was freed: %+v %v", h, err)
		}
		return nil
	})
}
