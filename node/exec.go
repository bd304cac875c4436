package node

import (
	"fmt"
	"runtime"

	"github.com/vproc/vproc/ipc"
)

// Exec replaces the program the process runs with command, as execve(2):
// the process keeps its PID, parent, process group and session, its cwd,
// limits, promises, priority and CPU time, its signal mask and pending
// signals, and every descriptor but those with FD_CLOEXEC. Caught signals
// get their default action back; ignored ones stay ignored; every
// disposition's flags and mask are cleared. Message-queue descriptors are
// closed, mappings are unmapped and mq_notify registrations are dropped,
// as execve(2) says of POSIX IPC. args are the arguments after the
// command; env is the new environment, nil keeps the current one.
//
// Exec does not return when it succeeds: the new program runs, and its
// return ends the process. A command that names no program fails with
// ErrUnknownProgram (ENOENT) before anything changes, and the caller goes
// on, as execve's ENOENT leaves the old program running.
//
// The process record shows the new command and arguments (Get, List);
// Spawned keeps those it was spawned with. OnEvent gets an EventExec with
// the new command.
func (s *Sys) Exec(command string, args, env []string) error {
	s.enter()
	p := s.p
	prog, ok := p.k.programs.Lookup(command)
	if !ok {
		return s.leave(fmt.Errorf("%w: %q", ErrUnknownProgram, command))
	}
	args = append([]string(nil), args...)
	if env != nil {
		env = append([]string(nil), env...)
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
	p.mu.Unlock()

	k := p.k
	k.mu.Lock()
	if p.Spawned == nil {
		p.Spawned = &Argv{Command: p.Command, Args: p.Args}
	}
	p.Command, p.Args = command, args
	if env != nil {
		p.Env, p.env = env, env
	} else {
		p.Env = p.env
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
// recover.
func (p *Process) runExeced(prog Program) {
	defer func() {
		if r := recover(); r != nil {
			p.setDeath(ipc.SIGABRT, fmt.Sprintf("program panicked: %v", r))
			runtime.Goexit()
		}
	}()
	code := prog(&p.sys)
	p.mu.Lock()
	p.Status = ExitedStatus(code)
	p.mu.Unlock()
	runtime.Goexit()
}

// opsIfOpen returns f's operations, or nil for a closed descriptor's slot.
func (f *File) opsIfOpen() fileOps {
	if f == nil {
		return nil
	}
	return f.ops
}
