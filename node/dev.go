package node

import (
	"crypto/rand"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/ipc"
)

// /dev. Every namespace the kernel serves has a /dev of the kernel's own
// devices, whatever its backend holds there (a host directory used as the
// root needs no /dev): null, zero, full, random and urandom, and the
// descriptors of the calling process, as Linux has them:
//
//	/dev/null      reads end of file; writes are discarded
//	/dev/zero      reads zeros; writes are discarded
//	/dev/full      reads zeros; writes fail with ENOSPC
//	/dev/random    reads random bytes (urandom alike); writes are discarded
//	/dev/stdin     the caller's descriptor 0 (stdout 1, stderr 2)
//	/dev/fd/N      the caller's descriptor N
//
// Opening /dev/stdin, /dev/stdout, /dev/stderr or /dev/fd/N gives a new
// descriptor for the open file that descriptor refers to, as dup does (and
// as Linux does for a pipe): ENOENT if it is not open, EACCES if it was not
// opened for the access asked. Writes to a device count against no limit.
// The devices cannot be removed, renamed or made (EPERM).

// devDir is where the kernel's devices live.
const devDir = "/dev"

// devKind is one of the kernel's devices.
type devKind uint8

const (
	devNull devKind = iota + 1
	devZero
	devFull
	devRandom
)

var devices = map[string]devKind{
	"null": devNull, "zero": devZero, "full": devFull, "random": devRandom, "urandom": devRandom,
}

// devStdio names the descriptors /dev/stdin, /dev/stdout and /dev/stderr
// stand for.
var devStdio = map[string]int{"stdin": 0, "stdout": 1, "stderr": 2}

// devOps is an open device.
type devOps struct{ kind devKind }

func (o devOps) read(_ *Process, b []byte, _ bool) (int, error) {
	switch o.kind {
	case devNull:
		return 0, io.EOF
	case devRandom:
		return rand.Read(b)
	}
	clear(b)
	return len(b), nil
}

func (o devOps) write(_ *Process, b []byte, _ bool) (int, error) {
	if o.kind == devFull {
		return 0, ipc.ENOSPC
	}
	return len(b), nil
}

func (o devOps) close() error            { return nil }
func (o devOps) object() (uint64, int64) { return 0, 0 }

// onDev reports whether the clean absolute path abs is /dev or below it.
func onDev(abs string) bool { return abs == devDir || strings.HasPrefix(abs, devDir+"/") }

// devFd returns the descriptor that abs, a path below /dev, stands for:
// /dev/stdin, /dev/stdout, /dev/stderr or /dev/fd/N.
func devFd(abs string) (fd int, ok bool) {
	name := strings.TrimPrefix(abs, devDir+"/")
	if fd, ok := devStdio[name]; ok {
		return fd, true
	}
	if n, found := strings.CutPrefix(name, "fd/"); found {
		if fd, err := strconv.Atoi(n); err == nil && fd >= 0 && strconv.Itoa(fd) == n {
			return fd, true
		}
	}
	return -1, false
}

// openDev opens abs, a clean path on /dev, for p.
func (s *Sys) openDev(abs string, flags int) (int, error) {
	p := s.p
	if flags&(O_CREAT|O_EXCL) == O_CREAT|O_EXCL {
		return -1, &fs.PathError{Op: "open", Path: abs, Err: ipc.EEXIST}
	}
	if fd, ok := devFd(abs); ok {
		f, err := p.file(fd)
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: abs, Err: ipc.ENOENT}
		}
		acc := flags & O_ACCMODE
		if (acc != O_WRONLY && !f.readable()) || (acc != O_RDONLY && !f.writable()) {
			return -1, &fs.PathError{Op: "open", Path: abs, Err: ipc.EACCES}
		}
		nfd, err := p.installFd(f.ref(), 0)
		if err != nil {
			f.release()
		}
		return nfd, err
	}
	kind, ok := devices[strings.TrimPrefix(abs, devDir+"/")]
	if !ok {
		if abs == devDir || abs == devDir+"/fd" {
			return -1, &fs.PathError{Op: "open", Path: abs, Err: ipc.EISDIR}
		}
		return -1, &fs.PathError{Op: "open", Path: abs, Err: ipc.ENOENT}
	}
	f := newFile(abs, flags&(O_ACCMODE|O_NONBLOCK|O_APPEND), devOps{kind})
	fd, err := p.installFd(f, 0)
	if err != nil {
		f.release()
	}
	return fd, err
}

