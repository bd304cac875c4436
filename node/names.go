package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/ipc"
)

// Cluster-wide IPC names.
//
// On its own a kernel keeps every FIFO, message-queue and shared-memory name
// to itself. With Config.Names set, it shares them: creating a name
// registers it with Names first (EEXIST when any node holds it, Guarantee 7),
// unlinking removes it there, and opening a FIFO or a queue that another
// node holds returns a descriptor backed by Names' stream to that node. A
// remote descriptor keeps the semantics of a local one: blocking, O_NONBLOCK
// (EAGAIN), deadlines (ETIMEDOUT), EINTR for a handled signal and death for a
// fatal one while blocked, priority order, FIFO opens that wait for the other
// end, EOF and EPIPE. A name whose node is lost is ENOLINK, and so is an
// operation on a descriptor whose node's stream broke. A shared-memory
// segment never leaves its node: opening one held elsewhere is EXDEV.

// NameKind is the kind of a cluster-wide IPC name.
type NameKind string

// The kinds of names.
const (
	NameFIFO NameKind = "fifo"
	NameMQ   NameKind = "mq"
	NameSHM  NameKind = "shm"
)

// NameInfo describes an object whose name is being registered.
type NameInfo struct {
	Owner   string
	Mode    uint32
	MaxMsg  int64 // queues
	MsgSize int64 // queues
}

// Names is the cluster's registry of IPC names and its way to the objects
// other nodes hold (Config.Names). Its methods may block; the kernel calls
// Register, Unregister and OpenQueue with the caller's CPU slot given up,
// and OpenFIFO and the descriptors' blocking methods wait through the
// ipc.Waiter they are given, following its protocol.
type Names interface {
	// Register records that this node holds the object called name. EEXIST
	// if any node holds one under that name; EINVAL for a bad name. A
	// retry of a client's create whose earlier attempt registered the name
	// to this node answers that attempt's success instead.
	//
	// ctx is the context of the kernel call the change is made for: the
	// context given to MqCreate, MqUnlink, ShmUnlink, Mkfifo or
	// RemoveFIFO, and context.Background() for a process's own calls and
	// for a change that undoes one a failed call made. The kernel passes
	// it on and reads nothing in it; Names may (the request a client
	// makes the change in).
	Register(ctx context.Context, kind NameKind, name string, info NameInfo) error
	// Unregister removes name. local says this kernel held the object and
	// has already removed its own name; otherwise Names asks the node that
	// holds it to unlink it. ENOENT if no node holds it. ctx is as for
	// Register.
	Unregister(ctx context.Context, kind NameKind, name string, local bool) error
	// Lookup returns the node that holds name, or "" when it is this one.
	// ENOENT if none does; ENOLINK if the node that held it is lost.
	Lookup(kind NameKind, name string) (node string, err error)
	// OpenQueue opens the queue called name on node with flags' access mode
	// and O_NONBLOCK, checking owner against its mode (EACCES).
	OpenQueue(node, name string, flags ipc.OpenFlag, owner string) (RemoteQueue, error)
	// OpenFIFO opens the FIFO at path on node for writing, or for reading,
	// as fifo(7) says: it waits through w for the other end unless
	// nonblock, and a non-blocking writer without a reader is ENXIO.
	OpenFIFO(w ipc.Waiter, node, path string, write, nonblock bool, owner string) (RemotePipe, error)
}

// RemoteQueue is an open descriptor of a message queue that another node
// holds. Send and Receive follow ipc.MQDesc's, with the descriptor's
// O_NONBLOCK flag passed in.
type RemoteQueue interface {
	Send(w ipc.Waiter, msg []byte, prio uint, nonblock bool, deadline time.Time) error
	Receive(w ipc.Waiter, buf []byte, nonblock bool, deadline time.Time) (n int, prio uint, err error)
	// Attr returns MaxMsg, MsgSize and CurMsgs as the holding node sees them.
	Attr() (ipc.MQAttr, error)
	// Limits returns MaxMsg and MsgSize without asking the holding node.
	Limits() (maxMsg, msgSize int64)
	ID() uint64
	Close() error
}

