package node

import (
	"errors"
	"time"

	"github.com/vproc/vproc/ipc"
)

// Blocked calls on objects other nodes hold.
//
// A process blocked in a receive or a read on another node's object has a
// request waiting there. Were it left waiting while the process is
// stopped, the holder would hand the next message or bytes to a process
// that cannot take them, and a ready receiver elsewhere would miss them.
// The local kernel never does that: a stopped receiver takes nothing. So
// the stream waits through StopWaiter: a stop signal ends the wait with
// ErrStopping, the stream cancels the request (keeping its result when the
// holder had already completed it), and the next Wait stops the process in
// place; once continued, the stream asks again, as Linux restarts a call
// interrupted by a stop.

// ErrStopping ends a StopWaiter's wait when a stop signal is about to stop
// the process. The signal stays pending: the next Wait acts on it.
var ErrStopping = errors.New("process is stopping")

// StopWaiter is an optional ability of the ipc.Waiter the kernel hands to
// remote descriptors (Names' queues and FIFOs, InheritedFile), found by a
// type assertion.
type StopWaiter interface {
	ipc.Waiter
	// WaitUnlessStopping is Wait, except that a stop signal ends it with
	// ErrStopping before the process stops.
	WaitUnlessStopping(deadline time.Time) error
}

var _ StopWaiter = (*procWaiter)(nil)

// WaitUnlessStopping implements StopWaiter.
func (w *procWaiter) WaitUnlessStopping(deadline time.Time) error {
	p := (*Process)(w)
	p.k.sched.release(p)
	p.setState(codeWaiting)
	err := p.blockedWaitStop(deadline)
	if err == errKilled {
		return err
	}
	p.setState(codeReady)
	p.k.sched.schedule(p)
	if e := p.acquire(); e != nil {
		return e
	}
	return err
}

// blockedWaitStop is blockedWaitFor with a stop signal ending the wait.
func (p *Process) blockedWaitStop(deadline time.Time) error { return p.blockedWaitFor(deadline, true) }