// statDev describes abs, a clean path on /dev, for p (nil: outside any
// process, where the descriptors of /dev/fd do not exist).
func statDev(p *Process, abs string) (fs.FileInfo, error) {
	name := strings.TrimPrefix(abs, devDir+"/")
	switch {
	case abs == devDir:
		return devInfo{name: "dev", mode: fs.ModeDir | 0o755}, nil
	case name == "fd":
		return devInfo{name: "fd", mode: fs.ModeDir | 0o500}, nil
	}
	if _, ok := devices[name]; ok {
		return devInfo{name: name, mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}, nil
	}
	if fd, ok := devFd(abs); ok && p != nil {
		if f, err := p.file(fd); err == nil {
			return devInfo{name: name[strings.LastIndexByte(name, '/')+1:], mode: f.mode()}, nil
		}
	}
	return nil, &fs.PathError{Op: "stat", Path: abs, Err: ipc.ENOENT}
}

// mode is the file type an open file shows through /dev/fd.
func (f *File) mode() fs.FileMode {
	switch f.ops.(type) {
	case pipeReadOps, pipeWriteOps, remotePipeOps:
		return fs.ModeNamedPipe | 0o600
	case vfsOps:
		if fi, err := f.ops.(vfsOps).f.Stat(); err == nil {
			return fi.Mode()
		}
		return 0o600
	}
	return fs.ModeDevice | fs.ModeCharDevice | 0o600
}

// readDev lists abs, /dev or /dev/fd, for p.
func readDev(p *Process, abs string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	switch abs {
	case devDir:
		for name := range devices {
			out = append(out, fs.FileInfoToDirEntry(devInfo{name: name, mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}))
		}
		for name := range devStdio {
			out = append(out, fs.FileInfoToDirEntry(devInfo{name: name, mode: fs.ModeSymlink | 0o777}))
		}
		out = append(out, fs.FileInfoToDirEntry(devInfo{name: "fd", mode: fs.ModeDir | 0o500}))
	case devDir + "/fd":
		if p != nil {
			for fd, f := range p.Files {
				if f != nil {
					out = append(out, fs.FileInfoToDirEntry(devInfo{name: strconv.Itoa(fd), mode: fs.ModeSymlink | 0o700}))
				}
			}
		}
	default:
		if _, err := statDev(p, abs); err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: abs, Err: ipc.ENOENT}
		}
		return nil, &fs.PathError{Op: "readdir", Path: abs, Err: ipc.ENOTDIR}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// withDevEntry adds /dev to the listing of the root directory, when the
// backend has no entry of that name.
func withDevEntry(ents []fs.DirEntry) []fs.DirEntry {
	i := sort.Search(len(ents), func(i int) bool { return ents[i].Name() >= "dev" })
	if i < len(ents) && ents[i].Name() == "dev" {
		ents[i] = fs.FileInfoToDirEntry(devInfo{name: "dev", mode: fs.ModeDir | 0o755})
		return ents
	}
	ents = append(ents, nil)
	copy(ents[i+1:], ents[i:])
	ents[i] = fs.FileInfoToDirEntry(devInfo{name: "dev", mode: fs.ModeDir | 0o755})
	return ents
}

// devInfo describes a device or a directory of /dev.
type devInfo struct {
	name string
	mode fs.FileMode
}

func (i devInfo) Name() string       { return i.name }
func (i devInfo) Size() int64        { return 0 }
func (i devInfo) Mode() fs.FileMode  { return i.mode }
func (i devInfo) ModTime() time.Time { return time.Time{} }
func (i devInfo) IsDir() bool        { return i.mode.IsDir() }
func (i devInfo) Sys() any           { return nil }

// devPathError is the error of a change to the names of /dev: they are
// the kernel's, and no call may make, remove or rename one.
func devPathError(op, abs string) error {
	return &fs.PathError{Op: op, Path: abs, Err: ipc.EPERM}
}
