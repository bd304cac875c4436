// Package logstore keeps the standard output and error of the processes this
// node runs (docs/design.md, "What is replicated and what stays local": "stdout
// and stderr logs, bounded, no open file per idle process").
//
// Each PID has one log, shared by its incarnations that run here. A log is a
// logical byte stream: offset 0 is its first byte ever written, and readers
// ask for an offset. It is bounded by maxBytes: two segments of maxBytes/2
// each, the older dropped whole when the newer fills up, so between
// maxBytes/2 and maxBytes of the most recent output is kept. A reader asking
// for an offset that has been dropped gets the oldest byte still kept.
//
// Writes (from the kernel, while the writing process holds its CPU slot)
// only append to an in-memory buffer under a mutex: they never touch the
// disk. One flusher goroutine moves the buffers into the segments shortly
// after: on disk it opens the segment file, appends and closes it, so no file
// stays open between flushes. Readers see buffered output at once. If the
// flusher falls behind by more than maxBytes, the oldest buffered bytes are
// dropped, as the bound says. Finish, which the runner calls when an
// incarnation exits and before it reports the exit, writes the log's buffer
// at once: an agent killed after a process's exit is in the table still has
// all of its output (the files are not synced, so a crash of the machine
// may lose the last of it).
//
// On disk a segment is the file "<pid>.<base>.log" in the store's directory,
// where base is the logical offset of its first byte; a restarted agent finds
// its logs again from the names alone. With an empty directory everything
// stays in memory (Dev).
//
// Each write is recorded with its stream (stdout or stderr) and its time:
// a record marks the offset where a run of one stream starts, writes to
// the same stream within 10 ms sharing it. On disk the records are the file
// "<pid>.rec" (17 bytes each: offset, unix ns, stream), appended by the
// flusher and rewritten when older output is dropped, so they stay within
// the log's bound. A log left by a release without records (segment files
// only) reads as stdout of unknown time. ReadChunks splits what it reads by
// record.
//
// It is a leaf: it must not import any vproc package. The node runner writes
// to it and the HTTP API reads from it.
package logstore
