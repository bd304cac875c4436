package node

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
	"github.com/vproc/vproc/node/vfs"
)

// Descriptors.

// Read reads from descriptor fd. It blocks (without a slot) on an empty pipe
// unless the file is non-blocking (EAGAIN). It returns io.EOF at end of file.
func (s *Sys) Read(fd int, b []byte) (int, error) {
	s.enter()
	s.need(security.PromiseStdio, "read")
	f, err := s.p.file(fd)
	if err != nil {
		return 0, s.leave(err)
	}
	if !f.readable() {
		return 0, s.leave(ipc.EBADF)
	}
	n, err := f.ops.read(s.p, b, f.Flags()&O_NONBLOCK != 0)
	return n, s.leave(err)
}

// Write writes to descriptor fd. Writing to a pipe with no reader gives EPIPE
// and SIGPIPE. Output past RLIMIT_FSIZE gives SIGXFSZ, then EFBIG.
func (s *Sys) Write(fd int, b []byte) (int, error) {
	s.enter()
	s.need(security.PromiseStdio, "write")
	p := s.p
	f, err := p.file(fd)
	if err != nil {
		return 0, s.leave(err)
	}
	if !f.writable() {
		return 0, s.leave(ipc.EBADF)
	}
	counted := f.countsOutput()
	if counted {
		if lim := p.Limits.Get(RFSize).Soft; lim != Infinity {
			room := uint64(0)
			if p.fsizeUsed < lim {
				room = lim - p.fsizeUsed
			}
			if room == 0 {
				p.k.sendSignal(p, ipc.SIGXFSZ)
				return 0, s.leave(ipc.EFBIG)
			}
			if uint64(len(b)) > room {
				b = b[:room]
			}
		}
	}
	n, err := f.ops.write(p, b, f.Flags()&O_NONBLOCK != 0)
	if counted && n > 0 {
		p.fsizeUsed += uint64(n)
	}
	switch f.ops.(type) {
	case pipeWriteOps, remotePipeOps:
		p.k.ipcStats.pipe(n)
	}
	if err == ipc.EPIPE {
		p.k.sendSignal(p, ipc.SIGPIPE)
	}
	return n, s.leave(err)
}

// Close closes descriptor fd.
func (s *Sys) Close(fd int) error {
	s.enter()
	s.need(security.PromiseStdio, "close")
	return s.leave(s.p.closeFd(fd))
}

// Dup returns a new descriptor, the lowest free one, for the file fd refers to.
func (s *Sys) Dup(fd int) (int, error) {
	s.enter()
	s.need(security.PromiseStdio, "dup")
	f, err := s.p.file(fd)
	if err != nil {
		return -1, s.leave(err)
	}
	nfd, err := s.p.installFd(f.ref(), 0)
	if err != nil {
		f.release()
	}
	return nfd, s.leave(err)
}

// Dup2 makes newfd refer to the file oldfd refers to, closing newfd first.
func (s *Sys) Dup2(oldfd, newfd int) (int, error) {
	s.enter()
	s.need(security.PromiseStdio, "dup2")
	f, err := s.p.file(oldfd)
	if err != nil {
		return -1, s.leave(err)
	}
	if newfd < 0 {
		return -1, s.leave(ipc.EBADF)
	}
	if oldfd == newfd {
		return newfd, s.leave(nil)
	}
	if err := s.p.setFd(newfd, f.ref()); err != nil {
		f.release()
		return -1, s.leave(err)
	}
	return newfd, s.leave(nil)
}

// Pipe creates a pipe and returns its read and write descriptors.
func (s *Sys) Pipe() (r, w int, err error) { return s.Pipe2(0) }

// Pipe2 is Pipe with flags applied to both ends: O_NONBLOCK, and O_CLOEXEC
// for the descriptors.
func (s *Sys) Pipe2(flags int) (r, w int, err error) {
	s.enter()
	s.need(security.PromiseStdio, "pipe2")
	if flags&^(O_NONBLOCK|O_CLOEXEC) != 0 {
		return -1, -1, s.leave(ipc.EINVAL)
	}
	cloexec := flags&O_CLOEXEC != 0
	flags &^= O_CLOEXEC
	pr, pw, err := ipc.NewPipe(s.p.k.cfg.PipeCapacity)
	if err != nil {
		return -1, -1, s.leave(err)
	}
	name := fmt.Sprintf("pipe:[%d]", pr.ID())
	rf := newFile(name, O_RDONLY|flags, pipeReadOps{pr})
	wf := newFile(name, O_WRONLY|flags, pipeWriteOps{pw})
	if r, err = s.p.installFd(rf, 0); err != nil {
		rf.release()
		wf.release()
		return -1, -1, s.leave(err)
	}
	if w, err = s.p.installFd(wf, 0); err != nil {
		s.p.closeFd(r)
		wf.release()
		return -1, -1, s.leave(err)
	}
	s.p.setCloexec(r, cloexec)
	s.p.setCloexec(w, cloexec)
	return r, w, s.leave(nil)
}

