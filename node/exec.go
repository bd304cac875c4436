package node

import (
	"fmt"
	"runtime"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
)

// ExecAttr describes the program Exec runs.
type ExecAttr struct {
	Command string
	Args    []string // arguments after the command
	Env     []string // the new environment; nil keeps the current one
	// Files, if not nil, rearranges the descriptors before the program
	// runs, as dup2 calls before execve(2) would: the new program's
	// descriptor i is the caller's descriptor Files[i] (none when it is
	// -1), and every other descriptor is closed. A shell's exec with
	// redirections passes its table here. Nil keeps the descriptors as
	// they are, less those with FD_CLOEXEC.
	Files []int
}

// Exec replaces the program the process runs with attr.Command, as
// execve(2): the process keeps its PID, parent, process group and session,
// its cwd, limits, promises, priority and CPU time, its signal mask and
// pending signals, and every descriptor but those with FD_CLOEXEC (or as
// attr.Files arranges them). Caught signals get their default action back;
// ignored ones stay ignored; every disposition's flags and mask are
// cleared. Message-queue descriptors are closed, mappings are unmapped and
// mq_notify registrations are dropped, as execve(2) says of POSIX IPC.
//
// Exec does not return when it succeeds: the new program runs, and its
// return ends the process. It fails before anything changes, and the
// caller goes on, as after a failed execve: with ErrUnknownProgram
// (ENOENT) for a command that names no program, and with EBADF for an
// entry of attr.Files that is not an open descriptor, or that would be
// past RLIMIT_NOFILE.
//
// The process record shows the new command and arguments (Get, List);
// Spawned keeps those it was spawned with. OnEvent gets an EventExec with
// the new command.
func (s *Sys) Exec(attr ExecAttr) error {
	s.enter()
	s.need(security.PromiseExec, "execve")
	p := s.p
	prog, ok := p.k.programs.Lookup(attr.Command)
	if !ok {
		return s.leave(fmt.Errorf("%w: %q", ErrUnknownProgram, attr.Command))
	}
	var files []*File
	if attr.Files != nil {
		var err error
		if files, err = p.execFiles(attr.Files); err != nil {
			return s.leave(err)
		}
	}
	command := attr.Command
	args := append([]string(nil), attr.Args...)
	env := attr.Env
	if env != nil {
		env = append([]string(nil), env...)
	}

	if files != nil {
		p.replaceFiles(files)
	}
	p.closeOnExec()
	var mqs []int
	for fd, f := range p.Files {
		if _, mq := f.opsIfOpen().(mqOps); mq {
			mqs = append(mqs, fd)
		}
	}
	for _, fd := range mqs {
		p.closeFd(fd)
	}
	p.detachAll()

	p.mu.Lock()
	if p.actions != nil {
		for sig := range p.actions {
			a := p.actions[sig]
			p.actions[sig] = SigAction{Ignore: a.Ignore && a.Handler == nil}
		}
	}
	if ep := p.execPromises(); ep != 0 { // the new program runs under the execpromises
		p.Capabilities = ep
	}
	p.mu.Unlock()

	k := p.k
	k.mu.Lock()
	if p.Spawned == nil {
		p.Spawned = &Argv{Command: p.Command, Args: p.Args}
	}
	p.Command, p.Args = command, args
	if env == nil {
		env = p.envList()
	}
	p.Env = env
	if r := p.rare.Load(); r != nil {
		r.envSet = nil
	}
	k.mu.Unlock()
	p.prog = prog
	k.emit(Event{PID: p.PID, Kind: EventExec, Command: command, Args: args})

	s.leave(nil)
	p.runExeced(prog)
	panic("unreachable: runExeced returned")
}

// runExeced runs prog, the program an Exec installed, on top of the stack
// of the program it replaced, and ends the process when it returns. The
// replaced program never runs again: a panic of prog is the process's
// death (SIGABRT), not something the replaced program's frames may
// recover, and the deferred calls of the replaced program, which run as
// the goroutine unwinds, complete no system call (attnGone).
func (p *Process) runExeced(prog Program) {
	defer func() {
		if r := recover(); r != nil {
			p.setDeath(ipc.SIGABRT, fmt.Sprintf("program panicked: %v", r))
		}
		p.attention.Or(attnGone)
		runtime.Goexit()
	}()
	code := prog(&p.sys)
	p.mu.Lock()
	p.Status = ExitedStatus(code)
	p.mu.Unlock()
}

// opsIfOpen returns f's operations, or nil for a closed descriptor's slot.
func (f *File) opsIfOpen() fileOps {
	if f == nil {
		return nil
	}
	return f.ops
}

// execFiles takes a reference on the file of each descriptor in fds, for
// replaceFiles: nil where fds holds -1. EBADF for a descriptor that is not
// open, or for a table longer than RLIMIT_NOFILE allows.
func (p *Process) execFiles(fds []int) ([]*File, error) {
	if uint64(len(fds)) > p.Limits.Get(RNoFile).Soft {
		return nil, ipc.EBADF
	}
	files := make([]*File, len(fds))
	for i, fd := range fds {
		if fd < 0 {
			continue
		}
		f, err := p.file(fd)
		if err != nil {
			for _, g := range files[:i] {
				if g != nil {
					g.release()
				}
			}
			return nil, err
		}
		files[i] = f.ref()
	}
	return files, nil
}

// replaceFiles closes every descriptor and puts files in their place,
// taking over the references execFiles took.
func (p *Process) replaceFiles(files []*File) {
	for fd := len(p.Files) - 1; fd >= 0; fd-- {
		if fd < len(p.Files) && p.Files[fd] != nil { // closing trims the table
			p.closeFd(fd)
		}
	}
	for fd, f := range files {
		if f != nil {
			p.setFd(fd, f) // cannot fail: within RLIMIT_NOFILE, and charged no more than before
		}
	}
}
