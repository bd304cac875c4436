package wasm

import (
	"encoding/binary"
	"io/fs"

	"github.com/tetratelabs/wazero/api"

	"github.com/vproc/vproc/node"
)

// fdCheck is a call whose only effect is to check the descriptor:
// fd_advise, fd_datasync, fd_sync (the namespace has no cache to flush)
// and fd_fdstat_set_rights (rights are not enforced beyond the access mode).
func fdCheck(p *proc, _ api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	_, errno := p.get(uint32(st[0]))
	return errno
}

// fdNotsup is a call the namespace cannot honour (it keeps no access or
// modification times to set).
func fdNotsup(p *proc, _ api.Memory, _ []uint64) uint32 {
	p.s.Getpid()
	return errnoNotsup
}

func fdAllocate(p *proc, _ api.Memory, st []uint64) uint32 {
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		return errno
	}
	fi, err := p.s.Fstat(kfd)
	if err != nil {
		return errnoOf(err)
	}
	if !fi.Mode().IsRegular() {
		return errnoSpipe
	}
	return errnoNotsup
}

func fdClose(p *proc, _ api.Memory, st []uint64) uint32 {
	fd := uint32(st[0])
	if e, errno := p.get(fd); errno == errnoSuccess && e.preopen {
		// The pre-opened root stays: closing it would cut the module off
		// the namespace, and wasmtime refuses it too.
		p.s.Getpid()
		return errnoNotsup
	}
	return p.close(fd)
}

// WASI fdflags.
const (
	fdflagAppend   = 1
	fdflagNonblock = 4
)

// rightsAll are the rights every descriptor reports: access is checked by
// the kernel, against the descriptor's open mode.
const rightsAll = 0x1fffffff

