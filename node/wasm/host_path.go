package wasm

import (
	"errors"

	"github.com/tetratelabs/wazero/api"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

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
