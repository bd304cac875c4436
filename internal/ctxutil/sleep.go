package ctxutil

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx is done, and reports whether it waited the
// whole time. With d <= 0 it does not wait and reports whether ctx is still
// live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
