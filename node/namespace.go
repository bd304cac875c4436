package node

import (
	"io/fs"
	"sync"

	"github.com/vproc/vproc/ipc"
)

// fifoTable maps the paths of FIFOs in the namespace to their ipc objects.
// The namespace holds the name (a FIFO node); the kernel holds the pipe.
type fifoTable struct {
	mu     sync.Mutex
	byPath map[string]*ipc.FIFO
}

// removePath removes a name from the namespace. A FIFO's object lives on
// while it is open.
func (k *ProcessManager) removePath(abs string) error {
	if err := k.fs.Remove(abs); err != nil {
		return err
	}
	k.fifos.mu.Lock()
	delete(k.fifos.byPath, abs)
	k.fifos.mu.Unlock()
	return nil
}

// renamePath renames a name, carrying a FIFO's object with it.
func (k *ProcessManager) renamePath(from, to string) error {
	if err := k.fs.Rename(from, to); err != nil {
		return err
	}
	k.fifos.mu.Lock()
	if f, ok := k.fifos.byPath[from]; ok {
		delete(k.fifos.byPath, from)
		k.fifos.byPath[to] = f
	} else {
		delete(k.fifos.byPath, to)
	}
	k.fifos.mu.Unlock()
	return nil
}

// fifoAt returns the FIFO object of the FIFO node at abs, making one if the
// node was created outside the kernel (a host mkfifo).
func (k *ProcessManager) fifoAt(abs string, fi fs.FileInfo) *ipc.FIFO {
	k.fifos.mu.Lock()
	defer k.fifos.mu.Unlock()
	if f, ok := k.fifos.byPath[abs]; ok {
		return f
	}
	if k.fifos.byPath == nil {
		k.fifos.byPath = make(map[string]*ipc.FIFO)
	}
	f := ipc.NewFIFO(uint32(fi.Mode().Perm()), k.cfg.Owner)
	k.fifos.byPath[abs] = f
	return f
}

// openSpecial opens abs when it names a FIFO; ok is false for anything else.
func (s *Sys) openSpecial(abs string, flags int) (fd int, ok bool, err error) {
	p := s.p
	fi, err := p.k.fs.Stat(abs)
	if err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		return -1, false, nil
	}
	if flags&(O_CREAT|O_EXCL) == O_CREAT|O_EXCL {
		return -1, true, &fs.PathError{Op: "open", Path: abs, Err: ipc.EEXIST}
	}
	fifo := p.k.fifoAt(abs, fi)
	nb := flags&O_NONBLOCK != 0
	status := flags & (O_ACCMODE | O_NONBLOCK)
	name := "fifo:" + abs
	switch flags & O_ACCMODE {
	case O_RDONLY:
		r, err := fifo.OpenRead(&p.waiter, nb)
		if err != nil {
			return -1, true, err
		}
		f := newFile(name, status, pipeReadOps{r})
		if fd, err = p.installFd(f, 0); err != nil {
			f.release()
		}
		return fd, true, err
	case O_WRONLY:
		w, err := fifo.OpenWrite(&p.waiter, nb)
		if err != nil {
			return -1, true, err
		}
		f := newFile(name, status, pipeWriteOps{w})
		if fd, err = p.installFd(f, 0); err != nil {
			f.release()
		}
		return fd, true, err
	default:
		return -1, true, &fs.PathError{Op: "open", Path: abs, Err: ipc.EINVAL}
	}
}

// Mkfifo makes a FIFO (named pipe) at name, owned by the caller.
func (s *Sys) Mkfifo(name string, perm fs.FileMode) error {
	s.enter()
	p := s.p
	abs, err := p.abs(name)
	if err != nil {
		return s.leave(err)
	}
	if err := p.k.fs.Mkfifo(abs, perm); err != nil {
		return s.leave(err)
	}
	k := p.k
	k.fifos.mu.Lock()
	if k.fifos.byPath == nil {
		k.fifos.byPath = make(map[string]*ipc.FIFO)
	}
	k.fifos.byPath[abs] = ipc.NewFIFO(uint32(perm.Perm()), p.Owner)
	k.fifos.mu.Unlock()
	return s.leave(nil)
}
