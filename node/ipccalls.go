package node

import (
	"context"
	"io"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
)

// System calls for POSIX message queues and shared memory.
//
// Message-queue and shared-memory descriptors live in the fd table, as they
// do on Linux: they are closed by Close and at exit, shared by Dup, and
// inherited through SpawnAttr.Files. Blocking queue operations wait through
// the process's ipc.Waiter, so a blocked call holds no CPU slot, a handled
// signal ends it with EINTR and a fatal one kills the process.
//
// Memory accounting (RLIMIT-style RMem):
//   - A queue descriptor charges the queue's Cost (MaxMsg × MsgSize) once per
//     process, however many descriptors of the queue it holds.
//   - A shared-memory descriptor charges nothing: like an open file, it holds
//     no memory of the process's own.
//   - A mapping charges the segment's size at the time of the first mapping
//     of that segment in the process, as mmap fixes a mapping's length, and
//     further mappings of the same segment are not charged again. The charge
//     is dropped when the last of them is unmapped. Mappings are charged
//     under the segment's ID with mapChargeBit set, apart from descriptors.

// mapChargeBit sets the IDs mappings are charged under apart from the object
// IDs descriptors are charged under. ipc numbers objects from 1 upwards and
// never reaches it.
const mapChargeBit = 1 << 63

// Message-queue descriptors.

// mqOps is the fileOps of a message-queue descriptor. Data moves through
// MqSend and MqReceive, never through read and write.
type mqOps struct{ d mqHandle }

var (
	_ fileOps = mqOps{}
	_ fileOps = shmOps{}
)

func (o mqOps) read(*Process, []byte, bool) (int, error)  { return 0, ipc.EBADF }
func (o mqOps) write(*Process, []byte, bool) (int, error) { return 0, ipc.EBADF }
func (o mqOps) close() error                              { return o.d.Close() }
func (o mqOps) object() (uint64, int64)                   { return o.d.ID(), o.d.Cost() }

// openNamed opens, and with O_CREAT creates, a named queue or segment with
// open, which reports whether this very call created the object, and
// installs the File that file makes of the handle at the lowest free
// descriptor. If installing the descriptor fails, it unlinks what it
// created, as Linux checks limits before creating.
func openNamed[T any](p *Process, open func() (T, bool, error), file func(T) *File, unlink func() error) (int, error) {
	h, created, err := open()
	if err != nil {
		return -1, err
	}
	f := file(h)
	fd, err := p.installFd(f, 0)
	if err != nil {
		f.release()
		if created {
			unlink()
		}
	}
	return fd, err
}

// openOrCreate calls open with flags, first with O_EXCL added when flags ask
// to create without it, and reports whether this very call created the
// object.
func openOrCreate[T any](flags ipc.OpenFlag, open func(ipc.OpenFlag) (T, error)) (h T, created bool, err error) {
	if flags&ipc.O_CREAT != 0 && flags&ipc.O_EXCL == 0 {
		if h, err = open(flags | ipc.O_EXCL); err != ipc.EEXIST {
			return h, err == nil, err
		}
	}
	h, err = open(flags)
	return h, err == nil && flags&(ipc.O_CREAT|ipc.O_EXCL) == ipc.O_CREAT|ipc.O_EXCL, err
}