// SetNonblock sets or clears O_NONBLOCK on the file fd refers to (fcntl
// F_SETFL): every descriptor sharing that file sees the change.
func (s *Sys) SetNonblock(fd int, on bool) error {
	s.enter()
	s.need(security.PromiseStdio, "fcntl")
	f, err := s.p.file(fd)
	if err != nil {
		return s.leave(err)
	}
	f.setStatus(O_NONBLOCK, on)
	return s.leave(nil)
}

// setStatus sets or clears the status flags bits on f.
func (f *File) setStatus(bits int32, on bool) {
	for {
		old := f.flags.Load()
		nw := old &^ bits
		if on {
			nw |= bits
		}
		if f.flags.CompareAndSwap(old, nw) {
			return
		}
	}
}

// Fcntl manipulates descriptor fd, as fcntl(2) does for these commands:
// F_DUPFD and F_DUPFD_CLOEXEC return the lowest free descriptor ≥ arg for
// the same file (with FD_CLOEXEC for the second); F_GETFD and F_SETFD read
// and set the descriptor flags (FD_CLOEXEC); F_GETFL returns the access
// mode and status flags, and F_SETFL sets O_APPEND and O_NONBLOCK on the
// file, which every descriptor sharing it sees. Other commands are EINVAL.
func (s *Sys) Fcntl(fd, cmd, arg int) (int, error) {
	s.enter()
	s.need(security.PromiseStdio, "fcntl")
	p := s.p
	f, err := p.file(fd)
	if err != nil {
		return -1, s.leave(err)
	}
	switch cmd {
	case F_DUPFD, F_DUPFD_CLOEXEC:
		if arg < 0 {
			return -1, s.leave(ipc.EINVAL)
		}
		nfd, err := p.installFd(f.ref(), arg)
		if err != nil {
			f.release()
			return -1, s.leave(err)
		}
		p.setCloexec(nfd, cmd == F_DUPFD_CLOEXEC)
		return nfd, s.leave(nil)
	case F_GETFD:
		if p.isCloexec(fd) {
			return FD_CLOEXEC, s.leave(nil)
		}
		return 0, s.leave(nil)
	case F_SETFD:
		p.setCloexec(fd, arg&FD_CLOEXEC != 0)
		return 0, s.leave(nil)
	case F_GETFL:
		return f.Flags(), s.leave(nil)
	case F_SETFL:
		f.setStatus(O_APPEND, arg&O_APPEND != 0)
		f.setStatus(O_NONBLOCK, arg&O_NONBLOCK != 0)
		return 0, s.leave(nil)
	}
	return -1, s.leave(ipc.EINVAL)
}

// Fds lists the open descriptors.
func (s *Sys) Fds() []int {
	var out []int
	for i, f := range s.p.Files {
		if f != nil {
			out = append(out, i)
		}
	}
	return out
}

// Paths.

// abs resolves name against the cwd and cleans it.
func (p *Process) abs(name string) (string, error) {
	if name == "" {
		return "", ipc.ENOENT
	}
	if !strings.HasPrefix(name, "/") {
		name = path.Join(p.Cwd, name)
	}
	return vfs.Clean(name)
}

func (k *ProcessManager) resolveDir(cwd, dir string) (string, error) {
	if !strings.HasPrefix(dir, "/") {
		dir = path.Join(cwd, dir)
	}
	clean, err := vfs.Clean(dir)
	if err != nil {
		return "", err
	}
	var fi fs.FileInfo
	if onDev(clean) {
		fi, err = statDev(nil, clean)
	} else {
		fi, err = k.fs.Stat(clean)
	}
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", &fs.PathError{Op: "chdir", Path: clean, Err: ipc.ENOTDIR}
	}
	return clean, nil
}

// Open opens a file of the namespace, with O_* flags and, for O_CREAT, perm.
func (s *Sys) Open(name string, flags int, perm fs.FileMode) (int, error) {
	s.enter()
	p := s.p
	abs, err := p.abs(name)
	if err != nil {
		return -1, s.leave(err)
	}
	if err := s.checkPath("open", abs, openPerms(flags)); err != nil {
		return -1, s.leave(err)
	}
	fd, err := s.open(abs, flags&^O_CLOEXEC, perm)
	if err == nil && flags&O_CLOEXEC != 0 {
		p.setCloexec(fd, true)
	}
	return fd, s.leave(err)
}

