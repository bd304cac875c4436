package node

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/vfs"
)

// The IPC names of the kernel as the agent reaches them outside any process:
// to create and remove names for a client, to send and receive for one, and
// to serve the descriptors other nodes open on objects this kernel holds.

// MqCreate creates the queue called name with O_CREAT|O_EXCL, mode's
// permission bits, owner and attr (nil: the defaults), and closes it: the
// queue stays until it is unlinked. With Config.Names it is registered
// first (EEXIST when any node holds the name), for ctx (Names.Register).
// So are the other calls here that change a name.
func (k *ProcessManager) MqCreate(ctx context.Context, name string, mode uint32, owner string, attr *ipc.MQAttr) error {
	h, _, err := k.openQueue(outside(ctx), name, ipc.O_RDONLY|ipc.O_CREAT|ipc.O_EXCL, mode, owner, attr)
	if err != nil {
		return err
	}
	return h.Close()
}

// MqUnlink removes the queue name (mq_unlink), here or, with Config.Names,
// on the node that holds it.
func (k *ProcessManager) MqUnlink(ctx context.Context, name string) error {
	return k.unlinkQueue(outside(ctx), name)
}

// ShmUnlink removes the segment name (shm_unlink), here or, with
// Config.Names, on the node that holds it.
func (k *ProcessManager) ShmUnlink(ctx context.Context, name string) error {
	return k.unlinkSegment(outside(ctx), name)
}

// The names these calls take are cleaned first with ipc.CleanName (a
// FIFO's path with vfs.Clean, which uses it): "/x/../c" and "/c" are one
// name.

// Mkfifo makes a FIFO at the absolute path abs, registered with
// Config.Names when set.
func (k *ProcessManager) Mkfifo(ctx context.Context, abs string, perm fs.FileMode, owner string) error {
	abs, err := cleanPath("mkfifo", abs)
	if err != nil {
		return err
	}
	return k.mkfifo(outside(ctx), abs, perm, owner)
}

// cleanPath cleans the absolute path abs of a FIFO with vfs.Clean, naming
// op in its error.
func cleanPath(op, abs string) (string, error) {
	clean, err := vfs.Clean(abs)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: abs, Err: errors.Unwrap(err)}
	}
	return clean, nil
}

// RemoveFIFO removes the FIFO at the absolute path abs, here or, with
// Config.Names, on the node that holds it. A path naming something other
// than a FIFO here is EINVAL.
func (k *ProcessManager) RemoveFIFO(ctx context.Context, abs string) error {
	abs, err := cleanPath("remove", abs)
	if err != nil {
		return err
	}
	if fi, err := k.fs.Stat(abs); err == nil && fi.Mode()&fs.ModeNamedPipe == 0 {
		return &fs.PathError{Op: "remove", Path: abs, Err: ipc.EINVAL}
	}
	return k.removePath(ctx, abs)
}

// LocalQueue opens the queue called name that this kernel holds, without
// creating it and without asking Config.Names: what a node serves to the
// descriptors other nodes open. flags carries the access mode and
// O_NONBLOCK; owner is checked against the queue's mode (EACCES).
func (k *ProcessManager) LocalQueue(name string, flags ipc.OpenFlag, owner string) (*ipc.MQDesc, error) {
	name = ipc.CleanName(name)
	return k.mqs.Open(name, flags&(ipc.O_ACCMODE|ipc.O_NONBLOCK), 0, owner, nil)
}

// HoldsName reports whether this kernel has the object of kind called name
// (a FIFO's absolute path): what the cluster compares with the registry
// when an agent starts again, to report the names whose objects died with
// its previous process. A create or unlink of the name in progress here
// finishes first.
func (k *ProcessManager) HoldsName(kind NameKind, name string) bool {
	name = ipc.CleanName(name)
	defer k.nameLocks.lock(direct, kind, name)()
	switch kind {
	case NameMQ:
		_, ok := k.mqs.Lookup(name)
		return ok
	case NameSHM:
		_, ok := k.shms.Lookup(name)
		return ok
	case NameFIFO:
		return k.fifoAt(name) != nil
	}
	return false
}

// NameRef names an object a kernel holds.
type NameRef struct {
	Kind NameKind
	Name string // a FIFO's absolute path
}

// HeldNames lists the queues, segments and FIFOs this kernel holds.
func (k *ProcessManager) HeldNames() []NameRef {
	var out []NameRef
	for _, q := range k.mqs.List() {
		out = append(out, NameRef{NameMQ, q.Name})
	}
	for _, s := range k.shms.List() {
		out = append(out, NameRef{NameSHM, s.Name})
	}
	k.fifos.mu.Lock()
	for path := range k.fifos.byPath {
		out = append(out, NameRef{NameFIFO, path})
	}
	k.fifos.mu.Unlock()
	return out
}

// DropName removes the object of kind called name here, without telling
// Config.Names: the cluster drops what the registry no longer gives this
// node when its lease is granted again, as it kills the processes the
// table no longer assigns to it.
func (k *ProcessManager) DropName(kind NameKind, name string) {
	name = ipc.CleanName(name)
	defer k.nameLocks.lock(direct, kind, name)()
	k.dropLocal(kind, name)
}

// LocalFIFO returns the FIFO at the absolute path abs that this kernel
// holds: what a node serves to the ends other nodes open. ENOENT if there
// is none.
func (k *ProcessManager) LocalFIFO(abs string) (*ipc.FIFO, error) {
	abs = ipc.CleanName(abs)
	f := k.fifoAt(abs)
	if f == nil {
		return nil, &fs.PathError{Op: "open", Path: abs, Err: ipc.ENOENT}
	}
	return f, nil
}

// Queue is a message queue opened outside any process. Its blocking calls
// wait on the context given to them. It is safe for concurrent use.
type Queue struct {
	h mqHandle
}

// OpenQueue opens, and with O_CREAT creates, the queue called name, here or
// on the node that holds it, as a process's MqOpen would for owner.
func (k *ProcessManager) OpenQueue(name string, flags int, mode uint32, owner string, attr *ipc.MQAttr) (*Queue, error) {
	h, _, err := k.openQueue(direct, name, ipc.OpenFlag(flags), mode, owner, attr)
	if err != nil {
		return nil, err
	}
	return &Queue{h: h}, nil
}

// Send is MqTimedSend: it blocks while the queue is full until ctx ends
// (ECANCELED) or deadline passes (ETIMEDOUT), unless nonblock (EAGAIN).
func (q *Queue) Send(ctx context.Context, msg []byte, prio uint, nonblock bool, deadline time.Time) error {
	q.h.syncNonblock(nonblock)
	return q.h.Send(newCtxWaiter(ctx), msg, prio, deadline)
}

// Receive is MqTimedReceive, with Send's blocking rules. buf must hold the
// queue's MsgSize bytes (EMSGSIZE).
func (q *Queue) Receive(ctx context.Context, buf []byte, nonblock bool, deadline time.Time) (int, uint, error) {
	q.h.syncNonblock(nonblock)
	return q.h.Receive(newCtxWaiter(ctx), buf, deadline)
}

// Attr returns the queue's attributes (mq_getattr).
func (q *Queue) Attr() (ipc.MQAttr, error) { return q.h.attr() }

// Close closes the queue.
func (q *Queue) Close() error { return q.h.Close() }

// newCtxWaiter returns an ipc.Waiter that ends its waits with ECANCELED
// once ctx is done.
func newCtxWaiter(ctx context.Context) ipc.Waiter {
	return ipc.NewCancelableWaiter(ctx.Done(), ipc.ECANCELED)
}