// MqOpen opens, and with O_CREAT creates, the message queue called name
// (mq_open) and returns its descriptor. flags holds the access mode and
// O_CREAT, O_EXCL, O_NONBLOCK and O_CLOEXEC; a new queue gets mode's permission bits,
// the caller's Owner, and attr's MaxMsg and MsgSize (nil: the defaults). The
// errors are those of ipc.MQNamespace.Open, plus EMFILE past RLIMIT_NOFILE
// and ENOMEM when the queue's Cost would take the process past its memory
// limit; in both cases a queue this call created is removed again.
func (s *Sys) MqOpen(name string, flags int, mode uint32, attr *ipc.MQAttr) (int, error) {
	s.enter()
	if err := s.checkName("mq_open", name, openPerms(flags)); err != nil {
		return -1, s.leave(err)
	}
	p := s.p
	k, call := p.k, p.nameCall()
	cloexec := flags&O_CLOEXEC != 0
	flags &^= O_CLOEXEC
	fd, err := openNamed(p,
		func() (mqHandle, bool, error) {
			return k.openQueue(call, name, ipc.OpenFlag(flags), mode, p.Owner, attr)
		},
		func(d mqHandle) *File { return newFile("mqueue:"+name, flags&(O_ACCMODE|O_NONBLOCK), mqOps{d}) },
		func() error { return k.unlinkQueue(call, name) })
	if err == nil {
		p.setCloexec(fd, cloexec)
	}
	return fd, s.leave(err)
}

// mqDesc returns the queue descriptor fd refers to, with its O_NONBLOCK flag
// brought in line with the file's, which SetNonblock (fcntl) may have
// changed. A descriptor that is not a queue's is EBADF.
func (p *Process) mqDesc(fd int) (mqHandle, error) {
	f, err := p.file(fd)
	if err != nil {
		return nil, err
	}
	o, ok := f.ops.(mqOps)
	if !ok {
		return nil, ipc.EBADF
	}
	o.d.syncNonblock(f.Flags()&O_NONBLOCK != 0)
	return o.d, nil
}

// MqSend queues msg with priority prio on the queue fd refers to (mq_send),
// blocking while the queue is full unless the descriptor is non-blocking
// (EAGAIN). EMSGSIZE for a message longer than the queue's MsgSize, EINVAL
// for a prio of ipc.MQPrioMax or more, EBADF for a descriptor not open for
// writing.
func (s *Sys) MqSend(fd int, msg []byte, prio uint) error {
	return s.MqTimedSend(fd, msg, prio, time.Time{})
}

// MqTimedSend is MqSend that gives up with ETIMEDOUT once deadline has passed
// (mq_timedsend). A zero deadline means none.
func (s *Sys) MqTimedSend(fd int, msg []byte, prio uint, deadline time.Time) error {
	s.enter()
	s.need(security.PromiseIPC, "mq_send")
	p := s.p
	d, err := p.mqDesc(fd)
	if err != nil {
		return s.leave(err)
	}
	err = d.Send(p.waiter(), msg, prio, deadline)
	if err == nil {
		p.k.ipcStats.message(len(msg))
	}
	return s.leave(err)
}

// MqReceive removes the oldest message of the highest priority from the
// queue fd refers to, copies it into buf and returns its length and priority
// (mq_receive). It blocks while the queue is empty unless the descriptor is
// non-blocking (EAGAIN). buf must hold at least the queue's MsgSize bytes
// (EMSGSIZE); a descriptor not open for reading is EBADF.
func (s *Sys) MqReceive(fd int, buf []byte) (n int, prio uint, err error) {
	return s.MqTimedReceive(fd, buf, time.Time{})
}

// MqTimedReceive is MqReceive that gives up with ETIMEDOUT once deadline has
// passed (mq_timedreceive). A zero deadline means none.
func (s *Sys) MqTimedReceive(fd int, buf []byte, deadline time.Time) (n int, prio uint, err error) {
	s.enter()
	s.need(security.PromiseIPC, "mq_receive")
	p := s.p
	d, err := p.mqDesc(fd)
	if err != nil {
		return 0, 0, s.leave(err)
	}
	n, prio, err = d.Receive(p.waiter(), buf, deadline)
	return n, prio, s.leave(err)
}

// MqGetattr returns the attributes of the queue fd refers to, with the
// descriptor's O_NONBLOCK flag and the number of messages queued
// (mq_getattr).
func (s *Sys) MqGetattr(fd int) (ipc.MQAttr, error) {
	s.enter()
	s.need(security.PromiseIPC, "mq_getattr")
	d, err := s.p.mqDesc(fd)
	if err != nil {
		return ipc.MQAttr{}, s.leave(err)
	}
	a, err := d.attr()
	return a, s.leave(err)
}

