package ipc

import "time"

// FIFO is a named pipe's object, following fifo(7). The caller keeps the map
// from path to FIFO; nothing here depends on a name, so unlinking the name
// leaves open ends working.
//
// Opening a FIFO for reading blocks until a writer opens it, and opening it
// for writing blocks until a reader opens it, unless O_NONBLOCK is set. Data
// then flows as in an anonymous pipe. When every end is closed, the data
// still buffered is discarded and the capacity returns to the default, as
// Linux frees the FIFO's pipe then.
type FIFO struct {
	mode  uint32 // immutable
	owner string // immutable
	p     *pipe  // immutable
}

// NewFIFO returns a FIFO with the given permission bits and owner, which the
// caller checks before opening it. No end is open.
func NewFIFO(mode uint32, owner string) *FIFO {
	p, _ := newPipe(DefaultPipeCapacity)
	p.fifo = true
	return &FIFO{mode: mode, owner: owner, p: p}
}

// Mode returns the permission bits the FIFO was made with.
func (f *FIFO) Mode() uint32 { return f.mode }

// Owner returns the FIFO's owner.
func (f *FIFO) Owner() string { return f.owner }

// ID returns the FIFO's identity. It is also the ID of every handle opened on
// it, since the FIFO is a single pipe object.
func (f *FIFO) ID() uint64 { return f.p.id }

// Readers returns the number of open read handles.
func (f *FIFO) Readers() int {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	return f.p.readers
}

// Writers returns the number of open write handles.
func (f *FIFO) Writers() int {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	return f.p.writers
}

// OpenRead opens the FIFO for reading (O_RDONLY). With nonblock it succeeds
// at once, and a read then sees EOF while no writer is open. Otherwise it
// blocks until a writer has opened the FIFO since this call began, even if
// that writer has closed again meanwhile. The opener counts as a reader while
// it waits, so writers that open meanwhile do not block. An error from
// w.Wait, such as EINTR, is returned unchanged and the open is undone.
func (f *FIFO) OpenRead(w Waiter, nonblock bool) (*PipeReader, error) {
	if err := f.p.openEnd(w, nonblock, false); err != nil {
		return nil, err
	}
	return &PipeReader{pipeEnd{p: f.p}}, nil
}

// OpenWrite opens the FIFO for writing (O_WRONLY). With nonblock and no
// reader open it fails with ENXIO. Otherwise it blocks until a reader has
// opened the FIFO since this call began, even if that reader has closed
// again meanwhile. An error from w.Wait, such as EINTR, is returned unchanged
// and the open is undone.
func (f *FIFO) OpenWrite(w Waiter, nonblock bool) (*PipeWriter, error) {
	if err := f.p.openEnd(w, nonblock, true); err != nil {
		return nil, err
	}
	return &PipeWriter{pipeEnd{p: f.p}}, nil
}

// openEnd counts one more open handle on the read end, or on the write end
// when write is set, wakes the openers waiting for a partner, and then,
// unless nonblock is set or a partner is open, waits until the other end has
// been opened since the call began: the rendezvous of OpenRead and OpenWrite.
// A non-blocking write open with no reader is ENXIO. On an error from w.Wait
// the handle is dropped again.
func (p *pipe) openEnd(w Waiter, nonblock, write bool) error {
	mine, partners, partnerOpens := &p.readers, &p.writers, &p.wOpens
	myOpens, drop := &p.rOpens, p.closeReadLocked
	if write {
		mine, partners, partnerOpens = &p.writers, &p.readers, &p.rOpens
		myOpens, drop = &p.wOpens, p.closeWriteLocked
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if write && nonblock && *partners == 0 {
		return ENXIO
	}
	*myOpens++
	*mine++
	if p.openWait.len() > 0 {
		p.openWait.wake()
	}
	if nonblock || *partners > 0 {
		return nil
	}
	for start := *partnerOpens; *partnerOpens == start; {
		p.openWait.add(w)
		p.mu.Unlock()
		err := w.Wait(time.Time{})
		p.mu.Lock()
		p.openWait.remove(w)
		if err != nil {
			drop()
			return err
		}
	}
	return nil
}

// OpenReadWrite opens both ends at once (O_RDWR). It never blocks, as on
// Linux. Each returned handle is closed on its own.
func (f *FIFO) OpenReadWrite() (*PipeReader, *PipeWriter) {
	p := f.p
	p.mu.Lock()
	p.rOpens++
	p.wOpens++
	p.readers++
	p.writers++
	if p.openWait.len() > 0 {
		p.openWait.wake()
	}
	p.mu.Unlock()
	return &PipeReader{pipeEnd{p: p}}, &PipeWriter{pipeEnd{p: p}}
}
