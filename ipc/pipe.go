package ipc

import (
	"io"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// PipeBuf is PIPE_BUF: a write of at most this many bytes is atomic. It is
// never split and never interleaved with another writer's data.
const PipeBuf = 4096

// DefaultPipeCapacity is the capacity of a new pipe, as on Linux.
const DefaultPipeCapacity = 65536

// MaxPipeCapacity is the largest capacity a pipe may be given, like
// /proc/sys/fs/pipe-max-size.
const MaxPipeCapacity = 1 << 20

// pipePage is the granularity of pipe capacities.
const pipePage = 4096

// pipe is the object behind both ends of an anonymous pipe and behind a FIFO.
// Data lives in a ring buffer whose size is a power of two, allocated on the
// first write.
type pipe struct {
	id   uint64 // immutable
	fifo bool   // immutable: the data is discarded when every end closes

	mu        sync.Mutex
	buf       []byte   // guarded by mu: nil, or the ring of size capacity
	capacity  int      // guarded by mu: a power of two, pipePage..MaxPipeCapacity
	head      int      // guarded by mu: index in buf of the first buffered byte
	n         int      // guarded by mu: bytes buffered
	readers   int      // guarded by mu: open read handles
	writers   int      // guarded by mu: open write handles
	rOpens    uint64   // guarded by mu: read opens ever (FIFO open rendezvous)
	wOpens    uint64   // guarded by mu: write opens ever (FIFO open rendezvous)
	readWait  waitList // guarded by mu: readers waiting for data or EOF
	writeWait waitList // guarded by mu: writers waiting for room or EPIPE
	openWait  waitList // guarded by mu: FIFO opens waiting for a partner
}

// roundPipeSize rounds n up as F_SETPIPE_SZ does: to at least one page and to
// a power-of-two number of pages.
func roundPipeSize(n int) int {
	if n <= pipePage {
		return pipePage
	}
	return 1 << bits.Len(uint(n-1))
}

func newPipe(capacity int) (*pipe, error) {
	switch {
	case capacity == 0:
		capacity = DefaultPipeCapacity
	case capacity < 0 || capacity > MaxPipeCapacity:
		return nil, EINVAL
	}
	return &pipe{id: nextID(), capacity: roundPipeSize(capacity)}, nil
}

// NewPipe creates a pipe with room for capacity bytes and returns its two
// ends, each with one open handle. A capacity of 0 means DefaultPipeCapacity;
// others are rounded up to a power-of-two multiple of 4096 bytes, as
// F_SETPIPE_SZ does. A negative capacity or one above MaxPipeCapacity is
// EINVAL.
func NewPipe(capacity int) (*PipeReader, *PipeWriter, error) {
	p, err := newPipe(capacity)
	if err != nil {
		return nil, nil, err
	}
	p.readers, p.writers = 1, 1
	p.rOpens, p.wOpens = 1, 1
	return &PipeReader{pipeEnd{p: p}}, &PipeWriter{pipeEnd{p: p}}, nil
}

// copyIn appends as much of b as fits and returns how much it copied.
// p.mu is held.
func (p *pipe) copyIn(b []byte) int {
	if p.buf == nil {
		p.buf = make([]byte, p.capacity)
	}
	mask := p.capacity - 1
	tail := (p.head + p.n) & mask
	k := copy(p.buf[tail:], b[:min(len(b), p.capacity-p.n)])
	if k < len(b) && p.n+k < p.capacity {
		k += copy(p.buf[:p.capacity-p.n-k], b[k:])
	}
	p.n += k
	return k
}

// copyOut moves up to len(b) buffered bytes into b. p.mu is held.
func (p *pipe) copyOut(b []byte) int {
	want := min(len(b), p.n)
	k := copy(b[:want], p.buf[p.head:])
	if k < want {
		k += copy(b[k:want], p.buf)
	}
	p.head = (p.head + k) & (p.capacity - 1)
	p.n -= k
	if p.n == 0 {
		p.head = 0
	}
	return k
}

// closeReadLocked drops one read handle. p.mu is held.
func (p *pipe) closeReadLocked() {
	p.readers--
	if p.readers == 0 {
		p.writeWait.wake()
		p.discardIfUnused()
	}
}

// closeWriteLocked drops one write handle. p.mu is held.
func (p *pipe) closeWriteLocked() {
	p.writers--
	if p.writers == 0 {
		p.readWait.wake()
		p.discardIfUnused()
	}
}

// discardIfUnused throws away a FIFO's data and settings once no end is
// open, as Linux frees the FIFO's pipe then. p.mu is held.
func (p *pipe) discardIfUnused() {
	if p.fifo && p.readers == 0 && p.writers == 0 {
		p.buf, p.head, p.n = nil, 0, 0
		p.capacity = DefaultPipeCapacity
	}
}

// read implements PipeReader.Read.
func (p *pipe) read(w Waiter, b []byte, nonblock bool) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	for p.n == 0 {
		if p.writers == 0 {
			p.mu.Unlock()
			return 0, io.EOF
		}
		if nonblock {
			p.mu.Unlock()
			return 0, EAGAIN
		}
		p.readWait.add(w)
		p.mu.Unlock()
		err := w.Wait(time.Time{})
		p.mu.Lock()
		p.readWait.remove(w)
		if err != nil {
			p.mu.Unlock()
			return 0, err
		}
	}
	k := p.copyOut(b)
	if p.writeWait.len() > 0 {
		p.writeWait.wake()
	}
	p.mu.Unlock()
	return k, nil
}

