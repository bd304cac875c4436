package node

import (
	"context"
	"io/fs"
	"time"

	"github.com/vproc/vproc/ipc"
)

// doom is the context Sys.Context hands out and the function that cancels
// it. Both are set once, under the process's signal lock.
type doom struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// Context returns a context that is cancelled once the process must die:
// a SIGKILL, a kill the kernel decided (the wall-time limit, the CPU hard
// limit, a broken promise), or a deliverable signal whose action is to
// terminate. It is also cancelled when the process has ended.
//
// A program that runs code which makes no system call for long stretches
// (a WebAssembly module in a loop) hands this context to that code so that
// death reaches it between two calls; everything else about the process
// (stops, handlers, time slices) still happens only at system calls.
func (s *Sys) Context() context.Context {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.more()
	if r.doom == nil {
		ctx, cancel := context.WithCancel(context.Background())
		r.doom = &doom{ctx: ctx, cancel: cancel}
		p.doomIfFatalLocked()
	}
	return r.doom.ctx
}

// Blocking runs fn with the process's CPU slot given up, as a blocking
// system call does: fn may wait on the network or work outside the process
// (fetching and compiling a program's code). Its time is not the process's
// CPU time. Signals are acted on once fn returns; a process killed
// meanwhile dies then. fn should watch Context to end early.
func (s *Sys) Blocking(fn func()) error {
	s.enter()
	return s.leave(s.p.blockingCall(fn))
}

// doomIfFatalLocked cancels the process's context when a signal that will
// kill it is deliverable. Callers hold p.mu.
func (p *Process) doomIfFatalLocked() {
	r := p.rare.Load()
	if r == nil || r.doom == nil {
		return
	}
	if p.killSig != 0 {
		r.doom.cancel()
		return
	}
	for d := p.pending &^ p.mask; d != 0; {
		sig := d.Lowest()
		d = d.Del(sig)
		act := p.actionLocked(sig)
		if act.Handler != nil || act.Ignore {
			continue
		}
		if a := sig.DefaultAction(); a == ipc.ActTerm || a == ipc.ActCore {
			r.doom.cancel()
			return
		}
	}
}

// endDoom releases the context of a process that has ended.
func (p *Process) endDoom() {
	var d *doom
	p.mu.Lock()
	if r := p.rare.Load(); r != nil {
		d = r.doom
	}
	p.mu.Unlock()
	if d != nil {
		d.cancel()
	}
}

// limitSpinners enforces the CPU limits on processes flagged as hogging
// (holding a slot without calling in), which enter never sees: SIGXCPU at
// the soft limit, SIGKILL at the hard one. A fatal signal cancels the
// process's context (Sys.Context), which ends code that honours it. The
// watchdog calls it after flagHogs.
func (k *ProcessManager) limitSpinners(now int64) {
	type holder struct {
		p    *Process
		used int64
	}
	var hs []holder
	k.sched.mu.Lock()
	for _, p := range k.sched.holders {
		if p.attention.Load()&attnHog != 0 {
			hs = append(hs, holder{p, p.cpuNs.Load() + now - p.sliceStart})
		}
	}
	k.sched.mu.Unlock()
	for _, h := range hs {
		h.p.mu.Lock()
		lim := h.p.Limits.Get(RCPU)
		h.p.mu.Unlock()
		switch {
		case h.used <= 0:
		case lim.Hard != Infinity && uint64(h.used) >= lim.Hard:
			k.killFor(h.p, ipc.SIGKILL, "CPU time hard limit exceeded")
		case lim.Soft != Infinity && uint64(h.used) >= lim.Soft:
			k.sendSignal(h.p, ipc.SIGXCPU)
		}
	}
}

// Whence values of Seek, with Linux's values.
const (
	SEEK_SET = 0
	SEEK_CUR = 1
	SEEK_END = 2
)

// Seek sets the offset of descriptor fd for the next read or write, as
// lseek(2), and returns the new offset. Pipes, FIFOs and devices fail
// with ESPIPE.
func (s *Sys) Seek(fd int, offset int64, whence int) (int64, error) {
	s.enter()
	f, err := s.p.file(fd)
	if err != nil {
		return 0, s.leave(err)
	}
	o, ok := f.ops.(vfsOps)
	if !ok {
		return 0, s.leave(ipc.ESPIPE)
	}
	if whence < SEEK_SET || whence > SEEK_END {
		return 0, s.leave(ipc.EINVAL)
	}
	off, err := o.f.Seek(offset, whence)
	return off, s.leave(err)
}

// Fstat describes the file descriptor fd refers to. A file of the
// namespace describes itself; a pipe or FIFO is a named pipe, a device or
// a host stream a character device, and a message queue or segment an
// irregular file, each with size 0.
func (s *Sys) Fstat(fd int) (fs.FileInfo, error) {
	s.enter()
	f, err := s.p.file(fd)
	if err != nil {
		return nil, s.leave(err)
	}
	switch o := f.ops.(type) {
	case vfsOps:
		fi, err := o.f.Stat()
		return fi, s.leave(err)
	case pipeReadOps, pipeWriteOps, remotePipeOps:
		return streamInfo{f.name, fs.ModeNamedPipe}, s.leave(nil)
	case devOps, hostReaderOps, hostWriterOps:
		return streamInfo{f.name, fs.ModeDevice | fs.ModeCharDevice}, s.leave(nil)
	default:
		return streamInfo{f.name, fs.ModeIrregular}, s.leave(nil)
	}
}

// streamInfo describes an open descriptor that is not a file of the
// namespace.
type streamInfo struct {
	name string
	mode fs.FileMode
}

func (i streamInfo) Name() string       { return i.name }
func (i streamInfo) Size() int64        { return 0 }
func (i streamInfo) Mode() fs.FileMode  { return i.mode | 0o600 }
func (i streamInfo) ModTime() time.Time { return time.Time{} }
func (i streamInfo) IsDir() bool        { return false }
func (i streamInfo) Sys() any           { return nil }

var _ fs.FileInfo = streamInfo{}
