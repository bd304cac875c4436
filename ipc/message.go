package ipc

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Message-queue limits, following mq_overview(7).
const (
	DefaultMaxMsg  = 10      // maxmsg of a queue created without attributes (msg_default)
	DefaultMsgSize = 8192    // msgsize of a queue created without attributes (msgsize_default)
	MaxMsgLimit    = 65536   // the largest maxmsg a queue may have (HARD_MSGMAX)
	MsgSizeLimit   = 1 << 20 // the largest msgsize a queue may have (HARD_MSGSIZEMAX)
	MQPrioMax      = 32      // MQ_PRIO_MAX: priorities run from 0 to MQPrioMax-1
)

// MQAttr is struct mq_attr. Flags holds only O_NONBLOCK; CurMsgs is the
// number of messages queued.
type MQAttr struct {
	Flags   OpenFlag
	MaxMsg  int64
	MsgSize int64
	CurMsgs int64
}

// MQInfo describes a named queue, as listing /dev/mqueue would.
type MQInfo struct {
	Name  string
	Attr  MQAttr // Flags is always 0
	Mode  uint32
	Owner string
}

// MQNamespace holds the names of message queues: mq_open and mq_unlink act
// on it. It is safe for concurrent use.
type MQNamespace struct {
	names nameTable[*mqueue, MQInfo] // has its own lock
}

// NewMQNamespace returns an empty namespace.
func NewMQNamespace() *MQNamespace { return &MQNamespace{} }

// msgRing is a FIFO of message buffers that grows by doubling and never
// shrinks, so that steady-state traffic allocates nothing. It is guarded by
// its queue's mu.
type msgRing struct {
	items [][]byte
	head  int
	n     int
}

func (r *msgRing) push(m []byte) {
	if r.n == len(r.items) {
		items := make([][]byte, max(4, 2*len(r.items)))
		for i := range r.n {
			items[i] = r.items[(r.head+i)%len(r.items)]
		}
		r.items, r.head = items, 0
	}
	r.items[(r.head+r.n)%len(r.items)] = m
	r.n++
}

func (r *msgRing) pop() []byte {
	m := r.items[r.head]
	r.items[r.head] = nil
	r.head = (r.head + 1) % len(r.items)
	r.n--
	return m
}

// mqueue is a message queue object.
type mqueue struct {
	id      uint64 // immutable
	name    string // immutable: the name it was created under
	mode    uint32 // immutable
	owner   string // immutable
	maxMsg  int64  // immutable
	msgSize int64  // immutable

	mu       sync.Mutex
	prio     [MQPrioMax]msgRing // guarded by mu: queued messages, per priority
	nonEmpty uint32             // guarded by mu: bit p set iff prio[p] holds a message
	cur      int64              // guarded by mu: messages queued
	reserved int64              // guarded by mu: free slots promised to senders elsewhere (Reserve)
	free     [][]byte           // guarded by mu: recycled message buffers
	opens    int                // guarded by mu: open descriptors
	unlinked bool               // guarded by mu: the name no longer refers to this queue
	sendWait waitList           // guarded by mu: senders waiting for room
	recvWait waitList           // guarded by mu: receivers waiting for a message

	notifyOwner any     // guarded by mu: who registered with mq_notify, or nil
	notifyFn    func()  // guarded by mu: what to call
	notifyDesc  *MQDesc // guarded by mu: the descriptor it was registered through
}

// mqFile is an open message-queue description: what Dup shares.
type mqFile struct {
	q        *mqueue     // immutable
	acc      OpenFlag    // immutable: the access mode
	nonblock atomic.Bool // O_NONBLOCK, swapped by SetAttr
}

// MQDesc is one open descriptor of a message queue (mqd_t). Handles made by
// Dup share the open description, and with it the O_NONBLOCK flag, as dup(2)
// does. An MQDesc is safe for concurrent use.
type MQDesc struct {
	f      *mqFile     // immutable
	closed atomic.Bool // set once by Close
}

// Open opens, and with O_CREAT creates, the queue called name (mq_open).
//
//   - name must start with '/' and have no other '/' (EINVAL), and be at most
//     NameMax bytes after the slash (ENAMETOOLONG).
//   - Without O_CREAT a missing queue is ENOENT; with O_CREAT|O_EXCL an
//     existing one is EEXIST.
//   - A new queue gets mode's permission bits, owner, and attr's MaxMsg and
//     MsgSize, or DefaultMaxMsg and DefaultMsgSize when attr is nil. Values
//     below 1 or above MaxMsgLimit and MsgSizeLimit are EINVAL. attr is
//     ignored when the queue exists.
//   - Opening an existing queue checks flags' access mode against its mode:
//     the owner bits when owner matches the queue's owner, the other bits
//     otherwise (EACCES). An access mode of 3 is EINVAL.
//   - O_NONBLOCK in flags sets the descriptor's initial flag.
func (ns *MQNamespace) Open(name string, flags OpenFlag, mode uint32, owner string, attr *MQAttr) (*MQDesc, error) {
	q, err := ns.names.open(name, flags, owner, func() (*mqueue, error) {
		maxMsg, msgSize := int64(DefaultMaxMsg), int64(DefaultMsgSize)
		if attr != nil {
			maxMsg, msgSize = attr.MaxMsg, attr.MsgSize
			if maxMsg < 1 || maxMsg > MaxMsgLimit || msgSize < 1 || msgSize > MsgSizeLimit {
				return nil, EINVAL
			}
		}
		return &mqueue{id: nextID(), name: name, mode: mode & 0o777, owner: owner, maxMsg: maxMsg, msgSize: msgSize}, nil
	})
	if err != nil {
		return nil, err
	}
	d := &MQDesc{f: &mqFile{q: q, acc: flags & O_ACCMODE}}
	d.f.nonblock.Store(flags&O_NONBLOCK != 0)
	return d, nil
}