// RemotePipe is one end of a FIFO that another node holds. Read and Write
// follow ipc.PipeReader's and ipc.PipeWriter's: EOF once every writer has
// closed, EPIPE once every reader has (the kernel adds SIGPIPE).
type RemotePipe interface {
	Read(w ipc.Waiter, b []byte, nonblock bool) (int, error)
	Write(w ipc.Waiter, b []byte, nonblock bool) (int, error)
	ID() uint64
	Close() error
}

// maxNameRaces bounds how often a create retries after losing a race for a
// name to a creator on this node.
const maxNameRaces = 8

// mqHandle is what a queue descriptor does: a local ipc.MQDesc or a
// remote queue.
type mqHandle interface {
	Send(w ipc.Waiter, msg []byte, prio uint, deadline time.Time) error
	Receive(w ipc.Waiter, buf []byte, deadline time.Time) (int, uint, error)
	attr() (ipc.MQAttr, error)
	setNonblock(on bool) ipc.MQAttr
	// syncNonblock brings the descriptor's O_NONBLOCK flag in line with
	// its file's, cheaply.
	syncNonblock(on bool)
	Notify(owner any, fn func()) error
	Close() error
	ID() uint64
	Cost() int64
}

// localMQ is a queue this kernel holds.
type localMQ struct{ *ipc.MQDesc }

func (l localMQ) attr() (ipc.MQAttr, error) { return l.GetAttr(), nil }
func (l localMQ) syncNonblock(on bool) {
	if (l.GetAttr().Flags&ipc.O_NONBLOCK != 0) != on {
		l.setNonblock(on)
	}
}

func (l localMQ) setNonblock(on bool) ipc.MQAttr {
	if on {
		return l.SetAttr(ipc.O_NONBLOCK)
	}
	return l.SetAttr(0)
}

// remoteMQ is a queue another node holds.
type remoteMQ struct {
	r        RemoteQueue
	nonblock *atomic.Bool // O_NONBLOCK, shared by the handles of one open description
}

func (q remoteMQ) Send(w ipc.Waiter, msg []byte, prio uint, deadline time.Time) error {
	return q.r.Send(w, msg, prio, q.nonblock.Load(), deadline)
}

func (q remoteMQ) syncNonblock(on bool) { q.nonblock.Store(on) }

func (q remoteMQ) Receive(w ipc.Waiter, buf []byte, deadline time.Time) (int, uint, error) {
	return q.r.Receive(w, buf, q.nonblock.Load(), deadline)
}

func (q remoteMQ) attr() (ipc.MQAttr, error) {
	a, err := q.r.Attr()
	if q.nonblock.Load() {
		a.Flags = ipc.O_NONBLOCK
	}
	return a, err
}

func (q remoteMQ) setNonblock(on bool) ipc.MQAttr {
	old, _ := q.attr()
	q.nonblock.Store(on)
	return old
}

// Notify is ENOTSUP: mq_notify needs the queue's own node.
func (q remoteMQ) Notify(any, func()) error { return ipc.ENOTSUP }
func (q remoteMQ) Close() error             { return q.r.Close() }
func (q remoteMQ) ID() uint64               { return q.r.ID() }
func (q remoteMQ) Cost() int64 {
	m, s := q.r.Limits()
	return m * s
}

// remotePipeOps is the fileOps of one end of a remote FIFO.
type remotePipeOps struct{ r RemotePipe }

func (o remotePipeOps) read(p *Process, b []byte, nb bool) (int, error) {
	return o.r.Read(p.waiter(), b, nb)
}
func (o remotePipeOps) write(p *Process, b []byte, nb bool) (int, error) {
	return o.r.Write(p.waiter(), b, nb)
}
func (o remotePipeOps) close() error            { return o.r.Close() }
func (o remotePipeOps) object() (uint64, int64) { return 0, 0 } // the buffer is on its node

// nameCall is how one kernel call reaches Names: ctx goes with the
// changes it makes (Names.Register), and run runs a Names call that may
// block.
type nameCall struct {
	ctx context.Context
	run func(fn func())
}

