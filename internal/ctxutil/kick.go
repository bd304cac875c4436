package ctxutil

// Kick wakes the loop that waits on ch, a channel of one: it sends without
// blocking, and a wake-up already pending absorbs this one.
func Kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
