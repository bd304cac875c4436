package wasm

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io/fs"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// ModuleName is the name of the host module modules import.
const ModuleName = "wasi_snapshot_preview1"

// procKey is the context key of the *proc a host call serves.
type procKey struct{}

// hostFunc is one WASI function: it reads its parameters from stack and
// returns the errno, which the wrapper stores as the single result.
type hostFunc func(p *proc, m api.Memory, stack []uint64) uint32

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFuncs are the functions of wasi_snapshot_preview1, each with its
// parameter types. All return an errno, except proc_exit.
var hostFuncs = []struct {
	name   string
	params []api.ValueType
	fn     hostFunc
}{
	{"args_get", []api.ValueType{i32, i32}, argsGet},
	{"args_sizes_get", []api.ValueType{i32, i32}, argsSizesGet},
	{"environ_get", []api.ValueType{i32, i32}, environGet},
	{"environ_sizes_get", []api.ValueType{i32, i32}, environSizesGet},
	{"clock_res_get", []api.ValueType{i32, i32}, clockResGet},
	{"clock_time_get", []api.ValueType{i32, i64, i32}, clockTimeGet},
	{"fd_advise", []api.ValueType{i32, i64, i64, i32}, fdCheck},
	{"fd_allocate", []api.ValueType{i32, i64, i64}, fdAllocate},
	{"fd_close", []api.ValueType{i32}, fdClose},
	{"fd_datasync", []api.ValueType{i32}, fdCheck},
	{"fd_fdstat_get", []api.ValueType{i32, i32}, fdFdstatGet},
	{"fd_fdstat_set_flags", []api.ValueType{i32, i32}, fdFdstatSetFlags},
	{"fd_fdstat_set_rights", []api.ValueType{i32, i64, i64}, fdCheck},
	{"fd_filestat_get", []api.ValueType{i32, i32}, fdFilestatGet},
	{"fd_filestat_set_size", []api.ValueType{i32, i64}, fdFilestatSetSize},
	{"fd_filestat_set_times", []api.ValueType{i32, i64, i64, i32}, fdNotsup},
	{"fd_pread", []api.ValueType{i32, i32, i32, i64, i32}, fdPread},
	{"fd_prestat_get", []api.ValueType{i32, i32}, fdPrestatGet},
	{"fd_prestat_dir_name", []api.ValueType{i32, i32, i32}, fdPrestatDirName},
	{"fd_pwrite", []api.ValueType{i32, i32, i32, i64, i32}, fdPwrite},
	{"fd_read", []api.ValueType{i32, i32, i32, i32}, fdRead},
	{"fd_readdir", []api.ValueType{i32, i32, i32, i64, i32}, fdReaddir},
	{"fd_renumber", []api.ValueType{i32, i32}, fdRenumber},
	{"fd_seek", []api.ValueType{i32, i64, i32, i32}, fdSeek},
	{"fd_sync", []api.ValueType{i32}, fdCheck},
	{"fd_tell", []api.ValueType{i32, i32}, fdTell},
	{"fd_write", []api.ValueType{i32, i32, i32, i32}, fdWrite},
	{"path_create_directory", []api.ValueType{i32, i32, i32}, pathCreateDirectory},
	{"path_filestat_get", []api.ValueType{i32, i32, i32, i32, i32}, pathFilestatGet},
	{"path_filestat_set_times", []api.ValueType{i32, i32, i32, i32, i64, i64, i32}, fdNotsup},
	{"path_link", []api.ValueType{i32, i32, i32, i32, i32, i32, i32}, pathNoLinks},
	{"path_open", []api.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32}, pathOpen},
	{"path_readlink", []api.ValueType{i32, i32, i32, i32, i32, i32}, pathReadlink},
	{"path_remove_directory", []api.ValueType{i32, i32, i32}, pathRemoveDirectory},
	{"path_rename", []api.ValueType{i32, i32, i32, i32, i32, i32}, pathRename},
	{"path_symlink", []api.ValueType{i32, i32, i32, i32, i32}, pathNoLinks},
	{"path_unlink_file", []api.ValueType{i32, i32, i32}, pathUnlinkFile},
	{"poll_oneoff", []api.ValueType{i32, i32, i32, i32}, pollOneoff},
	{"proc_raise", []api.ValueType{i32}, procRaise},
	{"sched_yield", nil, schedYield},
	{"random_get", []api.ValueType{i32, i32}, randomGet},
	{"sock_accept", []api.ValueType{i32, i32, i32}, sockNotsock},
	{"sock_recv", []api.ValueType{i32, i32, i32, i32, i32, i32}, sockNotsock},
	{"sock_send", []api.ValueType{i32, i32, i32, i32, i32}, sockNotsock},
	{"sock_shutdown", []api.ValueType{i32, i32}, sockNotsock},
}

