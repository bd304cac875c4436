package node

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/vfs"
)

// Open flags, with Linux's values. O_NONBLOCK and O_APPEND are status flags
// of an open file description, shared by every descriptor dup'ed from it.
const (
	O_RDONLY   = 0x0
	O_WRONLY   = 0x1
	O_RDWR     = 0x2
	O_ACCMODE  = 0x3
	O_CREAT    = 0x40
	O_EXCL     = 0x80
	O_TRUNC    = 0x200
	O_APPEND   = 0x400
	O_NONBLOCK = 0x800
	O_CLOEXEC  = 0x80000 // a descriptor flag: the new descriptor gets FD_CLOEXEC
)

// Fcntl commands and the descriptor flag, with Linux's values.
const (
	F_DUPFD         = 0
	F_GETFD         = 1
	F_SETFD         = 2
	F_GETFL         = 3
	F_SETFL         = 4
	F_DUPFD_CLOEXEC = 1030

	FD_CLOEXEC = 1 // close the descriptor on Exec
)

// File is an open file description (Linux's struct file): what a descriptor
// refers to. dup and spawn share one File between descriptors, with its
// status flags; it is closed when its last descriptor is.
type File struct {
	refs  atomic.Int32 // descriptors (and kernel holds) referring to it
	flags atomic.Int32 // access mode and status flags; changed with compare-and-swap
	name  string       // immutable
	ops   fileOps      // immutable
}

// fileOps is what an open file can do. p is the calling process: blocking
// operations wait through its ipc.Waiter.
type fileOps interface {
	read(p *Process, b []byte, nonblock bool) (int, error)
	write(p *Process, b []byte, nonblock bool) (int, error)
	close() error
	// object returns an identity and a size to charge against the memory
	// limit of each process holding the file, or 0, 0.
	object() (id uint64, cost int64)
}

func newFile(name string, flags int, ops fileOps) *File {
	f := &File{name: name, ops: ops}
	f.refs.Store(1)
	f.flags.Store(int32(flags))
	return f
}

// Name describes what the file is, such as "pipe:[3]" or a path.
func (f *File) Name() string { return f.name }

// Flags returns the access mode and status flags.
func (f *File) Flags() int { return int(f.flags.Load()) }

func (f *File) ref() *File {
	f.refs.Add(1)
	return f
}

func (f *File) release() error {
	if f.refs.Add(-1) == 0 {
		return f.ops.close()
	}
	return nil
}

func (f *File) readable() bool { return f.Flags()&O_ACCMODE != O_WRONLY }
func (f *File) writable() bool { return f.Flags()&O_ACCMODE != O_RDONLY }

// Pipe ends.
type pipeReadOps struct{ r *ipc.PipeReader }

func (o pipeReadOps) read(p *Process, b []byte, nb bool) (int, error) {
	return o.r.Read(p.waiter(), b, nb)
}
func (o pipeReadOps) write(*Process, []byte, bool) (int, error) { return 0, ipc.EBADF }
func (o pipeReadOps) close() error                              { return o.r.Close() }
func (o pipeReadOps) object() (uint64, int64)                   { return o.r.ID(), int64(o.r.Capacity()) }

type pipeWriteOps struct{ w *ipc.PipeWriter }

func (o pipeWriteOps) read(*Process, []byte, bool) (int, error) { return 0, ipc.EBADF }
func (o pipeWriteOps) write(p *Process, b []byte, nb bool) (int, error) {
	return o.w.Write(p.waiter(), b, nb)
}
func (o pipeWriteOps) close() error            { return o.w.Close() }
func (o pipeWriteOps) object() (uint64, int64) { return o.w.ID(), int64(o.w.Capacity()) }

// Files of the namespace.
type vfsOps struct{ f vfs.File }

func (o vfsOps) read(_ *Process, b []byte, _ bool) (int, error)  { return o.f.Read(b) }
func (o vfsOps) write(_ *Process, b []byte, _ bool) (int, error) { return o.f.Write(b) }
func (o vfsOps) close() error                                    { return o.f.Close() }
func (o vfsOps) object() (uint64, int64)                         { return 0, 0 }