// Unlink removes name (mq_unlink). The queue itself lives on, messages and
// all, until its last descriptor is closed. A missing name is ENOENT.
func (ns *MQNamespace) Unlink(name string) error { return ns.names.unlink(name) }

// Lookup returns the attributes, mode and owner of the queue called name, or
// false if there is none.
func (ns *MQNamespace) Lookup(name string) (MQInfo, bool) { return ns.names.lookup(name) }

// List describes every named queue, sorted by name.
func (ns *MQNamespace) List() []MQInfo { return ns.names.list() }

func (q *mqueue) checkOpen(owner string, flags OpenFlag) error {
	return checkAccess(q.mode, q.owner, owner, flags)
}

func (q *mqueue) opened(OpenFlag, bool) {
	q.mu.Lock()
	q.opens++
	q.mu.Unlock()
}

func (q *mqueue) unlink() {
	q.mu.Lock()
	q.unlinked = true
	q.releaseIfUnused()
	q.mu.Unlock()
}

func (q *mqueue) info() MQInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	return MQInfo{
		Name:  q.name,
		Attr:  MQAttr{MaxMsg: q.maxMsg, MsgSize: q.msgSize, CurMsgs: q.cur},
		Mode:  q.mode,
		Owner: q.owner,
	}
}

// releaseIfUnused drops the messages of a queue that no name and no
// descriptor refers to any more. q.mu is held.
func (q *mqueue) releaseIfUnused() {
	if !q.unlinked || q.opens > 0 {
		return
	}
	for i := range q.prio {
		q.prio[i] = msgRing{}
	}
	q.nonEmpty, q.cur, q.reserved, q.free = 0, 0, 0, nil
}

// Send queues a copy of msg with priority prio (mq_timedsend).
//
// A prio of MQPrioMax or more is EINVAL; a descriptor not open for writing is
// EBADF; a message longer than the queue's MsgSize is EMSGSIZE. While the
// queue is full Send blocks, or returns EAGAIN when the descriptor has
// O_NONBLOCK, or ETIMEDOUT once deadline has passed (a zero deadline means
// none). An error from w.Wait, such as EINTR, is returned unchanged.
func (d *MQDesc) Send(w Waiter, msg []byte, prio uint, deadline time.Time) error {
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
	for q.cur+q.reserved >= q.maxMsg {
		if err := q.block(w, &q.sendWait, d.f.nonblock.Load(), deadline); err != nil {
			return err
		}
	}
	q.enqueue(msg, prio)
	return nil
}

// enqueue queues a copy of msg with priority prio in a slot the caller made
// sure of, wakes a receiver or fires the notification, and releases q.mu,
// which is held on entry.
func (q *mqueue) enqueue(msg []byte, prio uint) {
	var buf []byte
	if k := len(q.free); k > 0 {
		buf = q.free[k-1]
		q.free[k-1] = nil
		q.free = q.free[:k-1]
	}
	if cap(buf) < len(msg) {
		buf = make([]byte, len(msg), max(len(msg), 64))
	}
	buf = buf[:len(msg)]
	copy(buf, msg)
	q.prio[prio].push(buf)
	q.nonEmpty |= 1 << prio
	q.cur++
	var notify func()
	if q.recvWait.len() > 0 {
		q.recvWait.wake()
	} else if q.cur == 1 && q.notifyFn != nil {
		notify = q.notifyFn
		q.notifyOwner, q.notifyFn, q.notifyDesc = nil, nil, nil
	}
	q.mu.Unlock()
	if notify != nil {
		notify()
	}
}