// write implements PipeWriter.Write.
func (p *pipe) write(w Waiter, b []byte, nonblock bool) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	atomicWrite := len(b) <= PipeBuf
	done := 0
	p.mu.Lock()
	for {
		if p.readers == 0 {
			p.mu.Unlock()
			return done, EPIPE
		}
		free := p.capacity - p.n
		if free >= len(b)-done || (!atomicWrite && free > 0) {
			done += p.copyIn(b[done:])
			if p.readWait.len() > 0 {
				p.readWait.wake()
			}
			if done == len(b) {
				p.mu.Unlock()
				return done, nil
			}
		}
		if nonblock {
			p.mu.Unlock()
			if done > 0 {
				return done, nil
			}
			return 0, EAGAIN
		}
		p.writeWait.add(w)
		p.mu.Unlock()
		err := w.Wait(time.Time{})
		p.mu.Lock()
		p.writeWait.remove(w)
		if err != nil {
			p.mu.Unlock()
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
}

// setCapacity implements F_SETPIPE_SZ. p.mu is not held.
func (p *pipe) setCapacity(n int) error {
	if n < 0 || n > MaxPipeCapacity {
		return EINVAL
	}
	n = roundPipeSize(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n > n {
		return EBUSY
	}
	if n == p.capacity {
		return nil
	}
	if p.buf != nil {
		nb := make([]byte, n)
		k := copy(nb, p.buf[p.head:min(p.head+p.n, p.capacity)])
		copy(nb[k:p.n], p.buf)
		p.buf, p.head = nb, 0
	}
	grew := n > p.capacity
	p.capacity = n
	if grew && p.writeWait.len() > 0 {
		p.writeWait.wake()
	}
	return nil
}

// pipeEnd is what a read handle and a write handle have in common.
type pipeEnd struct {
	p      *pipe       // immutable
	closed atomic.Bool // set once by Close
}

// ID returns a number that identifies the pipe object behind this end: every
// handle on either end of one pipe, or on one FIFO, returns the same ID, and
// no other object in the process has it. The kernel charges Capacity bytes
// once per process per ID.
func (e *pipeEnd) ID() uint64 { return e.p.id }

// Capacity returns the pipe's capacity in bytes (F_GETPIPE_SZ).
func (e *pipeEnd) Capacity() int {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.p.capacity
}

// Len returns the number of bytes buffered in the pipe (FIONREAD).
func (e *pipeEnd) Len() int {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.p.n
}

// SetCapacity sets the pipe's capacity (F_SETPIPE_SZ). n is rounded up to a
// power-of-two multiple of 4096 bytes. A negative n or one above
// MaxPipeCapacity is EINVAL; a capacity smaller than the data buffered is
// EBUSY; a closed handle is EBADF.
func (e *pipeEnd) SetCapacity(n int) error {
	if e.closed.Load() {
		return EBADF
	}
	return e.p.setCapacity(n)
}

// PipeReader is one open handle on the read end of a pipe or FIFO. A
// PipeReader may be used by several goroutines at once.
type PipeReader struct {
	pipeEnd
}

// Read reads up to len(p) bytes. It blocks while the pipe is empty and some
// write handle is open, unless nonblock is set, in which case it returns
// EAGAIN. It returns at least one byte if any is buffered, and (0, io.EOF)
// once the pipe is empty and every write handle is closed. A len(p) of 0
// returns (0, nil) at once. An error from w.Wait, such as EINTR, is returned
// unchanged and nothing is consumed. A closed handle is EBADF.
func (r *PipeReader) Read(w Waiter, p []byte, nonblock bool) (int, error) {
	if r.closed.Load() {
		return 0, EBADF
	}
	return r.p.read(w, p, nonblock)
}

// Dup returns a new handle on the same read end, as dup(2) or fork(2) make
// one. The end stays open until every handle on it is closed. Dup of a closed
// handle returns a closed handle.
func (r *PipeReader) Dup() *PipeReader {
	d := &PipeReader{pipeEnd{p: r.p}}
	dupHandle(&r.p.mu, &r.closed, &d.closed, &r.p.readers)
	return d
}

// Close closes this handle. It is idempotent. When the last read handle
// closes, blocked writers wake and get EPIPE.
func (r *PipeReader) Close() error {
	closeHandle(&r.p.mu, &r.closed, r.p.closeReadLocked)
	return nil
}

// PipeWriter is one open handle on the write end of a pipe or FIFO. A
// PipeWriter may be used by several goroutines at once.
type PipeWriter struct {
	pipeEnd
}

// Write writes p to the pipe, following pipe(7):
//
//   - With no read handle open it returns EPIPE (the caller raises SIGPIPE).
//     If the last reader went away during a large write that had already
//     transferred some bytes, it returns that count together with EPIPE.
//   - A write of at most PipeBuf bytes is atomic: it waits for room for all
//     of it, and with nonblock and no room it returns EAGAIN.
//   - A larger write may be split and interleaved with other writers' data.
//     A blocking one returns when all of p is written; with nonblock it
//     writes what fits and returns EAGAIN only when nothing fits.
//   - An error from w.Wait, such as EINTR, is returned unchanged when nothing
//     was written; after a partial write the count is returned with a nil
//     error, as Linux does.
//
// A len(p) of 0 returns (0, nil). A closed handle is EBADF.
func (w *PipeWriter) Write(wt Waiter, p []byte, nonblock bool) (int, error) {
	if w.closed.Load() {
		return 0, EBADF
	}
	return w.p.write(wt, p, nonblock)
}

// Dup returns a new handle on the same write end, as dup(2) or fork(2) make
// one. The end stays open until every handle on it is closed. Dup of a closed
// handle returns a closed handle.
func (w *PipeWriter) Dup() *PipeWriter {
	d := &PipeWriter{pipeEnd{p: w.p}}
	dupHandle(&w.p.mu, &w.closed, &d.closed, &w.p.writers)
	return d
}

// Close closes this handle. It is idempotent. When the last write handle
// closes, blocked readers wake and see EOF once the buffer is drained.
func (w *PipeWriter) Close() error {
	closeHandle(&w.p.mu, &w.closed, w.p.closeWriteLocked)
	return nil
}
