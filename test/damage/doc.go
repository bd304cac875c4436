// Package damage tests how the real vproc binary treats damaged data: an
// agent stopped cleanly has its raft.db emptied, cut short or garbled, or
// its snapshot garbled, and must then refuse to start with one clear line
// naming the file and the reason, never a crash with a stack trace and
// never a start from less than it had.
package damage