// Host readers and writers wired through the library. A host read may block
// in the host, so it runs with the slot given up.
type hostReaderOps struct{ r io.Reader }

func (o hostReaderOps) read(p *Process, b []byte, _ bool) (n int, err error) {
	if o.r == nil {
		return 0, io.EOF
	}
	if e := p.blockingCall(func() { n, err = o.r.Read(b) }); e != nil {
		return 0, e
	}
	if n == 0 && err == nil {
		return 0, ipc.EAGAIN
	}
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
func (o hostReaderOps) write(*Process, []byte, bool) (int, error) { return 0, ipc.EBADF }
func (o hostReaderOps) close() error {
	if c, ok := o.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
func (o hostReaderOps) object() (uint64, int64) { return 0, 0 }

type hostWriterOps struct{ w io.Writer }

func (o hostWriterOps) read(*Process, []byte, bool) (int, error) { return 0, ipc.EBADF }
func (o hostWriterOps) write(_ *Process, b []byte, _ bool) (int, error) {
	if o.w == nil {
		return len(b), nil
	}
	return o.w.Write(b)
}
func (o hostWriterOps) close() error            { return nil }
func (o hostWriterOps) object() (uint64, int64) { return 0, 0 }

// devNullIn and devNullOut are shared by every process whose standard
// descriptors are not wired: their reference counts never reach zero.
var (
	devNullIn  = newFile("/dev/null", O_RDONLY, hostReaderOps{})
	devNullOut = newFile("/dev/null", O_WRONLY, hostWriterOps{})
)

func newHostReaderFile(r io.Reader) *File {
	if r == nil {
		return devNullIn.ref()
	}
	return newFile("host:stdin", O_RDONLY, hostReaderOps{r})
}

func newHostWriterFile(w io.Writer) *File {
	if w == nil {
		return devNullOut.ref()
	}
	return newFile("host:output", O_WRONLY, hostWriterOps{w})
}

// countsOutput reports whether writes to f count against RLIMIT_FSIZE:
// only regular files of the namespace do, as on Linux; pipes, FIFOs,
// devices and host output (the log) don't.
func (f *File) countsOutput() bool {
	_, ok := f.ops.(vfsOps)
	return ok
}

// memAccount is a process's memory charged for IPC objects: each object
// once, however many descriptors refer to it. It is owned by the process's
// goroutine.
type memAccount struct {
	total int64              // bytes charged
	objs  map[uint64]*memObj // by object ID
}

type memObj struct {
	cost int64 // bytes charged for it
	refs int   // descriptors and mappings of it in the process
}

// charge accounts one more reference to f's object. ENOMEM if the object is
// new to the process and would take it past its memory limit.
func (p *Process) charge(f *File) error {
	id, cost := f.ops.object()
	if id == 0 {
		return nil
	}
	return p.chargeObject(id, cost)
}

func (p *Process) chargeObject(id uint64, cost int64) error {
	r := p.more()
	if r.mem == nil {
		r.mem = &memAccount{objs: make(map[uint64]*memObj)}
	}
	m := r.mem
	if o, ok := m.objs[id]; ok {
		o.refs++
		return nil
	}
	if lim := p.Limits.Get(RMem).Soft; lim != Infinity && uint64(m.total+cost) > lim {
		return ipc.ENOMEM
	}
	m.objs[id] = &memObj{cost: cost, refs: 1}
	m.total += cost
	return nil
}

// memAccount returns p's IPC memory account, or nil when nothing was ever
// charged.
func (p *Process) memAccount() *memAccount {
	if r := p.rare.Load(); r != nil {
		return r.mem
	}
	return nil
}

func (p *Process) uncharge(f *File) {
	id, _ := f.ops.object()
	if id != 0 {
		p.unchargeObject(id)
	}
}

func (p *Process) unchargeObject(id uint64) {
	m := p.memAccount()
	if m == nil {
		return
	}
	if o, ok := m.objs[id]; ok {
		if o.refs--; o.refs == 0 {
			m.total -= o.cost
			delete(m.objs, id)
		}
	}
}

// memUsed returns the bytes of IPC memory charged to the process.
func (p *Process) memUsed() int64 {
	if m := p.memAccount(); m != nil {
		return m.total
	}
	return 0
}

// chargeAll charges the descriptors a new process starts with.
func (p *Process) chargeAll() error {
	for i, f := range p.Files {
		if f == nil {
			continue
		}
		if err := p.charge(f); err != nil {
			for _, g := range p.Files[:i] {
				if g != nil {
					p.uncharge(g)
				}
			}
			return err
		}
	}
	return nil
}

// closeAllFiles closes every descriptor, at exit.
func (p *Process) closeAllFiles() {
	p.mu.Lock()
	files := p.Files
	p.Files = nil
	p.mu.Unlock()
	r := p.rare.Load()
	if r != nil {
		r.cloexec = nil
	}
	for _, f := range files {
		if f != nil {
			f.release()
		}
	}
	if r != nil {
		r.mem = nil
	}
}

// installFd puts f at the lowest free descriptor ≥ min. It takes over the
// caller's reference. EMFILE past RLIMIT_NOFILE.
func (p *Process) installFd(f *File, min int) (int, error) {
	limit := p.Limits.Get(RNoFile).Soft
	fd := min
	for fd < len(p.Files) && p.Files[fd] != nil {
		fd++
	}
	if uint64(fd) >= limit {
		return -1, ipc.EMFILE
	}
	if err := p.charge(f); err != nil {
		return -1, err
	}
	p.mu.Lock()
	for fd >= len(p.Files) {
		p.Files = append(p.Files, nil)
	}
	p.Files[fd] = f
	p.mu.Unlock()
	p.setCloexec(fd, false)
	return fd, nil
}

// setFd puts f at descriptor fd, closing what was there (dup2).
func (p *Process) setFd(fd int, f *File) error {
	if uint64(fd) >= p.Limits.Get(RNoFile).Soft {
		return ipc.EBADF
	}
	if err := p.charge(f); err != nil {
		return err
	}
	p.mu.Lock()
	for fd >= len(p.Files) {
		p.Files = append(p.Files, nil)
	}
	old := p.Files[fd]
	p.Files[fd] = f
	p.mu.Unlock()
	p.setCloexec(fd, false)
	if old != nil {
		p.uncharge(old)
		old.release()
	}
	return nil
}

func (p *Process) file(fd int) (*File, error) {
	if fd < 0 || fd >= len(p.Files) || p.Files[fd] == nil {
		return nil, ipc.EBADF
	}
	return p.Files[fd], nil
}

func (p *Process) closeFd(fd int) error {
	f, err := p.file(fd)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.Files[fd] = nil
	n := len(p.Files)
	for n > 0 && p.Files[n-1] == nil {
		n--
	}
	p.Files = p.Files[:n]
	p.mu.Unlock()
	p.setCloexec(fd, false)
	p.uncharge(f)
	return f.release()
}

// setCloexec sets or clears FD_CLOEXEC on descriptor fd. The flags are
// allocated on the first descriptor that sets one.
func (p *Process) setCloexec(fd int, on bool) {
	r := p.rare.Load()
	if r == nil || r.cloexec == nil {
		if !on {
			return
		}
		r = p.more()
		r.cloexec = new([]bool)
	}
	flags := *r.cloexec
	if !on {
		if fd < len(flags) {
			flags[fd] = false
		}
		return
	}
	for fd >= len(flags) {
		flags = append(flags, false)
	}
	flags[fd] = true
	*r.cloexec = flags
}

// isCloexec reports whether descriptor fd has FD_CLOEXEC.
func (p *Process) isCloexec(fd int) bool {
	r := p.rare.Load()
	return r != nil && r.cloexec != nil && fd < len(*r.cloexec) && (*r.cloexec)[fd]
}

// closeOnExec closes every descriptor with FD_CLOEXEC, as execve(2) does.
func (p *Process) closeOnExec() {
	r := p.rare.Load()
	if r == nil || r.cloexec == nil {
		return
	}
	for fd, on := range *r.cloexec {
		if on {
			p.closeFd(fd)
		}
	}
	r.cloexec = nil
}
