package wasm

import (
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// preopenFD is the WASI descriptor of the pre-opened root directory.
const preopenFD = 3

// entry is one WASI descriptor: a kernel descriptor of the process, or a
// directory of the namespace, which only the module holds.
type entry struct {
	kfd     int    // the kernel descriptor, or -1 for a directory
	dir     string // a directory's absolute path
	preopen bool   // the pre-opened root: fd_prestat_get describes it
	// nonblock is the module's own O_NONBLOCK: Go's wasip1 runtime sets
	// it on descriptors 0-2 at start. It is kept here, not on the kernel's
	// file, which other processes share; reads and writes stay blocking
	// calls that give up the CPU slot, and poll_oneoff reports the
	// descriptor ready.
	nonblock bool
}

// proc is the state of one running module, owned by its process's
// goroutine: the WASI descriptor table, the argument and environment
// vectors.
type proc struct {
	s    *node.Sys
	fds  []*entry // indexed by WASI descriptor; nil is free
	args []string // argv, argv[0] the command
	env  []string
}

// newProc builds the descriptor table of a module that starts in the
// process s (see the package documentation for the numbering).
func newProc(s *node.Sys) *proc {
	p := &proc{s: s}
	kfds := s.Fds()
	sort.Ints(kfds)
	p.fds = make([]*entry, preopenFD+1, preopenFD+1+len(kfds))
	for _, k := range kfds {
		if k <= 2 {
			p.fds[k] = &entry{kfd: k}
		}
	}
	p.fds[preopenFD] = &entry{kfd: -1, dir: "/", preopen: true}
	for _, k := range kfds {
		if k > 2 {
			p.fds = append(p.fds, &entry{kfd: k})
		}
	}
	p.args = append([]string{s.Command()}, s.Args()...)
	p.env = s.Environ()
	hasPWD := false
	for _, kv := range p.env {
		if strings.HasPrefix(kv, "PWD=") {
			hasPWD = true
			break
		}
	}
	if !hasPWD {
		p.env = append(p.env[:len(p.env):len(p.env)], "PWD="+s.Getcwd())
	}
	return p
}

// get returns the entry of WASI descriptor fd.
func (p *proc) get(fd uint32) (*entry, uint32) {
	if uint64(fd) >= uint64(len(p.fds)) || p.fds[fd] == nil {
		return nil, errnoBadf
	}
	return p.fds[fd], errnoSuccess
}

// kernel returns the kernel descriptor behind WASI descriptor fd; a
// directory is EISDIR, as read(2) on one is.
func (p *proc) kernel(fd uint32) (int, uint32) {
	e, errno := p.get(fd)
	if errno != errnoSuccess {
		return -1, errno
	}
	if e.kfd < 0 {
		return -1, errnoIsdir
	}
	return e.kfd, errnoSuccess
}

// install puts e at the lowest free descriptor above the pre-opened one.
func (p *proc) install(e *entry) uint32 {
	for i := preopenFD + 1; i < len(p.fds); i++ {
		if p.fds[i] == nil {
			p.fds[i] = e
			return uint32(i)
		}
	}
	p.fds = append(p.fds, e)
	return uint32(len(p.fds) - 1)
}

// close frees WASI descriptor fd and closes its kernel descriptor.
func (p *proc) close(fd uint32) uint32 {
	e, errno := p.get(fd)
	if errno != errnoSuccess {
		return errno
	}
	p.fds[fd] = nil
	if e.kfd >= 0 {
		return errnoOf(p.s.Close(e.kfd))
	}
	p.s.Getpid() // a system call all the same: a yield point
	return errnoSuccess
}

// resolve joins a path a module names relative to directory descriptor fd
// into an absolute path of the namespace. ".." never climbs above "/".
func (p *proc) resolve(fd uint32, name string) (string, uint32) {
	e, errno := p.get(fd)
	if errno != errnoSuccess {
		return "", errno
	}
	if e.kfd >= 0 {
		return "", errnoNotdir
	}
	if name == "" {
		return "", errnoNoent
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errnoInval
	}
	return path.Join(e.dir, name), errnoSuccess
}

// WASI file types.
const (
	filetypeUnknown   = 0
	filetypeCharDev   = 2
	filetypeDirectory = 3
	filetypeRegular   = 4
)

// filetype is the WASI file type of a mode. Pipes and FIFOs have none in
// WASI and are "unknown", as wasmtime reports them.
func filetype(m fs.FileMode) uint8 {
	switch {
	case m.IsDir():
		return filetypeDirectory
	case m.IsRegular():
		return filetypeRegular
	case m&fs.ModeCharDevice != 0:
		return filetypeCharDev
	default:
		return filetypeUnknown
	}
}

// signalOf maps a WASI signal number to the kernel's: the two enums agree up
// to SIGTERM, and WASI has no SIGSTKFLT.
func signalOf(w uint32) (ipc.Signal, bool) {
	n := w
	if w >= 16 {
		n = w + 1
	}
	sig := ipc.Signal(n)
	if w == 0 || w > 30 || !sig.Valid() {
		return 0, false
	}
	return sig, true
}
