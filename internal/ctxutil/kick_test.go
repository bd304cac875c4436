package ctxutil

import "testing"

// TestKick: a kick never blocks, and kicks before the loop wakes make one
// wake-up.
func TestKick(t *testing.T) {
	ch := make(chan struct{}, 1)
	Kick(ch)
	Kick(ch) // would block on a send that waits
	<-ch
	select {
	case <-ch:
		t.Fatal("two kicks made two wake-ups")
	default:
	}
}
