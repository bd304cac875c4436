// Package ctxutil holds the small helpers that vproc's loops share: a
// sleep that a context cuts short, and a wake-up that never blocks.
// It is a leaf: it imports only the standard library.
package ctxutil
