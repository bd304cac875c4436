// Package node is the local kernel of one machine: the process management
// every process the cluster runs goes through.
//
// A ProcessManager runs virtual processes. A process is a Program (a Go
// function) with a PID, a parent, a process group and a session, an
// environment, a working directory in the namespace (package vfs), an fd
// table, signal state, resource limits and pledge/unveil capabilities
// (package security). Programs call into the kernel through Sys, their
// system-call surface, and every call is a yield point: that is where a
// process is switched out, stopped, frozen, signalled, limited or killed.
// Scheduling is cooperative: a program that stops calling in keeps its CPU
// slot, and the kernel reports it as hogging instead of hanging on it.
//
// The kernel holds no programs of its own. It looks up the command of every
// spawn through a Resolver (Config.Programs): a ProgramTable of Go functions, or
// Resolvers, which asks several in turn. The shell and the standard tools
// are user programs in package node/builtins, built on Sys alone.
//
// The kernel hands its K CPU slots to runnable processes with a CFS-style
// weighted fair scheduler (FairScheduler, the kernel's Scheduler): priorities
// 1..100 map to Linux nice weights, and a process that blocks, sleeps or is
// stopped holds no slot.
//
// Semantics follow Linux: wait(2) statuses and zombies, reparenting to init
// (PID 1), SIGCHLD, signal(7) dispositions, masks and merging of pending
// standard signals, EINTR for a blocked call interrupted by a handled signal,
// job control with setpgid and setsid and orphaned process groups, kill(2)
// permissions, execve(2) in place (Sys.Exec) with close-on-exec
// descriptors, getrlimit-style limits, a /dev of the kernel's devices in
// every namespace, pipe(7) and fifo(7) through package ipc, POSIX message
// queues and shared memory.
//
// The package knows nothing of Raft or of other nodes. The cluster drives it
// through Spec.PID, Config.PIDs, Config.Signals and Config.OnEvent, and keeps
// the remote child records of children that run elsewhere in step with
// ReportRemote (README.md, "Children on other nodes"). README.md walks
// through the design.
//
// Guarantees are numbered as in docs/guarantees.md.
package node
