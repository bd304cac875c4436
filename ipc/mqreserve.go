package ipc

import "time"

// Slot reservations let a sender that is not beside the queue, such as a
// process on another node, send without a round trip per message: the
// queue's holder reserves free slots for it ahead of time (Reserve), and
// each message that arrives later fills one of them (SendReserved), in the
// order the messages arrive. A reserved slot counts as taken for every other
// sender, so the queue never holds more than MaxMsg messages and a full
// queue still blocks; it does not count in CurMsgs.

// Reserve reserves up to n free slots of the queue and returns how many it
// reserved, at least 1. While no slot is free it blocks, or returns EAGAIN
// when nonblock is set, or ETIMEDOUT once deadline has passed (zero: none);
// an error from w.Wait is returned unchanged. A descriptor not open for
// writing is EBADF; n below 1 is EINVAL.
func (d *MQDesc) Reserve(w Waiter, n int64, nonblock bool, deadline time.Time) (int64, error) {
	if n < 1 {
		return 0, EINVAL
	}
	if d.closed.Load() || !d.f.acc.writable() {
		return 0, EBADF
	}
	q := d.f.q
	q.mu.Lock()
	for q.cur+q.reserved >= q.maxMsg {
		if err := q.block(w, &q.sendWait, nonblock, deadline); err != nil {
			return 0, err
		}
	}
	got := min(n, q.maxMsg-q.cur-q.reserved)
	q.reserved += got
	q.mu.Unlock()
	return got, nil
}

// SendReserved queues a copy of msg with priority prio in a slot that
// Reserve reserved through this descriptor's queue. It never blocks. A prio
// of MQPrioMax or more is EINVAL, a message longer than MsgSize EMSGSIZE, a
// closed descriptor EBADF, and no reserved slot left EAGAIN; in each case
// nothing is queued and no reservation is used.
func (d *MQDesc) SendReserved(msg []byte, prio uint) error {
	if prio >= MQPrioMax {
		return EINVAL
	}
	if d.closed.Load() || !d.f.acc.writable() {
		return EBADF
	}
	q := d.f.q
	if int64(len(msg)) > q.msgSize {
		return EMSGSIZE
	}
	q.mu.Lock()
	if q.reserved < 1 {
		q.mu.Unlock()
		return EAGAIN
	}
	q.reserved--
	q.enqueue(msg, prio)
	return nil
}

// Unreserve gives back n slots that Reserve reserved and no message filled,
// waking blocked senders. It gives back at most what is reserved.
func (d *MQDesc) Unreserve(n int64) {
	if n < 1 {
		return
	}
	q := d.f.q
	q.mu.Lock()
	q.reserved -= min(n, q.reserved)
	if q.sendWait.len() > 0 {
		q.sendWait.wake()
	}
	q.mu.Unlock()
}

// MaxMsg returns the queue's maxmsg attribute.
func (d *MQDesc) MaxMsg() int64 { return d.f.q.maxMsg }

// MsgSize returns the queue's msgsize attribute.
func (d *MQDesc) MsgSize() int64 { return d.f.q.msgSize }
