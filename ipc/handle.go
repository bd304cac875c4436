package ipc

import (
	"sync"
	"sync/atomic"
)

// Every handle type of this package (pipe ends, queue descriptors, segment
// handles and mappings) is a closed flag over a shared object that counts its
// open handles under the object's lock. dupHandle and closeHandle are the two
// moves on such a count: Dup adds a handle, and Close or Detach drops one
// exactly once.

// dupHandle gives dup, the closed flag of a handle Dup has just made from a
// handle whose flag is orig, the state of orig: closed too, or open and
// counted in *n. mu is the object's lock, which guards *n.
func dupHandle(mu sync.Locker, orig, dup *atomic.Bool, n *int) {
	mu.Lock()
	if orig.Load() {
		dup.Store(true)
	} else {
		*n++
	}
	mu.Unlock()
}

// closeHandle sets a handle's closed flag under mu, the object's lock, and,
// if the handle was open, calls release with mu held to drop it from the
// object's count.
func closeHandle(mu sync.Locker, closed *atomic.Bool, release func()) {
	mu.Lock()
	if !closed.Swap(true) {
		release()
	}
	mu.Unlock()
}