// instantiateHost defines the host module in r.
func instantiateHost(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(ModuleName)
	for _, h := range hostFuncs {
		fn := h.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				p := ctx.Value(procKey{}).(*proc)
				stack[0] = uint64(fn(p, mod.Memory(), stack))
			}), h.params, []api.ValueType{i32}).
			WithParameterNames().
			Export(h.name)
	}
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(procExit), []api.ValueType{i32}, nil).
		Export("proc_exit")
	_, err := b.Instantiate(ctx)
	return err
}

// procExit ends the process with the module's exit code, as _exit(2).
func procExit(ctx context.Context, _ api.Module, stack []uint64) {
	p := ctx.Value(procKey{}).(*proc)
	p.s.Exit(int(uint32(stack[0])))
}

// Memory helpers. A pointer outside the memory is EFAULT.

func putU32(m api.Memory, off uint32, v uint32) bool { return m.WriteUint32Le(off, v) }
func putU64(m api.Memory, off uint32, v uint64) bool { return m.WriteUint64Le(off, v) }

func fault(ok bool) uint32 {
	if ok {
		return errnoSuccess
	}
	return errnoFault
}

func readString(m api.Memory, off, n uint32) (string, bool) {
	b, ok := m.Read(off, n)
	if !ok {
		return "", false
	}
	return string(b), true
}

// Arguments and environment.

func vectorGet(m api.Memory, vec []string, ptrs, buf uint32) uint32 {
	for _, v := range vec {
		if !putU32(m, ptrs, buf) {
			return errnoFault
		}
		ptrs += 4
		b, ok := m.Read(buf, uint32(len(v)+1))
		if !ok {
			return errnoFault
		}
		copy(b, v)
		b[len(v)] = 0
		buf += uint32(len(v) + 1)
	}
	return errnoSuccess
}

func vectorSizes(m api.Memory, vec []string, countPtr, sizePtr uint32) uint32 {
	size := 0
	for _, v := range vec {
		size += len(v) + 1
	}
	return fault(putU32(m, countPtr, uint32(len(vec))) && putU32(m, sizePtr, uint32(size)))
}

func argsGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	return vectorGet(m, p.args, uint32(st[0]), uint32(st[1]))
}

func argsSizesGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	return vectorSizes(m, p.args, uint32(st[0]), uint32(st[1]))
}

func environGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	return vectorGet(m, p.env, uint32(st[0]), uint32(st[1]))
}

func environSizesGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	return vectorSizes(m, p.env, uint32(st[0]), uint32(st[1]))
}

// Clocks.

// WASI clock IDs.
const (
	clockRealtime  = 0
	clockMonotonic = 1
	clockProcess   = 2
	clockThread    = 3
)

// epoch is the origin of the monotonic clock modules read.
var epoch = time.Now()

func clockResGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	if uint32(st[0]) > clockThread {
		return errnoInval
	}
	return fault(putU64(m, uint32(st[1]), 1))
}

func clockTimeGet(p *proc, m api.Memory, st []uint64) uint32 {
	var ns uint64
	switch uint32(st[0]) {
	case clockRealtime:
		ns = uint64(p.s.Now().UnixNano())
	case clockMonotonic:
		ns = uint64(p.s.Now().Sub(epoch))
	case clockProcess, clockThread:
		ns = uint64(p.s.CPUTime())
	default:
		return errnoInval
	}
	return fault(putU64(m, uint32(st[2]), ns))
}