// direct is the nameCall of a call outside any process, for no request
// in particular.
var direct = nameCall{ctx: context.Background(), run: func(fn func()) { fn() }}

// outside is the nameCall of a call outside any process, made for ctx.
func outside(ctx context.Context) nameCall { return nameCall{ctx: ctx, run: direct.run} }

// nameLocks serializes, per name, the calls that change a shared name both
// here and in Config.Names: a create registers the name, then makes the
// object here; an unlink removes the object here, then the name. Without
// it an unlink could come between the two steps of a create, find the name
// registered to this node but no object yet, and answer ENOENT, or free
// the name while the object is still being made (Guarantee 7).
type nameLocks struct {
	mu sync.Mutex
	m  map[string]*nameLock // guarded by mu
}

type nameLock struct {
	sync.Mutex
	refs int // guarded by nameLocks.mu
}

// lock locks the name key of kind, through call, so that a process waiting
// for it holds no CPU slot, and returns the unlock. A process killed while
// it waits lets the lock go as it dies.
func (l *nameLocks) lock(call nameCall, kind NameKind, name string) func() {
	key := string(kind) + ":" + name
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*nameLock)
	}
	nl := l.m[key]
	if nl == nil {
		nl = &nameLock{}
		l.m[key] = nl
	}
	nl.refs++
	l.mu.Unlock()
	unlock := func() {
		nl.Unlock()
		l.mu.Lock()
		if nl.refs--; nl.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	locked := false
	defer func() {
		if !locked { // the process was killed waiting, and dies now
			unlock()
		}
	}()
	call.run(nl.Lock)
	locked = true
	return unlock
}

// openQueue opens, and with O_CREAT creates, the queue called name, as
// ipc.MQNamespace.Open does, sharing the name through Config.Names when
// set. created reports that this call created the queue.
func (k *ProcessManager) openQueue(call nameCall, name string, flags ipc.OpenFlag, mode uint32, owner string, attr *ipc.MQAttr) (mqHandle, bool, error) {
	name = ipc.CleanName(name)
	return openShared(k, call, name, flags, sharedOps[mqHandle]{
		kind: NameMQ,
		open: func(f ipc.OpenFlag) (mqHandle, error) {
			d, err := k.mqs.Open(name, f, mode, owner, attr)
			if err != nil {
				return nil, err
			}
			return localMQ{d}, nil
		},
		elsewhere: func(node string) (mqHandle, error) {
			var r RemoteQueue
			var err error
			call.run(func() { r, err = k.cfg.Names.OpenQueue(node, name, flags&(ipc.O_ACCMODE|ipc.O_NONBLOCK), owner) })
			if err != nil {
				return nil, err
			}
			rq := remoteMQ{r: r, nonblock: new(atomic.Bool)}
			rq.nonblock.Store(flags&ipc.O_NONBLOCK != 0)
			return rq, nil
		},
		info: func() (NameInfo, error) {
			if attr != nil && (attr.MaxMsg < 1 || attr.MaxMsg > ipc.MaxMsgLimit || attr.MsgSize < 1 || attr.MsgSize > ipc.MsgSizeLimit) {
				return NameInfo{}, ipc.EINVAL
			}
			info := NameInfo{Owner: owner, Mode: mode & 0o777, MaxMsg: ipc.DefaultMaxMsg, MsgSize: ipc.DefaultMsgSize}
			if attr != nil {
				info.MaxMsg, info.MsgSize = attr.MaxMsg, attr.MsgSize
			}
			return info, nil
		},
	})
}

// sharedOps is how openShared reaches one kind of named object.
type sharedOps[T any] struct {
	kind NameKind
	// open opens the object here with flags, as ipc's namespaces do; with
	// O_CREAT|O_EXCL it creates it.
	open func(flags ipc.OpenFlag) (T, error)
	// elsewhere opens the object that another node holds.
	elsewhere func(node string) (T, error)
	// info checks the attributes of an object about to be created, and
	// describes it for Names.Register.
	info func() (NameInfo, error)
}

