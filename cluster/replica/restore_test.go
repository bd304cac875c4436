package replica

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

// TestRestoreChecksAsItArrives: an upload that is not a snapshot is
// refused at its first bad bytes while the client is still sending, not
// after the whole body was read.
func TestRestoreChecksAsItArrives(t *testing.T) {
	r := newDevReplica(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		// Garbage, then a body that never ends: only a check as the
		// bytes arrive can answer.
		_, _ = pw.Write([]byte("this is not a vproc snapshot at all, not even close\n"))
		buf := make([]byte, 4096)
		for {
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.SnapshotRestore(ctx, pr) }()
	select {
	case err := <-done:
		if !errors.Is(err, fsm.ErrBadSnapshot) {
			t.Fatalf("restoring garbage: got %v, want ErrBadSnapshot", err)
		}
	case <-ctx.Done():
		t.Fatal("restoring garbage still reading its endless body after 30 s")
	}
	pr.CloseWithError(io.ErrClosedPipe)
}
