// Package ctxutil holds the small context helpers that vproc's loops share.
// It is a leaf: it imports only the standard library.
package ctxutil