// Receive removes the oldest message of the highest priority queued, copies
// it into buf and returns its length and priority (mq_timedreceive).
//
// A descriptor not open for reading is EBADF; a buf shorter than the queue's
// MsgSize is EMSGSIZE, as on Linux. While the queue is empty Receive blocks,
// or returns EAGAIN when the descriptor has O_NONBLOCK, or ETIMEDOUT once
// deadline has passed (a zero deadline means none). An error from w.Wait,
// such as EINTR, is returned unchanged and nothing is consumed.
func (d *MQDesc) Receive(w Waiter, buf []byte, deadline time.Time) (n int, prio uint, err error) {
	if d.closed.Load() || !d.f.acc.readable() {
		return 0, 0, EBADF
	}
	q := d.f.q
	if int64(len(buf)) < q.msgSize {
		return 0, 0, EMSGSIZE
	}
	q.mu.Lock()
	for q.cur == 0 {
		if err := q.block(w, &q.recvWait, d.f.nonblock.Load(), deadline); err != nil {
			return 0, 0, err
		}
	}
	p := bits.Len32(q.nonEmpty) - 1
	m := q.prio[p].pop()
	if q.prio[p].n == 0 {
		q.nonEmpty &^= 1 << p
	}
	q.cur--
	n = copy(buf, m)
	q.free = append(q.free, m[:0])
	if q.sendWait.len() > 0 {
		q.sendWait.wake()
	}
	q.mu.Unlock()
	return n, uint(p), nil
}

// block waits once on l, following the Waiter protocol. q.mu is held on
// entry; on a nil return it is held again, on an error it has been released.
func (q *mqueue) block(w Waiter, l *waitList, nonblock bool, deadline time.Time) error {
	if nonblock {
		q.mu.Unlock()
		return EAGAIN
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		q.mu.Unlock()
		return ETIMEDOUT
	}
	l.add(w)
	q.mu.Unlock()
	err := w.Wait(deadline)
	q.mu.Lock()
	l.remove(w)
	if err != nil {
		q.mu.Unlock()
		return err
	}
	return nil
}

// GetAttr returns the queue's attributes, with this descriptor's O_NONBLOCK
// flag and the number of messages queued now (mq_getattr).
func (d *MQDesc) GetAttr() MQAttr { return d.attr(d.f.nonblock.Load()) }

// SetAttr sets the descriptor's O_NONBLOCK flag from flags, ignoring every
// other bit, and returns the attributes as they were before (mq_setattr).
// The flag is shared with the handles Dup made; it is swapped in one step,
// so that of two calls at once one sees the other's flag.
func (d *MQDesc) SetAttr(flags OpenFlag) MQAttr {
	return d.attr(d.f.nonblock.Swap(flags&O_NONBLOCK != 0))
}

// attr returns the queue's attributes with the given O_NONBLOCK flag.
func (d *MQDesc) attr(nonblock bool) MQAttr {
	q := d.f.q
	a := MQAttr{MaxMsg: q.maxMsg, MsgSize: q.msgSize}
	if nonblock {
		a.Flags = O_NONBLOCK
	}
	q.mu.Lock()
	a.CurMsgs = q.cur
	q.mu.Unlock()
	return a
}

// Notify registers fn to be called when a message arrives in the empty queue
// while no receiver is blocked in Receive (mq_notify). Only one registration
// exists per queue: registering while one exists is EBUSY, as on Linux even
// for the same owner. fn is called once, without locks held, from the
// sending goroutine, and the registration is removed before the call; fn
// must not block. A nil fn removes owner's registration if it has one.
// Closing the descriptor a registration was made through removes it. owner is
// compared with ==, so it must be of a comparable type; a closed descriptor
// is EBADF.
func (d *MQDesc) Notify(owner any, fn func()) error {
	if d.closed.Load() {
		return EBADF
	}
	q := d.f.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if fn == nil {
		if q.notifyFn != nil && q.notifyOwner == owner {
			q.notifyOwner, q.notifyFn, q.notifyDesc = nil, nil, nil
		}
		return nil
	}
	if q.notifyFn != nil {
		return EBUSY
	}
	q.notifyOwner, q.notifyFn, q.notifyDesc = owner, fn, d
	return nil
}

// Dup returns a new descriptor for the same open description, as dup(2) or
// fork(2) make one. Dup of a closed descriptor returns a closed descriptor.
func (d *MQDesc) Dup() *MQDesc {
	n := &MQDesc{f: d.f}
	dupHandle(&d.f.q.mu, &d.closed, &n.closed, &d.f.q.opens)
	return n
}

// Close closes the descriptor. It is idempotent. It removes a notification
// registered through this descriptor. Once the queue is unlinked and its last
// descriptor is closed, its messages are gone.
func (d *MQDesc) Close() error {
	q := d.f.q
	closeHandle(&q.mu, &d.closed, func() {
		if q.notifyDesc == d {
			q.notifyOwner, q.notifyFn, q.notifyDesc = nil, nil, nil
		}
		q.opens--
		q.releaseIfUnused()
	})
	return nil
}

// Name returns the name the queue was created under, even once unlinked.
func (d *MQDesc) Name() string { return d.f.q.name }

// ID returns a number that identifies the queue object; every descriptor of
// one queue returns the same ID.
func (d *MQDesc) ID() uint64 { return d.f.q.id }

// Cost returns the memory the queue may hold, MaxMsg × MsgSize bytes, which
// the caller counts against memory limits.
func (d *MQDesc) Cost() int64 { return d.f.q.maxMsg * d.f.q.msgSize }