// MqSetattr sets the descriptor's O_NONBLOCK flag from flags, ignoring every
// other bit, and returns the attributes as they were (mq_setattr). Like
// SetNonblock, it changes the open file, which descriptors made by Dup or
// inherited through Spawn share.
func (s *Sys) MqSetattr(fd int, flags int) (old ipc.MQAttr, err error) {
	s.enter()
	s.need(security.PromiseIPC, "mq_setattr")
	p := s.p
	d, err := p.mqDesc(fd)
	if err != nil {
		return ipc.MQAttr{}, s.leave(err)
	}
	f, _ := p.file(fd)
	for {
		cur := f.flags.Load()
		nw := cur&^O_NONBLOCK | int32(flags&O_NONBLOCK)
		if f.flags.CompareAndSwap(cur, nw) {
			break
		}
	}
	return d.setNonblock(flags&O_NONBLOCK != 0), s.leave(nil)
}

// MqNotify asks for sig to be sent to the caller when a message arrives in
// the empty queue fd refers to while no receiver is blocked on it
// (mq_notify with SIGEV_SIGNAL). The registration is used once. Only one
// process may be registered per queue (EBUSY). A sig of 0 removes the
// caller's registration. The registration goes away when the descriptor it
// was made through is closed for the last time, and when the process exits.
func (s *Sys) MqNotify(fd int, sig ipc.Signal) error {
	s.enter()
	s.need(security.PromiseIPC, "mq_notify")
	p := s.p
	if sig != 0 && !sig.Valid() {
		return s.leave(ipc.EINVAL)
	}
	d, err := p.mqDesc(fd)
	if err != nil {
		return s.leave(err)
	}
	if sig == 0 {
		return s.leave(d.Notify(p, nil))
	}
	k := p.k
	// The callback runs in the sender's goroutine: sendSignal only marks the
	// signal pending and wakes p, and is a no-op once p is a zombie.
	if err := d.Notify(p, func() { k.sendSignal(p, sig) }); err != nil {
		return s.leave(err)
	}
	p.trackNotify(d)
	return s.leave(nil)
}

// MqUnlink removes the queue name (mq_unlink). The queue lives on until its
// last descriptor is closed. ENOENT if there is no such queue.
func (s *Sys) MqUnlink(name string) error {
	s.enter()
	if err := s.checkName("mq_unlink", name, "c"); err != nil {
		return s.leave(err)
	}
	return s.leave(s.p.k.unlinkQueue(s.p.nameCall(), name))
}

// Shared memory.

// shmOps is the fileOps of a shared-memory descriptor. Its bytes are reached
// through Mmap, not read and write (EINVAL: unsuitable for them).
type shmOps struct{ seg *ipc.Segment }

func (o shmOps) read(*Process, []byte, bool) (int, error)  { return 0, ipc.EINVAL }
func (o shmOps) write(*Process, []byte, bool) (int, error) { return 0, ipc.EINVAL }
func (o shmOps) close() error                              { return o.seg.Close() }
func (o shmOps) object() (uint64, int64)                   { return 0, 0 } // mappings are charged, not descriptors

// ShmOpen opens, and with O_CREAT creates, the shared-memory segment called
// name (shm_open) and returns its descriptor. flags holds the access mode and
// O_CREAT, O_EXCL and O_TRUNC; a new segment has size 0, mode's permission
// bits and the caller's Owner. As shm_open(3) does, the descriptor gets
// FD_CLOEXEC (an O_CLOEXEC in flags is allowed). The errors are those of
// ipc.ShmNamespace.Open, plus EMFILE past RLIMIT_NOFILE, in which case a
// segment this call created is removed again.
func (s *Sys) ShmOpen(name string, flags int, mode uint32) (int, error) {
	s.enter()
	if err := s.checkName("shm_open", name, openPerms(flags)); err != nil {
		return -1, s.leave(err)
	}
	p := s.p
	k, call := p.k, p.nameCall()
	flags &^= O_CLOEXEC
	fd, err := openNamed(p,
		func() (*ipc.Segment, bool, error) {
			return k.openSegment(call, name, ipc.OpenFlag(flags), mode, p.Owner)
		},
		func(seg *ipc.Segment) *File { return newFile("shm:"+name, flags&O_ACCMODE, shmOps{seg}) },
		func() error { return k.unlinkSegment(call, name) })
	if err == nil {
		p.setCloexec(fd, true)
	}
	return fd, s.leave(err)
}

