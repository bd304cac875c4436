package node

import (
	"io/fs"
	"strings"
	"sync"

	"github.com/vproc/vproc/ipc"
)

// fifoTable maps the paths of FIFOs in the namespace to their ipc objects.
// The namespace holds the name (a FIFO node); the kernel holds the pipe. The
// kernel's changes to the namespace that make, move or remove names are made
// under mu together with the table's, so that the two agree: one name, one
// FIFO object.
type fifoTable struct {
	mu     sync.Mutex
	byPath map[string]*ipc.FIFO // guarded by mu
}

// put records f as the FIFO object at abs. t.mu is held.
func (t *fifoTable) put(abs string, f *ipc.FIFO) {
	if t.byPath == nil {
		t.byPath = make(map[string]*ipc.FIFO)
	}
	t.byPath[abs] = f
}

// removePath removes a name from the namespace. A FIFO's object lives on
// while it is open.
func (k *ProcessManager) removePath(abs string) error {
	t := &k.fifos
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := k.fs.Remove(abs); err != nil {
		return err
	}
	delete(t.byPath, abs)
	return nil
}

// renamePath renames a name, carrying with it the FIFO objects of the FIFO
// it names or of those below the directory it names. The objects of names
// the rename replaces are forgotten.
func (k *ProcessManager) renamePath(from, to string) error {
	t := &k.fifos
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := k.fs.Rename(from, to); err != nil {
		return err
	}
	moved := make(map[string]*ipc.FIFO)
	for name, f := range t.byPath {
		switch {
		case name == to || strings.HasPrefix(name, to+"/"):
			delete(t.byPath, name)
		case name == from || strings.HasPrefix(name, from+"/"):
			delete(t.byPath, name)
			moved[to+name[len(from):]] = f
		}
	}
	for name, f := range moved {
		t.put(name, f)
	}
	return nil
}

// fifoAt returns the FIFO object of the FIFO node at abs, making one if the
// node was made outside the kernel (a host mkfifo), or nil if abs names no
// FIFO any more.
func (k *ProcessManager) fifoAt(abs string) *ipc.FIFO {
	t := &k.fifos
	t.mu.Lock()
	defer t.mu.Unlock()
	if f, ok := t.byPath[abs]; ok {
		return f
	}
	fi, err := k.fs.Stat(abs)
	if err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		return nil
	}
	f := ipc.NewFIFO(uint32(fi.Mode().Perm()), k.cfg.Owner)
	t.put(abs, f)
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
	fifo := p.k.fifoAt(abs)
	if fifo == nil {
		return -1, false, nil // removed or replaced since the Stat
	}
	nb := flags&O_NONBLOCK != 0
	var ops fileOps
	switch flags & O_ACCMODE {
	case O_RDONLY:
		r, err := fifo.OpenRead(&p.waiter, nb)
		if err != nil {
			return -1, true, err
		}
		ops = pipeReadOps{r}
	case O_WRONLY:
		w, err := fifo.OpenWrite(&p.waiter, nb)
		if err != nil {
			return -1, true, err
		}
		ops = pipeWriteOps{w}
	default:
		return -1, true, &fs.PathError{Op: "open", Path: abs, Err: ipc.EINVAL}
	}
	f := newFile("fifo:"+abs, flags&(O_ACCMODE|O_NONBLOCK), ops)
	if fd, err = p.installFd(f, 0); err != nil {
		f.release()
	}
	return fd, true, err
}

// Mkfifo makes a FIFO (named pipe) at name, owned by the caller.
func (s *Sys) Mkfifo(name string, perm fs.FileMode) error {
	s.enter()
	p := s.p
	abs, err := p.abs(name)
	if err != nil {
		return s.leave(err)
	}
	t := &p.k.fifos
	t.mu.Lock()
	err = p.k.fs.Mkfifo(abs, perm)
	if err == nil {
		t.put(abs, ipc.NewFIFO(uint32(perm.Perm()), p.Owner))
	}
	t.mu.Unlock()
	return s.leave(err)
}