// openShared opens, and with O_CREAT creates, the object of ops.kind
// called name, sharing the name through Config.Names when set; created
// reports that this call created it. With Names it holds the name's lock
// and, up to maxNameRaces times:
//
//  1. opens the object here if Names gives the name to this node (an
//     orphan is dropped and taken as absent);
//  2. else asks Names who holds it: another node's object is opened there
//     (ops.elsewhere), a name registered to this node without its object
//     is ENOLINK, and without O_CREAT a missing name is ENOENT;
//  3. else claims it: registers the name (EEXIST: another node was
//     quicker, start over), then creates the object here with O_EXCL
//     (EEXIST: a process here was quicker, start over); if creating fails
//     otherwise, the name is unregistered again.
//
// O_CREAT|O_EXCL fails with EEXIST wherever the name is held. After
// maxNameRaces lost races it gives up with EAGAIN.
func openShared[T interface{ Close() error }](k *ProcessManager, call nameCall, name string, flags ipc.OpenFlag, ops sharedOps[T]) (T, bool, error) {
	var zero T
	names := k.cfg.Names
	if names == nil {
		return openOrCreate(flags, ops.open)
	}
	if err := ipc.CheckName(name); err != nil {
		return zero, false, err
	}
	defer k.nameLocks.lock(call, ops.kind, name)()
	excl := flags&(ipc.O_CREAT|ipc.O_EXCL) == ipc.O_CREAT|ipc.O_EXCL
	for range maxNameRaces {
		h, err := openHeld(k, call, ops.kind, name, func() (T, error) { return ops.open(flags &^ (ipc.O_CREAT | ipc.O_EXCL)) })
		switch {
		case err == nil && excl:
			h.Close()
			return zero, false, ipc.EEXIST
		case err == nil:
			return h, false, nil
		case err != ipc.ENOENT:
			return zero, false, err
		}
		var node string
		call.run(func() { node, err = names.Lookup(ops.kind, name) })
		switch {
		case err == nil && node != "":
			if excl {
				return zero, false, ipc.EEXIST
			}
			h, err := ops.elsewhere(node)
			if err != nil {
				return zero, false, err
			}
			return h, false, nil
		case err != nil && !errors.Is(err, ipc.ENOENT):
			return zero, false, err
		case err == nil && flags&ipc.O_CREAT == 0:
			// Registered to this node, yet not here: its object is gone.
			return zero, false, ipc.ENOLINK
		case err != nil && flags&ipc.O_CREAT == 0:
			return zero, false, ipc.ENOENT
		}
		mine := err == nil
		info, err := ops.info()
		if err != nil {
			return zero, false, err
		}
		// Nobody holds it: claim it. Or it is registered to this node
		// and not here: its object is gone, unless the registration is
		// an earlier attempt of this same create whose answer was lost
		// before the object was made; Register then answers that
		// attempt's success (Names' client sessions) and the object is
		// made now.
		call.run(func() { err = names.Register(call.ctx, ops.kind, name, info) })
		switch {
		case mine && errors.Is(err, ipc.EEXIST):
			return zero, false, ipc.ENOLINK
		case errors.Is(err, ipc.EEXIST):
			continue // someone was quicker: open theirs
		case err != nil:
			return zero, false, err
		}
		h, err = ops.open(flags | ipc.O_EXCL)
		if err == ipc.EEXIST {
			continue // a process here created it meanwhile
		}
		if err != nil {
			call.run(func() { names.Unregister(context.Background(), ops.kind, name, true) })
			return zero, false, err
		}
		return h, true, nil
	}
	return zero, false, ipc.EAGAIN
}

// unlinkQueue removes the queue name here and from Config.Names.
func (k *ProcessManager) unlinkQueue(call nameCall, name string) error {
	name = ipc.CleanName(name)
	return k.unlinkShared(call, NameMQ, name, func() bool { _, ok := k.mqs.Lookup(name); return ok }, k.mqs.Unlink)
}