func fdFdstatGet(p *proc, m api.Memory, st []uint64) uint32 {
	e, errno := p.get(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	buf := uint32(st[1])
	var ft uint8 = filetypeDirectory
	var flags uint16
	if e.kfd >= 0 {
		fi, err := p.s.Fstat(e.kfd)
		if err != nil {
			return errnoOf(err)
		}
		ft = filetype(fi.Mode())
		fl, err := p.s.Fcntl(e.kfd, node.F_GETFL, 0)
		if err != nil {
			return errnoOf(err)
		}
		if fl&node.O_APPEND != 0 {
			flags |= fdflagAppend
		}
		if fl&node.O_NONBLOCK != 0 || e.nonblock {
			flags |= fdflagNonblock
		}
	} else {
		p.s.Getpid()
	}
	b, ok := m.Read(buf, 24)
	if !ok {
		return errnoFault
	}
	clear(b)
	b[0] = ft
	binary.LittleEndian.PutUint16(b[2:], flags)
	binary.LittleEndian.PutUint64(b[8:], rightsAll)
	binary.LittleEndian.PutUint64(b[16:], rightsAll)
	return errnoSuccess
}

// fdFdstatSetFlags sets O_APPEND on the kernel's file and O_NONBLOCK in
// the module's own descriptor table (see entry.nonblock).
func fdFdstatSetFlags(p *proc, _ api.Memory, st []uint64) uint32 {
	fd := uint32(st[0])
	kfd, errno := p.kernel(fd)
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	want := uint32(st[1])
	if want&^(fdflagAppend|fdflagNonblock) != 0 {
		p.s.Getpid()
		return errnoNotsup
	}
	fl, err := p.s.Fcntl(kfd, node.F_GETFL, 0)
	if err != nil {
		return errnoOf(err)
	}
	p.fds[fd].nonblock = want&fdflagNonblock != 0
	if (fl&node.O_APPEND != 0) == (want&fdflagAppend != 0) {
		return errnoSuccess
	}
	fl ^= node.O_APPEND
	_, err = p.s.Fcntl(kfd, node.F_SETFL, fl)
	return errnoOf(err)
}

// putFilestat writes a WASI filestat (64 bytes) describing fi.
func putFilestat(m api.Memory, buf uint32, fi fs.FileInfo) uint32 {
	b, ok := m.Read(buf, 64)
	if !ok {
		return errnoFault
	}
	clear(b)
	b[16] = filetype(fi.Mode())
	binary.LittleEndian.PutUint64(b[24:], 1)
	size := fi.Size()
	if size < 0 {
		size = 0
	}
	binary.LittleEndian.PutUint64(b[32:], uint64(size))
	var t uint64
	if mt := fi.ModTime(); !mt.IsZero() && mt.UnixNano() > 0 {
		t = uint64(mt.UnixNano())
	}
	binary.LittleEndian.PutUint64(b[40:], t)
	binary.LittleEndian.PutUint64(b[48:], t)
	binary.LittleEndian.PutUint64(b[56:], t)
	return errnoSuccess
}

func fdFilestatGet(p *proc, m api.Memory, st []uint64) uint32 {
	e, errno := p.get(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	var fi fs.FileInfo
	var err error
	if e.kfd >= 0 {
		fi, err = p.s.Fstat(e.kfd)
	} else {
		fi, err = p.s.Stat(e.dir)
	}
	if err != nil {
		return errnoOf(err)
	}
	return putFilestat(m, uint32(st[1]), fi)
}

func fdFilestatSetSize(p *proc, _ api.Memory, st []uint64) uint32 {
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	return errnoOf(p.s.Ftruncate(kfd, int64(st[1])))
}

func fdPrestatGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	e, errno := p.get(uint32(st[0]))
	if errno != errnoSuccess {
		return errno
	}
	if !e.preopen {
		return errnoBadf
	}
	buf := uint32(st[1])
	return fault(putU32(m, buf, 0) && putU32(m, buf+4, uint32(len(e.dir))))
}

func fdPrestatDirName(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	e, errno := p.get(uint32(st[0]))
	if errno != errnoSuccess {
		return errno
	}
	if !e.preopen {
		return errnoBadf
	}
	n := uint32(st[2])
	if n < uint32(len(e.dir)) {
		return errnoNametoolong
	}
	b, ok := m.Read(uint32(st[1]), uint32(len(e.dir)))
	if !ok {
		return errnoFault
	}
	copy(b, e.dir)
	return errnoSuccess
}

// iovecs returns the buffers of a WASI iovec array, as views of memory.
func iovecs(m api.Memory, iovs, n uint32) ([][]byte, bool) {
	if n > 1024 {
		return nil, false
	}
	out := make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		ptr, ok1 := m.ReadUint32Le(iovs + 8*i)
		ln, ok2 := m.ReadUint32Le(iovs + 8*i + 4)
		if !ok1 || !ok2 {
			return nil, false
		}
		b, ok := m.Read(ptr, ln)
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// readv reads into the buffers in order and stops at the first short read,
// so that a read never blocks once it has data.
func readv(p *proc, kfd int, bufs [][]byte) (uint32, uint32) { return vectored(kfd, bufs, p.s.Read) }

// writev writes the buffers in order and stops at the first short write.
func writev(p *proc, kfd int, bufs [][]byte) (uint32, uint32) { return vectored(kfd, bufs, p.s.Write) }

// vectored moves the buffers in order with op, stopping at the first short
// transfer. An error after some bytes moved is left for the next call, as
// readv(2) and writev(2) report a partial transfer.
func vectored(kfd int, bufs [][]byte, op func(fd int, b []byte) (int, error)) (uint32, uint32) {
	var total uint32
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := op(kfd, b)
		total += uint32(n)
		if err != nil {
			if total > 0 {
				return total, errnoSuccess
			}
			return 0, errnoOf(err)
		}
		if n < len(b) {
			break
		}
	}
	return total, errnoSuccess
}

func fdRead(p *proc, m api.Memory, st []uint64) uint32 {
	return fdVectored(p, m, st, readv, false)
}

func fdWrite(p *proc, m api.Memory, st []uint64) uint32 {
	return fdVectored(p, m, st, writev, false)
}

func fdPread(p *proc, m api.Memory, st []uint64) uint32 {
	return fdVectored(p, m, st, readv, true)
}

func fdPwrite(p *proc, m api.Memory, st []uint64) uint32 {
	return fdVectored(p, m, st, writev, true)
}

// fdVectored serves fd_read and fd_write, and with at their positioned
// forms fd_pread and fd_pwrite: the descriptor is st[0], the iovecs
// st[1:3], the offset st[3] when at, and the count's address comes last.
func fdVectored(p *proc, m api.Memory, st []uint64, xfer func(*proc, int, [][]byte) (uint32, uint32), at bool) uint32 {
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	bufs, ok := iovecs(m, uint32(st[1]), uint32(st[2]))
	if !ok {
		return errnoFault
	}
	var n uint32
	countAt := uint32(st[3])
	if at {
		n, errno = positioned(p, kfd, int64(st[3]), func() (uint32, uint32) { return xfer(p, kfd, bufs) })
		countAt = uint32(st[4])
	} else {
		n, errno = xfer(p, kfd, bufs)
	}
	if errno != errnoSuccess {
		return errno
	}
	return fault(putU32(m, countAt, n))
}

// positioned runs fn at offset off of kfd and puts the offset back, as
// pread(2) and pwrite(2) leave it. Pipes and FIFOs are ESPIPE.
func positioned(p *proc, kfd int, off int64, fn func() (uint32, uint32)) (uint32, uint32) {
	cur, err := p.s.Seek(kfd, 0, node.SEEK_CUR)
	if err != nil {
		return 0, errnoOf(err)
	}
	if _, err := p.s.Seek(kfd, off, node.SEEK_SET); err != nil {
		return 0, errnoOf(err)
	}
	n, errno := fn()
	if _, err := p.s.Seek(kfd, cur, node.SEEK_SET); err != nil && errno == errnoSuccess {
		errno = errnoOf(err)
	}
	return n, errno
}

// fdReaddir lists a directory descriptor. The cookie is the index of the
// next entry: 0 is ".", 1 is "..", and the directory's entries follow in
// name order.
func fdReaddir(p *proc, m api.Memory, st []uint64) uint32 {
	e, errno := p.get(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	if e.kfd >= 0 {
		p.s.Getpid()
		return errnoNotdir
	}
	buf, bufLen, cookie, usedPtr := uint32(st[1]), uint32(st[2]), st[3], uint32(st[4])
	ents, err := p.s.ReadDir(e.dir)
	if err != nil {
		return errnoOf(err)
	}
	type dirent struct {
		name string
		ft   uint8
	}
	all := make([]dirent, 0, len(ents)+2)
	all = append(all, dirent{".", filetypeDirectory}, dirent{"..", filetypeDirectory})
	for _, d := range ents {
		all = append(all, dirent{d.Name(), filetype(d.Type())})
	}
	out, ok := m.Read(buf, bufLen)
	if !ok {
		return errnoFault
	}
	used := 0
	for i := cookie; i < uint64(len(all)) && used < len(out); i++ {
		d := all[i]
		var hdr [24]byte
		binary.LittleEndian.PutUint64(hdr[0:], i+1)
		binary.LittleEndian.PutUint64(hdr[8:], i+1)
		binary.LittleEndian.PutUint32(hdr[16:], uint32(len(d.name)))
		hdr[20] = d.ft
		used += copy(out[used:], hdr[:])
		used += copy(out[used:], d.name)
	}
	return fault(putU32(m, usedPtr, uint32(used)))
}

func fdRenumber(p *proc, _ api.Memory, st []uint64) uint32 {
	from, to := uint32(st[0]), uint32(st[1])
	e, errno := p.get(from)
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	if _, errno := p.get(to); errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	if e.preopen || p.fds[to].preopen {
		p.s.Getpid()
		return errnoNotsup
	}
	if from == to {
		p.s.Getpid()
		return errnoSuccess
	}
	errno = p.close(to)
	p.fds[to], p.fds[from] = e, nil
	return errno
}

func fdSeek(p *proc, m api.Memory, st []uint64) uint32 {
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	whence := uint32(st[2])
	if whence > node.SEEK_END {
		p.s.Getpid()
		return errnoInval
	}
	off, err := p.s.Seek(kfd, int64(st[1]), int(whence))
	if err != nil {
		return errnoOf(err)
	}
	return fault(putU64(m, uint32(st[3]), uint64(off)))
}

func fdTell(p *proc, m api.Memory, st []uint64) uint32 {
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	off, err := p.s.Seek(kfd, 0, node.SEEK_CUR)
	if err != nil {
		return errnoOf(err)
	}
	return fault(putU64(m, uint32(st[1]), uint64(off)))
}

// Paths.