// Ftruncate sets the size of the shared-memory segment fd refers to
// (ftruncate). A descriptor of anything else, one not open for writing, or a
// negative size is EINVAL; a size above ipc.MaxSegmentSize is EFBIG.
func (s *Sys) Ftruncate(fd int, size int64) error {
	s.enter()
	s.need(security.PromiseStdio, "ftruncate")
	f, err := s.p.file(fd)
	if err != nil {
		return s.leave(err)
	}
	o, ok := f.ops.(shmOps)
	if !ok {
		return s.leave(ipc.EINVAL)
	}
	return s.leave(o.seg.Truncate(size))
}

// ShmUnlink removes the segment name (shm_unlink). The segment's memory lives
// on until its last descriptor is closed and its last mapping unmapped.
// ENOENT if there is no such segment.
func (s *Sys) ShmUnlink(name string) error {
	s.enter()
	if err := s.checkName("shm_unlink", name, "c"); err != nil {
		return s.leave(err)
	}
	return s.leave(s.p.k.unlinkSegment(s.p.nameCall(), name))
}

// Mmap maps the shared-memory segment fd refers to (mmap with MAP_SHARED). A
// writable mapping needs a descriptor open for reading and writing, a
// read-only one a descriptor open for reading (EACCES). A descriptor of
// anything else is ENODEV. The segment's current size is charged against the
// memory limit the first time the process maps it (ENOMEM). The mapping
// outlives the descriptor; it ends with Munmap or when the process exits.
func (s *Sys) Mmap(fd int, readonly bool) (*Mapping, error) {
	s.enter()
	s.need(security.PromiseStdio, "mmap")
	p := s.p
	f, err := p.file(fd)
	if err != nil {
		return nil, s.leave(err)
	}
	o, ok := f.ops.(shmOps)
	if !ok {
		return nil, s.leave(ipc.ENODEV)
	}
	im, err := o.seg.Attach(readonly)
	if err != nil {
		return nil, s.leave(err)
	}
	m := &Mapping{m: im, p: p, chargeID: im.ID() | mapChargeBit}
	if err := p.chargeObject(m.chargeID, im.Size()); err != nil {
		im.Detach()
		return nil, s.leave(err)
	}
	p.trackMapping(m)
	return m, s.leave(nil)
}

// Mapping is a shared-memory segment mapped into a process by Mmap. Its
// memory accesses (ReadAt, WriteAt and the atomic word operations) are not
// system calls: like loads and stores of real memory they never yield, block
// or deliver signals, and they may be made from any goroutine. Munmap is a
// system call of the process that made the mapping. Once the mapping is
// unmapped, by Munmap or by the process's exit, every access is EFAULT.
type Mapping struct {
	m        *ipc.Mapping // immutable
	p        *Process     // immutable: the process the mapping belongs to
	chargeID uint64       // immutable: the ID its memory is charged under
}

var (
	_ io.ReaderAt = (*Mapping)(nil)
	_ io.WriterAt = (*Mapping)(nil)
)

// Munmap unmaps the mapping (munmap) and drops its memory charge when it is
// the process's last mapping of the segment. It is idempotent. It is a system
// call of the process that made the mapping, and must be called from that
// process's program only.
func (m *Mapping) Munmap() error {
	s := &m.p.sys
	s.enter()
	m.p.unmap(m)
	return s.leave(nil)
}

// Size returns the segment's current size in bytes.
func (m *Mapping) Size() int64 { return m.m.Size() }

