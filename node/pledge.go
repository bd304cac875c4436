package node

import (
	"fmt"
	"strings"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
)

// pledge(2) and unveil(2), enforced. Every system call of a virtual
// process names the promises it needs (need); a process that lacks one is
// killed with SIGABRT, and its exit records why ("pledge "ipc" needed by
// mq_open"). The calls that take a path of the namespace, a FIFO, or a
// queue or segment name also check it against the process's unveil list
// (unveiled): a path no entry covers is ENOENT, one whose entry lacks the
// permission is EACCES, as on OpenBSD. Without any unveil entry everything
// is visible.
//
// The promise of each call:
//
//	stdio   descriptors (read, write, close, dup, pipe, fcntl), ids,
//	        the environment, time, sleep, yield, the signal mask, getrlimit,
//	        mmap and ftruncate of an open segment, kill of itself
//	rpath   open for reading, stat, readdir, chdir
//	wpath   open for writing
//	cpath   open with O_CREAT, mkdir, remove, rename, mkfifo
//	proc    spawn, wait, kill of another process, setpgid, setsid, setrlimit
//	exec    spawn and exec: running a program
//	signal  sigaction and signal: handlers
//	ipc     message queues and shared-memory segments
//	unveil  unveil
//
// A process's promises, its execpromises and its unveil list change only
// through its own system calls (Pledge, Unveil): the owner writes them
// under p.mu and reads them without it.

// need kills the process with SIGABRT unless it holds every promise in
// want. call names the system call in the recorded reason.
func (s *Sys) need(want security.Promise, call string) {
	p := s.p
	held := p.Capabilities.Effective()
	if held&want == want {
		return
	}
	missing := want &^ held
	// Name the first missing promise, as OpenBSD's log does.
	for q := security.Promise(1); q != 0 && q <= security.PromiseAll; q <<= 1 {
		if missing&q != 0 {
			missing = q
			break
		}
	}
	p.k.killFor(p, ipc.SIGABRT, fmt.Sprintf("pledge %q needed by %s", missing.String(), call))
	p.deliverSignals()
	p.die() // not reached: the kill above is not caught or blocked
}

// pathPromises returns the promises a use of a path with unveil perms
// ("rwc") needs.
func pathPromises(perms string) security.Promise {
	var want security.Promise
	for _, r := range perms {
		switch r {
		case 'r':
			want |= security.PromiseRpath
		case 'w':
			want |= security.PromiseWpath
		case 'c':
			want |= security.PromiseCpath
		}
	}
	return want
}

// openPerms returns the unveil permissions an open with flags needs.
func openPerms(flags int) string {
	var b strings.Builder
	switch flags & O_ACCMODE {
	case O_RDONLY:
		b.WriteByte('r')
	case O_WRONLY:
		b.WriteByte('w')
	default:
		b.WriteString("rw")
	}
	if flags&O_TRUNC != 0 && flags&O_ACCMODE == O_RDONLY {
		b.WriteByte('w')
	}
	if flags&O_CREAT != 0 {
		b.WriteByte('c')
	}
	return b.String()
}

// checkPath is the check of a call that uses abs, a clean absolute path of
// the namespace, with unveil perms: the promises first (a violation does
// not return), then the unveil list. Devices under /dev need stdio only
// and are always visible, as OpenBSD lets a pledged process open
// /dev/null.
func (s *Sys) checkPath(call, abs, perms string) error {
	if onDev(abs) {
		s.need(security.PromiseStdio, call)
		return nil
	}
	s.need(pathPromises(perms), call)
	return s.p.unveiled(abs, perms)
}

// checkName is the check of a call on a queue or segment name: the ipc
// promise, then the unveil list, against which names are matched as paths.
func (s *Sys) checkName(call, name, perms string) error {
	s.need(security.PromiseIPC, call)
	return s.p.unveiled(name, perms)
}

// unveiled checks abs against the process's unveil list. The owner calls
// it; others use unveiledIn on a copy of the list taken under p.mu.
func (p *Process) unveiled(abs, perms string) error { return unveiledIn(p.UnveilPaths, abs, perms) }

// unveiledIn checks abs against list: the entry with the longest path that
// is abs or a directory above it governs it. An empty list makes
// everything visible.
func unveiledIn(list []security.UnveilPath, abs, perms string) error {
	if len(list) == 0 {
		return nil
	}
	best := -1
	for i, u := range list {
		if covers(u.Path, abs) && (best < 0 || len(u.Path) > len(list[best].Path)) {
			best = i
		}
	}
	if best < 0 {
		return fmt.Errorf("%w: %s is not unveiled", ipc.ENOENT, abs)
	}
	for _, r := range perms {
		if !strings.ContainsRune(list[best].Perms, r) {
			return fmt.Errorf("%w: %s is unveiled %q, not %q", ipc.EACCES, abs, list[best].Perms, perms)
		}
	}
	return nil
}

