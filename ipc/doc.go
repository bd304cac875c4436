// Package ipc provides the inter-process communication mechanisms of vproc's
// local kernel: errno-style errors, signal numbers and sets, anonymous pipes,
// named pipes (FIFOs), POSIX-style message queues and shared-memory segments.
//
// The package is a leaf. It knows nothing about processes, nodes or clusters:
// a caller that has to block passes a Waiter, and the kernel's implementation
// of Waiter is what turns a blocked call into a yield point, an EINTR or a
// death by SIGKILL. Semantics follow the Linux man pages pipe(7), fifo(7),
// mq_overview(7), shm_overview(7) and signal(7).
package ipc