// ReadOnly reports whether the mapping was made read-only.
func (m *Mapping) ReadOnly() bool { return m.m.ReadOnly() }

// ReadAt copies len(b) bytes at offset off into b, as io.ReaderAt does: a read
// that reaches the end of the segment returns what it got and io.EOF. It never
// sees half of a concurrent WriteAt.
func (m *Mapping) ReadAt(b []byte, off int64) (int, error) { return m.m.ReadAt(b, off) }

// WriteAt copies b into the segment at offset off. A write that reaches the
// end of the segment stops there with io.EOF: only Ftruncate grows a segment.
// A read-only mapping is EACCES.
func (m *Mapping) WriteAt(b []byte, off int64) (int, error) { return m.m.WriteAt(b, off) }

// Load64 atomically loads the 64-bit word at off, a multiple of 8 with the
// word inside the segment (EINVAL otherwise).
func (m *Mapping) Load64(off int64) (uint64, error) { return m.m.Load64(off) }

// Store64 atomically stores v in the word at off. The offset rules are those
// of Load64; a read-only mapping is EACCES.
func (m *Mapping) Store64(off int64, v uint64) error { return m.m.Store64(off, v) }

// Add64 atomically adds delta to the word at off and returns the new value.
// The offset rules are those of Load64; a read-only mapping is EACCES.
func (m *Mapping) Add64(off int64, delta uint64) (uint64, error) { return m.m.Add64(off, delta) }

// CompareAndSwap64 atomically replaces the word at off with new if it holds
// old, and reports whether it did. The offset rules are those of Load64; a
// read-only mapping is EACCES.
func (m *Mapping) CompareAndSwap64(off int64, old, new uint64) (bool, error) {
	return m.m.CompareAndSwap64(off, old, new)
}

// Per-process IPC state beyond the fd table.

// procIPC is what a process holds besides its descriptors: its live
// mappings and the queue descriptors it registered notifications through.
// It is owned by the process's goroutine.
type procIPC struct {
	maps   map[*Mapping]struct{}
	notify map[mqHandle]struct{}
}

// ipcState returns p's procIPC, making it. Only p's goroutine calls it.
func (p *Process) ipcState() *procIPC {
	r := p.more()
	if r.ipcs == nil {
		r.ipcs = &procIPC{maps: make(map[*Mapping]struct{}), notify: make(map[mqHandle]struct{})}
	}
	return r.ipcs
}

func (p *Process) trackMapping(m *Mapping) { p.ipcState().maps[m] = struct{}{} }

func (p *Process) trackNotify(d mqHandle) { p.ipcState().notify[d] = struct{}{} }

// nameCall is how the process's calls reach Config.Names: for no client
// request, with the process's slot given up while one blocks. A process
// killed meanwhile dies once the call returns.
func (p *Process) nameCall() nameCall {
	return nameCall{ctx: context.Background(), run: func(fn func()) {
		if p.blockingCall(fn) != nil {
			p.die()
		}
	}}
}

// unmap detaches m and drops its charge, unless it is unmapped already.
func (p *Process) unmap(m *Mapping) {
	r := p.rare.Load()
	if r == nil || r.ipcs == nil {
		return
	}
	if _, live := r.ipcs.maps[m]; !live {
		return
	}
	delete(r.ipcs.maps, m)
	m.m.Detach()
	p.unchargeObject(m.chargeID)
}

// detachAll ends what the process holds outside its fd table, at exit: it
// unmaps every live mapping, dropping the charges, and removes the mq_notify
// registrations the process still has, so that none fires for a dead
// process. It runs in the process's goroutine, and is idempotent.
func (p *Process) detachAll() {
	r := p.rare.Load()
	if r == nil || r.ipcs == nil {
		return
	}
	st := r.ipcs
	r.ipcs = nil
	for m := range st.maps {
		m.m.Detach()
		p.unchargeObject(m.chargeID)
	}
	for d := range st.notify {
		d.Notify(p, nil) // removes the registration only if it is still p's
	}
}