// Descriptors.

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
func readv(p *proc, kfd int, bufs [][]byte) (uint32, uint32) {
	var total uint32
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := p.s.Read(kfd, b)
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

// writev writes the buffers in order and stops at the first short write.
func writev(p *proc, kfd int, bufs [][]byte) (uint32, uint32) {
	var total uint32
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := p.s.Write(kfd, b)
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
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	bufs, ok := iovecs(m, uint32(st[1]), uint32(st[2]))
	if !ok {
		return errnoFault
	}
	n, errno := readv(p, kfd, bufs)
	if errno != errnoSuccess {
		return errno
	}
	return fault(putU32(m, uint32(st[3]), n))
}

func fdWrite(p *proc, m api.Memory, st []uint64) uint32 {
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	bufs, ok := iovecs(m, uint32(st[1]), uint32(st[2]))
	if !ok {
		return errnoFault
	}
	n, errno := writev(p, kfd, bufs)
	if errno != errnoSuccess {
		return errno
	}
	return fault(putU32(m, uint32(st[3]), n))
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

func fdPread(p *proc, m api.Memory, st []uint64) uint32 {
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	bufs, ok := iovecs(m, uint32(st[1]), uint32(st[2]))
	if !ok {
		return errnoFault
	}
	n, errno := positioned(p, kfd, int64(st[3]), func() (uint32, uint32) { return readv(p, kfd, bufs) })
	if errno != errnoSuccess {
		return errno
	}
	return fault(putU32(m, uint32(st[4]), n))
}

func fdPwrite(p *proc, m api.Memory, st []uint64) uint32 {
	kfd, errno := p.kernel(uint32(st[0]))
	if errno != errnoSuccess {
		p.s.Getpid()
		return errno
	}
	bufs, ok := iovecs(m, uint32(st[1]), uint32(st[2]))
	if !ok {
		return errnoFault
	}
	n, errno := positioned(p, kfd, int64(st[3]), func() (uint32, uint32) { return writev(p, kfd, bufs) })
	if errno != errnoSuccess {
		return errno
	}
	return fault(putU32(m, uint32(st[4]), n))
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

// pathArg reads a path argument and resolves it against directory fd.
func pathArg(p *proc, m api.Memory, fd, ptr, n uint32) (string, uint32) {
	name, ok := readString(m, ptr, n)
	if !ok {
		return "", errnoFault
	}
	abs, errno := p.resolve(fd, name)
	if errno != errnoSuccess {
		p.s.Getpid()
	}
	return abs, errno
}

func pathCreateDirectory(p *proc, m api.Memory, st []uint64) uint32 {
	abs, errno := pathArg(p, m, uint32(st[0]), uint32(st[1]), uint32(st[2]))
	if errno != errnoSuccess {
		return errno
	}
	return errnoOf(p.s.Mkdir(abs, 0o755))
}

func pathFilestatGet(p *proc, m api.Memory, st []uint64) uint32 {
	abs, errno := pathArg(p, m, uint32(st[0]), uint32(st[2]), uint32(st[3]))
	if errno != errnoSuccess {
		return errno
	}
	fi, err := p.s.Stat(abs)
	if err != nil {
		return errnoOf(err)
	}
	return putFilestat(m, uint32(st[4]), fi)
}

// pathNoLinks answers path_link and path_symlink: the namespace has no
// links.
func pathNoLinks(p *proc, _ api.Memory, _ []uint64) uint32 {
	p.s.Getpid()
	return errnoNotsup
}

// pathReadlink answers as readlink(2) does for a name that is not a
// symbolic link, since the namespace has none: EINVAL if it exists.
func pathReadlink(p *proc, m api.Memory, st []uint64) uint32 {
	abs, errno := pathArg(p, m, uint32(st[0]), uint32(st[1]), uint32(st[2]))
	if errno != errnoSuccess {
		return errno
	}
	if _, err := p.s.Stat(abs); err != nil {
		return errnoOf(err)
	}
	return errnoInval
}

// WASI oflags and rights bits path_open reads.
const (
	oflagCreat     = 1
	oflagDirectory = 2
	oflagExcl      = 4
	oflagTrunc     = 8
	rightFdRead    = 1 << 1
	rightFdWrite   = 1 << 6
)

func pathOpen(p *proc, m api.Memory, st []uint64) uint32 {
	abs, errno := pathArg(p, m, uint32(st[0]), uint32(st[2]), uint32(st[3]))
	if errno != errnoSuccess {
		return errno
	}
	oflags, rights, fdflags, resultPtr := uint32(st[4]), st[5], uint32(st[7]), uint32(st[8])
	write := rights&rightFdWrite != 0 || oflags&oflagTrunc != 0
	read := rights&rightFdRead != 0 || !write

	fi, err := p.s.Stat(abs)
	switch {
	case err == nil && fi.IsDir():
		if oflags&(oflagCreat|oflagExcl) == oflagCreat|oflagExcl {
			return errnoExist
		}
		if write && rights&rightFdWrite != 0 {
			return errnoIsdir
		}
		fd := p.install(&entry{kfd: -1, dir: abs})
		return fault(putU32(m, resultPtr, fd))
	case err == nil && oflags&oflagDirectory != 0:
		return errnoNotdir
	case err != nil && (oflags&oflagCreat == 0 || !errors.Is(err, ipc.ENOENT)):
		return errnoOf(err)
	}

	var flags int
	switch {
	case read && write:
		flags = node.O_RDWR
	case write:
		flags = node.O_WRONLY
	default:
		flags = node.O_RDONLY
	}
	if oflags&oflagCreat != 0 {
		flags |= node.O_CREAT
	}
	if oflags&oflagExcl != 0 {
		flags |= node.O_EXCL
	}
	if oflags&oflagTrunc != 0 {
		flags |= node.O_TRUNC
	}
	if fdflags&fdflagAppend != 0 {
		flags |= node.O_APPEND
	}
	kfd, err := p.s.Open(abs, flags, 0o644)
	if err != nil {
		return errnoOf(err)
	}
	fd := p.install(&entry{kfd: kfd, nonblock: fdflags&fdflagNonblock != 0})
	return fault(putU32(m, resultPtr, fd))
}

func pathRemoveDirectory(p *proc, m api.Memory, st []uint64) uint32 {
	abs, errno := pathArg(p, m, uint32(st[0]), uint32(st[1]), uint32(st[2]))
	if errno != errnoSuccess {
		return errno
	}
	fi, err := p.s.Stat(abs)
	if err != nil {
		return errnoOf(err)
	}
	if !fi.IsDir() {
		return errnoNotdir
	}
	return errnoOf(p.s.Remove(abs))
}

func pathRename(p *proc, m api.Memory, st []uint64) uint32 {
	from, errno := pathArg(p, m, uint32(st[0]), uint32(st[1]), uint32(st[2]))
	if errno != errnoSuccess {
		return errno
	}
	to, errno := pathArg(p, m, uint32(st[3]), uint32(st[4]), uint32(st[5]))
	if errno != errnoSuccess {
		return errno
	}
	return errnoOf(p.s.Rename(from, to))
}

func pathUnlinkFile(p *proc, m api.Memory, st []uint64) uint32 {
	abs, errno := pathArg(p, m, uint32(st[0]), uint32(st[1]), uint32(st[2]))
	if errno != errnoSuccess {
		return errno
	}
	fi, err := p.s.Stat(abs)
	if err != nil {
		return errnoOf(err)
	}
	if fi.IsDir() {
		return errnoIsdir
	}
	return errnoOf(p.s.Remove(abs))
}

// Polling, signals, scheduling, randomness, sockets.

// WASI event types and subscription flags.
const (
	eventClock       = 0
	eventFdRead      = 1
	eventFdWrite     = 2
	subclockAbstime  = 1
	subscriptionSize = 48
	eventSize        = 32
	maxSubscriptions = 4096
)

// pollOneoff waits for the earliest clock subscription, without a CPU
// slot. Descriptor subscriptions are reported ready at once: a read or
// write on a blocking descriptor then blocks in the kernel, without a slot,
// until it can go on; a non-blocking one answers EAGAIN.
func pollOneoff(p *proc, m api.Memory, st []uint64) uint32 {
	in, out, n, neventsPtr := uint32(st[0]), uint32(st[1]), uint32(st[2]), uint32(st[3])
	if n == 0 {
		p.s.Getpid()
		return errnoInval
	}
	if n > maxSubscriptions {
		p.s.Getpid()
		return errnoInval
	}
	subs, ok := m.Read(in, n*subscriptionSize)
	if !ok {
		return errnoFault
	}
	events, ok := m.Read(out, n*eventSize)
	if !ok {
		return errnoFault
	}
	now := p.s.Now()
	var nevents uint32
	emit := func(userdata uint64, errno uint16, typ uint8) {
		ev := events[nevents*eventSize : (nevents+1)*eventSize]
		clear(ev)
		binary.LittleEndian.PutUint64(ev[0:], userdata)
		binary.LittleEndian.PutUint16(ev[8:], errno)
		ev[10] = typ
		nevents++
	}
	earliest := time.Duration(-1)
	deadlines := make([]time.Duration, n)
	for i := uint32(0); i < n; i++ {
		s := subs[i*subscriptionSize : (i+1)*subscriptionSize]
		userdata := binary.LittleEndian.Uint64(s[0:])
		switch s[8] {
		case eventClock:
			id := binary.LittleEndian.Uint32(s[16:])
			timeout := binary.LittleEndian.Uint64(s[24:])
			flags := binary.LittleEndian.Uint16(s[40:])
			var d time.Duration
			switch {
			case id > clockThread:
				emit(userdata, uint16(errnoInval), eventClock)
				deadlines[i] = -1
				continue
			case flags&subclockAbstime == 0:
				d = time.Duration(min(timeout, 1<<62))
			case id == clockRealtime:
				d = time.Unix(0, int64(min(timeout, 1<<62))).Sub(now)
			default:
				d = time.Duration(min(timeout, 1<<62)) - now.Sub(epoch)
			}
			d = max(d, 0)
			deadlines[i] = d
			if earliest < 0 || d < earliest {
				earliest = d
			}
		case eventFdRead, eventFdWrite:
			deadlines[i] = -1
			fd := binary.LittleEndian.Uint32(s[16:])
			_, errno := p.kernel(fd)
			emit(userdata, uint16(errno), s[8])
		default:
			deadlines[i] = -1
			emit(userdata, uint16(errnoInval), s[8])
		}
	}
	if nevents == 0 && earliest >= 0 {
		if err := p.s.Sleep(earliest); err != nil && !errors.Is(err, ipc.EINTR) {
			return errnoOf(err)
		}
		for i := uint32(0); i < n; i++ {
			if deadlines[i] >= 0 && deadlines[i] <= earliest {
				emit(binary.LittleEndian.Uint64(subs[i*subscriptionSize:]), 0, eventClock)
			}
		}
	}
	return fault(putU32(m, neventsPtr, nevents))
}

func procRaise(p *proc, _ api.Memory, st []uint64) uint32 {
	sig, ok := signalOf(uint32(st[0]))
	if !ok {
		p.s.Getpid()
		return errnoInval
	}
	return errnoOf(p.s.Kill(p.s.Getpid(), sig))
}

func schedYield(p *proc, _ api.Memory, _ []uint64) uint32 {
	p.s.Yield()
	return errnoSuccess
}

// maxRandom caps one random_get, as getrandom(2) caps one call.
const maxRandom = 1 << 25

func randomGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	n := uint32(st[1])
	if n > maxRandom {
		return errnoInval
	}
	b, ok := m.Read(uint32(st[0]), n)
	if !ok {
		return errnoFault
	}
	if _, err := rand.Read(b); err != nil {
		return errnoIO
	}
	return errnoSuccess
}

// sockNotsock answers the socket calls: vproc gives a module no sockets, so
// every descriptor is not one.
func sockNotsock(p *proc, _ api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	if _, errno := p.get(uint32(st[0])); errno != errnoSuccess {
		return errno
	}
	return errnoNotsock
}
