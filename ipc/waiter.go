package ipc

import "time"

// A Waiter parks a caller while an IPC object has nothing to give it: a read
// from an empty pipe, a send to a full queue, an open of a FIFO whose other end
// is closed.
//
// The protocol every blocking operation in this package follows is:
//
//	lock the object
//	for the operation can't proceed {
//		if non-blocking: unlock, return EAGAIN
//		register w on the object's wait list
//		unlock
//		err := w.Wait(deadline)
//		lock, and remove w from the wait list
//		if err != nil: unlock, return err
//	}
//
// and every change that may let a waiter proceed calls Wake on the waiters of
// that list. Wake leaves a token, so a Wake that comes between the unlock and
// the Wait is not lost, and Wait may also return spuriously: callers always
// recheck their condition.
//
// The local kernel implements Waiter per process: while Wait blocks, the
// process holds no CPU slot, a handled signal makes Wait return EINTR, and a
// fatal one makes it return an error that the kernel turns into the process's
// death once the call has unwound.
//
// A Waiter is registered on wait lists and found again with ==, so its
// dynamic type must be comparable; a pointer is the usual choice. One Waiter
// serves one blocked call at a time.
type Waiter interface {
	// Wait blocks until Wake is called, until deadline passes (ETIMEDOUT), or
	// until the waiter is interrupted (any other non-nil error, returned to the
	// caller unchanged). A zero deadline means no deadline.
	Wait(deadline time.Time) error
	// Wake ends a current or the next Wait. It never blocks.
	Wake()
}

// chanWaiter is the Waiter used by callers outside the kernel (tests, tools,
// benchmarks, the cluster's streams): it waits on a channel and honours
// deadlines; with a done channel, its waits end with err once done is
// closed.
type chanWaiter struct {
	ch   chan struct{} // capacity 1: a wake token
	done <-chan struct{}
	err  error
}

// NewWaiter returns a Waiter for a caller that is not a kernel process. Its
// waits are never interrupted. It may be used by one goroutine at a time.
func NewWaiter() Waiter { return &chanWaiter{ch: make(chan struct{}, 1)} }

// NewCancelableWaiter returns a Waiter like NewWaiter's whose waits end
// with err once done is closed: a context's Done, a request's cancel.
func NewCancelableWaiter(done <-chan struct{}, err error) Waiter {
	return &chanWaiter{ch: make(chan struct{}, 1), done: done, err: err}
}

func (w *chanWaiter) Wake() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

func (w *chanWaiter) Wait(deadline time.Time) error {
	select {
	case <-w.done:
		return w.err
	default:
	}
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return ETIMEDOUT
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.ch:
		return nil
	case <-timeout:
		return ETIMEDOUT
	case <-w.done:
		return w.err
	}
}

// waitList is the list of Waiters blocked on one condition of one object. It
// is guarded by that object's lock. A Waiter is registered at most once per
// list and is removed by the caller that registered it, after its Wait
// returns, so the length of the list is the number of callers blocked on the
// condition at that moment. Waiters are compared with ==, so a Waiter must be
// of a comparable type (a pointer, in practice).
type waitList struct {
	ws []Waiter
}

// add registers w.
func (l *waitList) add(w Waiter) { l.ws = append(l.ws, w) }

// remove deregisters w if it is registered.
func (l *waitList) remove(w Waiter) {
	for i, x := range l.ws {
		if x == w {
			last := len(l.ws) - 1
			l.ws[i] = l.ws[last]
			l.ws[last] = nil
			l.ws = l.ws[:last]
			return
		}
	}
}

// len returns the number of registered waiters.
func (l *waitList) len() int { return len(l.ws) }

// wake calls Wake on every registered waiter. Waiters stay registered until
// they remove themselves.
func (l *waitList) wake() {
	for _, w := range l.ws {
		w.Wake()
	}
}
