// Package ipc provides the inter-process communication mechanisms of vproc's
// local kernel: errno-style errors, signal numbers and sets, anonymous pipes,
// named pipes (FIFOs), POSIX-style message queues and shared-memory segments.
//
// The package is a leaf. It knows nothing about processes, nodes or clusters:
// a caller that has to block passes a Waiter, and the kernel's implementation
// of Waiter is what turns a blocked call into a yield point, an EINTR or a
// death by SIGKILL. Semantics follow the Linux man pages pipe(7), fifo(7),
// mq_overview(7), shm_overview(7) and signal(7).
//
// # Blocking
//
// Only the calls that take a Waiter block: PipeReader.Read,
// PipeWriter.Write, FIFO.OpenRead, FIFO.OpenWrite, MQDesc.Send and
// MQDesc.Receive. Each follows the protocol documented on Waiter and returns
// an error from Wait unchanged, except that a pipe write which has already
// transferred bytes returns its count instead. Every other call, Close and
// Detach included, returns without waiting for another caller's progress.
//
// # Handles and lifetimes
//
// Pipe ends, message-queue descriptors, segments and mappings are handles.
// Dup makes another handle on the same open object, as dup(2) and fork(2)
// do, and each handle is closed on its own; Close is idempotent and a closed
// handle answers EBADF. A pipe's read end stays open while any read handle
// is, and likewise for the write end. A FIFO's data is discarded when its
// last end closes. A named queue or segment outlives its handles until it is
// unlinked; after Unlink the name is free at once, and the object lives on
// until its last descriptor is closed (queues) or its last handle is closed
// and its last mapping detached (segments).
//
// # Identity and cost
//
// Every object has an ID, unique within the process, that all of its handles
// share, so that a caller can charge an object's memory once per owner: a
// pipe's Capacity, a queue's Cost and a segment's Size.
package ipc