// open opens abs, a clean absolute path: a device (dev.go), a FIFO or a
// file of the namespace.
func (s *Sys) open(abs string, flags int, perm fs.FileMode) (int, error) {
	p := s.p
	if onDev(abs) {
		return s.openDev(abs, flags)
	}
	if fd, ok, err := s.openSpecial(abs, flags); ok {
		return fd, err
	}
	vf, err := p.k.fs.OpenFile(abs, flags&^O_NONBLOCK, perm)
	if err != nil {
		return -1, err
	}
	f := newFile(abs, flags&(O_ACCMODE|O_NONBLOCK|O_APPEND), vfsOps{vf})
	fd, err := p.installFd(f, 0)
	if err != nil {
		f.release()
	}
	return fd, err
}

// Chdir changes the working directory.
func (s *Sys) Chdir(dir string) error {
	s.enter()
	p := s.p
	if want, err := p.abs(dir); err != nil {
		return s.leave(err)
	} else if err := s.checkPath("chdir", want, "r"); err != nil {
		return s.leave(err)
	}
	abs, err := p.k.resolveDir(p.Cwd, dir)
	if err != nil {
		return s.leave(err)
	}
	p.mu.Lock()
	p.Cwd = abs
	p.mu.Unlock()
	return s.leave(nil)
}

// Getcwd returns the working directory.
func (s *Sys) Getcwd() string { s.enter(); s.need(security.PromiseStdio, "getcwd"); return s.p.Cwd }

// Stat describes a file of the namespace.
func (s *Sys) Stat(name string) (fs.FileInfo, error) {
	s.enter()
	abs, err := s.p.abs(name)
	if err != nil {
		return nil, s.leave(err)
	}
	if err := s.checkPath("stat", abs, "r"); err != nil {
		return nil, s.leave(err)
	}
	if onDev(abs) {
		fi, err := statDev(s.p, abs)
		return fi, s.leave(err)
	}
	fi, err := s.p.k.fs.Stat(abs)
	return fi, s.leave(err)
}

// ReadDir lists a directory of the namespace, sorted by name.
func (s *Sys) ReadDir(name string) ([]fs.DirEntry, error) {
	s.enter()
	abs, err := s.p.abs(name)
	if err != nil {
		return nil, s.leave(err)
	}
	if err := s.checkPath("readdir", abs, "r"); err != nil {
		return nil, s.leave(err)
	}
	if onDev(abs) {
		ents, err := readDev(s.p, abs)
		return ents, s.leave(err)
	}
	ents, err := s.p.k.fs.ReadDir(abs)
	if err == nil && abs == "/" {
		ents = withDevEntry(ents)
	}
	return ents, s.leave(err)
}

// Mkdir makes a directory.
func (s *Sys) Mkdir(name string, perm fs.FileMode) error {
	s.enter()
	abs, err := s.p.abs(name)
	if err != nil {
		return s.leave(err)
	}
	if err := s.checkPath("mkdir", abs, "c"); err != nil {
		return s.leave(err)
	}
	switch {
	case abs == devDir || abs == devDir+"/fd":
		return s.leave(&fs.PathError{Op: "mkdir", Path: abs, Err: ipc.EEXIST})
	case onDev(abs):
		return s.leave(devPathError("mkdir", abs))
	}
	return s.leave(s.p.k.fs.Mkdir(abs, perm))
}

// Remove removes a file, a FIFO or an empty directory.
func (s *Sys) Remove(name string) error {
	s.enter()
	abs, err := s.p.abs(name)
	if err != nil {
		return s.leave(err)
	}
	if err := s.checkPath("unlink", abs, "c"); err != nil {
		return s.leave(err)
	}
	return s.leave(s.p.k.removePath(context.Background(), abs))
}

// Rename renames a file or directory.
func (s *Sys) Rename(oldname, newname string) error {
	s.enter()
	from, err := s.p.abs(oldname)
	if err != nil {
		return s.leave(err)
	}
	to, err := s.p.abs(newname)
	if err != nil {
		return s.leave(err)
	}
	for _, abs := range []string{from, to} {
		if err := s.checkPath("rename", abs, "c"); err != nil {
			return s.leave(err)
		}
	}
	return s.leave(s.p.k.renamePath(from, to))
}