// ownedHere reports whether Config.Names gives name to this kernel's
// object. An object it does not (the name is gone, lost, or another
// node's) is an orphan: left behind by an unlink whose outcome was unknown,
// or by a lease that ended while the node was cut off. Callers drop it.
func (k *ProcessManager) ownedHere(call nameCall, kind NameKind, name string) (bool, error) {
	var node string
	var err error
	call.run(func() { node, err = k.cfg.Names.Lookup(kind, name) })
	switch {
	case err == nil:
		return node == "", nil
	case errors.Is(err, ipc.ENOENT), errors.Is(err, ipc.ENOLINK):
		return false, nil
	}
	return false, err
}

// openHeld opens the object of kind called name here with open, and keeps
// it only if Config.Names gives the name to this kernel: an orphan is
// closed, dropped and reported ENOENT, so that callers look for the name
// elsewhere or create it.
func openHeld[T interface{ Close() error }](k *ProcessManager, call nameCall, kind NameKind, name string, open func() (T, error)) (T, error) {
	h, err := open()
	if err != nil {
		return h, err
	}
	own, err := k.ownedHere(call, kind, name)
	if err == nil && own {
		return h, nil
	}
	_ = h.Close()
	var zero T
	if err != nil {
		return zero, err
	}
	k.dropLocal(kind, name)
	return zero, ipc.ENOENT
}

// dropLocal removes the object of kind called name here, and nothing else.
// Callers hold the name's lock.
func (k *ProcessManager) dropLocal(kind NameKind, name string) {
	switch kind {
	case NameMQ:
		_ = k.mqs.Unlink(name)
	case NameSHM:
		_ = k.shms.Unlink(name)
	case NameFIFO:
		t := &k.fifos
		t.mu.Lock()
		if err := k.fs.Remove(name); err == nil {
			delete(t.byPath, name)
		}
		t.mu.Unlock()
	}
}

// unlinkShared removes the queue or segment name of kind. With
// Config.Names it removes the name there first, while the object is still
// here, so that a failure leaves both as they were (a name without its
// object would be taken for ever); then it removes it here. A name not
// held here goes wherever it is held.
func (k *ProcessManager) unlinkShared(call nameCall, kind NameKind, name string, here func() bool, unlink func(string) error) error {
	names := k.cfg.Names
	if names == nil {
		return unlink(name)
	}
	defer k.nameLocks.lock(call, kind, name)()
	local := here()
	if local {
		own, err := k.ownedHere(call, kind, name)
		if err != nil {
			return err
		}
		if !own {
			k.dropLocal(kind, name)
			local = false
		}
	}
	var err error
	call.run(func() { err = names.Unregister(call.ctx, kind, name, local) })
	switch {
	case !local:
		return err
	case err != nil && !errors.Is(err, ipc.ENOENT):
		return err
	}
	if err := unlink(name); err != nil && err != ipc.ENOENT {
		return err
	}
	return nil
}

// unlinkSegment removes the segment name here and from Config.Names.
func (k *ProcessManager) unlinkSegment(call nameCall, name string) error {
	name = ipc.CleanName(name)
	return k.unlinkShared(call, NameSHM, name, func() bool { _, ok := k.shms.Lookup(name); return ok }, k.shms.Unlink)
}

// openSegment opens, and with O_CREAT creates, the segment called name,
// registering a name it creates with Config.Names when set. A segment held
// by another node is EXDEV: segments stay on their node.
func (k *ProcessManager) openSegment(call nameCall, name string, flags ipc.OpenFlag, mode uint32, owner string) (*ipc.Segment, bool, error) {
	name = ipc.CleanName(name)
	return openShared(k, call, name, flags, sharedOps[*ipc.Segment]{
		kind:      NameSHM,
		open:      func(f ipc.OpenFlag) (*ipc.Segment, error) { return k.shms.Open(name, f, mode, owner) },
		elsewhere: func(string) (*ipc.Segment, error) { return nil, ipc.EXDEV },
		info:      func() (NameInfo, error) { return NameInfo{Owner: owner, Mode: mode & 0o777}, nil },
	})
}