// covers reports whether dir is path or a directory above it.
func covers(dir, path string) bool {
	if dir == "/" || dir == path {
		return true
	}
	return strings.HasPrefix(path, dir) && len(path) > len(dir) && path[len(dir)] == '/'
}

// Pledge narrows the process's promises to promises, and sets the
// execpromises the programs it runs (its children, and an Exec) start
// with, as pledge(2). Either string empty leaves that set as it is. A
// promise the process does not hold is EPERM: promises only narrow. An
// unknown name is EINVAL.
func (s *Sys) Pledge(promises, execpromises string) error {
	s.enter()
	p := s.p
	parse := func(str string, cur security.Promise) (security.Promise, error) {
		if str == "" {
			return cur, nil
		}
		q, err := security.ParsePromises(str)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ipc.EINVAL, err)
		}
		if q == 0 {
			return cur, nil
		}
		n, ok := cur.Narrow(q)
		if !ok {
			return 0, fmt.Errorf("%w: promises can only be narrowed: %q holds more than %q", ipc.EPERM, q.String(), cur.Effective().String())
		}
		return n, nil
	}
	caps, err := parse(promises, p.Capabilities)
	if err != nil {
		return s.leave(err)
	}
	execBase := p.execPromises()
	if execBase == 0 {
		execBase = p.Capabilities
	}
	exec, err := parse(execpromises, execBase)
	if err != nil {
		return s.leave(err)
	}
	if execpromises == "" {
		exec = p.execPromises()
	}
	p.mu.Lock()
	p.Capabilities = caps
	if exec != 0 || p.rare.Load() != nil {
		p.more().execPromises = exec
	}
	p.mu.Unlock()
	return s.leave(nil)
}

// Unveil makes path (and what is below it) visible with perms, a subset
// of "rwxc", as unveil(2); the first call hides everything else. An empty
// path and perms lock the list: any later Unveil is EPERM (locking before
// any unveil keeps everything visible, and locked). It needs the unveil
// promise. A path already unveiled gets the new perms; a process whose
// list was inherited cannot see more than its parent let it.
func (s *Sys) Unveil(path, perms string) error {
	s.enter()
	p := s.p
	s.need(security.PromiseUnveil, "unveil")
	if p.unveilLock {
		return s.leave(fmt.Errorf("%w: unveil is locked", ipc.EPERM))
	}
	if path == "" && perms == "" {
		p.mu.Lock()
		p.unveilLock = true
		p.mu.Unlock()
		return s.leave(nil)
	}
	abs, err := p.abs(path)
	if err != nil {
		return s.leave(err)
	}
	u, err := security.ParseUnveil(abs + ":" + perms)
	if err != nil {
		return s.leave(fmt.Errorf("%w: %v", ipc.EINVAL, err))
	}
	if p.inheritedUnveil && p.unveiled(u.Path, u.Perms) != nil {
		return s.leave(fmt.Errorf("%w: %s:%s is not within what the process may see", ipc.EPERM, u.Path, u.Perms))
	}
	out := make([]security.UnveilPath, 0, len(p.UnveilPaths)+1)
	for _, e := range p.UnveilPaths {
		if e.Path != u.Path {
			out = append(out, e)
		}
	}
	out = append(out, u)
	p.mu.Lock()
	p.UnveilPaths = out
	p.mu.Unlock()
	return s.leave(nil)
}

// childSecurity returns the promises and unveil list of a child of parent
// that asks for caps and unveil: it starts from the parent's execpromises
// (or its promises), narrowed by caps, and from the parent's unveil list,
// or the list it asks for, each entry of which the parent must see. The
// last result says whether the list came from a parent that had one.
func childSecurity(parent *Process, caps security.Promise, unveil []security.UnveilPath) (security.Promise, []security.UnveilPath, bool, error) {
	parent.mu.Lock()
	base, pu := parent.execPromises(), parent.UnveilPaths
	if base == 0 {
		base = parent.Capabilities
	}
	parent.mu.Unlock()
	out := base
	if caps != 0 {
		var ok bool
		if out, ok = base.Narrow(caps); !ok {
			return 0, nil, false, fmt.Errorf("%w: promises can only be narrowed", ipc.EPERM)
		}
	}
	if unveil == nil {
		return out, pu, len(pu) > 0, nil
	}
	for _, u := range unveil {
		if err := unveiledIn(pu, u.Path, u.Perms); err != nil {
			return 0, nil, false, fmt.Errorf("%w: unveil %s:%s is not within the parent's", ipc.EPERM, u.Path, u.Perms)
		}
	}
	return out, unveil, len(pu) > 0, nil
}

// killPromise is what a kill needs: stdio to signal itself, proc for any
// other process or a group.
func killPromise(p *Process, pid int) security.Promise {
	if pid == p.PID {
		return security.PromiseStdio
	}
	return security.PromiseProc
}
