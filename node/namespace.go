package node

import (
	"context"
	"errors"
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
//
// With Config.Names, removing a FIFO also removes its registered name, and a
// path that names nothing here but a FIFO another node holds removes that
// one. The caller's slot is kept meanwhile.
func (k *ProcessManager) removePath(ctx context.Context, abs string) error {
	if onDev(abs) {
		return devPathError("remove", abs)
	}
	names := k.cfg.Names
	if names != nil {
		defer k.nameLocks.lock(direct, NameFIFO, abs)()
		// A FIFO here loses its name first, so that a failure leaves both
		// as they were (a name without its FIFO would be taken for ever).
		// An orphan FIFO (ownedHere) goes at once, and the name is looked
		// for elsewhere.
		if fi, err := k.fs.Stat(abs); err == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
			own, err := k.ownedHere(direct, NameFIFO, abs)
			if err != nil {
				return &fs.PathError{Op: "remove", Path: abs, Err: err}
			}
			if !own {
				k.dropLocal(NameFIFO, abs)
			} else if err := names.Unregister(ctx, NameFIFO, abs, true); err != nil && !errors.Is(err, ipc.ENOENT) {
				return &fs.PathError{Op: "remove", Path: abs, Err: err}
			}
		}
	}
	t := &k.fifos
	t.mu.Lock()
	err := k.fs.Remove(abs)
	if err == nil {
		delete(t.byPath, abs)
	}
	t.mu.Unlock()
	if err != nil && names != nil && errors.Is(err, fs.ErrNotExist) {
		// Not here: another node's FIFO, or a lost one, whose name goes
		// all the same.
		if uerr := names.Unregister(ctx, NameFIFO, abs, false); !errors.Is(uerr, ipc.ENOENT) {
			return uerr
		}
	}
	return err
}

// renamePath renames a name, carrying with it the FIFO objects of the FIFO
// it names or of those below the directory it names. The objects of names
// the rename replaces are forgotten.
func (k *ProcessManager) renamePath(from, to string) error {
	if onDev(from) || onDev(to) {
		return devPathError("rename", from)
	}
	t := &k.fifos
	t.mu.Lock()
	defer t.mu.Unlock()
	if k.cfg.Names != nil {
		// A FIFO's name is registered cluster-wide under its path; moving
		// it would leave the registry naming a path that is gone.
		for name := range t.byPath {
			if name == from || strings.HasPrefix(name, from+"/") {
				return &fs.PathError{Op: "rename", Path: from, Err: ipc.EXDEV}
			}
		}
	}
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
	if err != nil && p.k.cfg.Names != nil && errors.Is(err, fs.ErrNotExist) {
		return s.openRemoteFIFO(abs, flags)
	}
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
		r, err := fifo.OpenRead(p.waiter(), nb)
		if err != nil {
			return -1, true, err
		}
		ops = pipeReadOps{r}
	case O_WRONLY:
		w, err := fifo.OpenWrite(p.waiter(), nb)
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

// openRemoteFIFO opens abs, which names nothing here, when it is a FIFO
// another node holds; ok is false when no node does.
func (s *Sys) openRemoteFIFO(abs string, flags int) (fd int, ok bool, err error) {
	p := s.p
	names := p.k.cfg.Names
	node, err := names.Lookup(NameFIFO, abs)
	switch {
	case errors.Is(err, ipc.ENOENT) || (err == nil && node == ""):
		return -1, false, nil
	case err != nil:
		return -1, true, &fs.PathError{Op: "open", Path: abs, Err: err}
	case flags&(O_CREAT|O_EXCL) == O_CREAT|O_EXCL:
		return -1, true, &fs.PathError{Op: "open", Path: abs, Err: ipc.EEXIST}
	}
	var write bool
	switch flags & O_ACCMODE {
	case O_RDONLY:
	case O_WRONLY:
		write = true
	default:
		// O_RDWR would make this node a reader and a writer at once, which
		// only the FIFO's own node can be.
		return -1, true, &fs.PathError{Op: "open", Path: abs, Err: ipc.EINVAL}
	}
	r, err := names.OpenFIFO(p.waiter(), node, abs, write, flags&O_NONBLOCK != 0, p.Owner)
	if err != nil {
		return -1, true, err
	}
	f := newFile("fifo:"+abs, flags&(O_ACCMODE|O_NONBLOCK), remotePipeOps{r})
	if fd, err = p.installFd(f, 0); err != nil {
		f.release()
	}
	return fd, true, err
}

// Mkfifo makes a FIFO (named pipe) at name, owned by the caller. With
// Config.Names it registers the path first: EEXIST when any node holds a
// FIFO there.
func (s *Sys) Mkfifo(name string, perm fs.FileMode) error {
	s.enter()
	p := s.p
	abs, err := p.abs(name)
	if err != nil {
		return s.leave(err)
	}
	if err := s.checkPath("mkfifo", abs, "c"); err != nil {
		return s.leave(err)
	}
	return s.leave(p.k.mkfifo(p.nameCall(), abs, perm, p.Owner))
}

// mkfifo makes a FIFO at abs, registered with Config.Names when set.
func (k *ProcessManager) mkfifo(call nameCall, abs string, perm fs.FileMode, owner string) error {
	if onDev(abs) {
		return devPathError("mkfifo", abs)
	}
	names := k.cfg.Names
	if names != nil {
		defer k.nameLocks.lock(call, NameFIFO, abs)()
		if fi, err := k.fs.Stat(abs); err == nil {
			own := true
			if fi.Mode()&fs.ModeNamedPipe != 0 {
				if own, err = k.ownedHere(call, NameFIFO, abs); err != nil {
					return &fs.PathError{Op: "mkfifo", Path: abs, Err: err}
				}
			}
			if own {
				return &fs.PathError{Op: "mkfifo", Path: abs, Err: ipc.EEXIST}
			}
			k.dropLocal(NameFIFO, abs) // an orphan: the name is free, or held elsewhere
		}
		var err error
		call.run(func() {
			err = names.Register(call.ctx, NameFIFO, abs, NameInfo{Owner: owner, Mode: uint32(perm.Perm())})
		})
		if err != nil {
			return &fs.PathError{Op: "mkfifo", Path: abs, Err: err}
		}
	}
	t := &k.fifos
	t.mu.Lock()
	err := k.fs.Mkfifo(abs, perm)
	if err == nil {
		t.put(abs, ipc.NewFIFO(uint32(perm.Perm()), owner))
	}
	t.mu.Unlock()
	if err != nil && names != nil {
		call.run(func() { names.Unregister(context.Background(), NameFIFO, abs, true) })
	}
	return err
}
