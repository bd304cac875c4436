package node

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/vproc/vproc/ipc"
)

// Descriptors inherited across nodes.
//
// A child spawned on another node (SpawnAttr.Node) inherits its parent's
// descriptors as a local child would. The parent's kernel exports each open
// file the child gets: the export holds a reference on the File, so that
// the object stays open for the child, and has an ID that the spawn carries
// (PIDRequest.Files) to the child's node. There Spec.Inherited gives the
// new process one InheritedFile per export, each a stream to this node that
// claims the export (ClaimExport) and reads and writes the very File the
// parent holds: a pipe end, a FIFO end, a file of the namespace with its
// shared offset, the host's output. EOF comes when the last writer
// anywhere closes, EPIPE when the last reader anywhere does, and a write
// of at most ipc.PipeBuf bytes to a pipe is one write on this node, so
// atomic.
//
// An export that no stream claims is released when the child ends
// (ReportRemote) or its PID is given back; a claimed one lives until its
// stream ends, or until RevokeExports cuts the streams of a child whose
// node is lost.

// ExportedFD is one descriptor of a child that runs on another node, as a
// PIDRequest carries it: the child's descriptor Fd is the open file this
// kernel exported under Export. Descriptors dup'ed from one open file share
// one export.
type ExportedFD struct {
	Fd     int
	Export uint64
	// Flags are the open file's access mode and status flags (O_NONBLOCK,
	// O_APPEND) at the spawn.
	Flags int
}

// InheritedFile is the child's end of an exported open file, on the
// child's node: a stream to the node that holds the file.
type InheritedFile interface {
	Read(w ipc.Waiter, b []byte, nonblock bool) (int, error)
	Write(w ipc.Waiter, b []byte, nonblock bool) (int, error)
	Close() error
}

// InheritedQueue is an optional ability of an InheritedFile, found by a
// type assertion: the exported open file is a message-queue descriptor,
// which the child uses through mq_send and mq_receive.
type InheritedQueue interface {
	Queue() RemoteQueue
}

// InheritedFD is one descriptor a process started with Spawn inherits from
// a parent on another node (Spec.Inherited). Several descriptors may share
// one File: they share one open file description.
type InheritedFD struct {
	Fd    int
	File  InheritedFile
	Flags int // access mode and status flags
}

// ErrNoExport is returned by ClaimExport for an export that does not exist
// here, or was claimed or released already.
var ErrNoExport = errors.New("no such exported file")

// exportTable holds the open files this kernel exported to children on
// other nodes.
type exportTable struct {
	mu    sync.Mutex
	next  uint64             // guarded by mu: the last ID handed out
	m     map[uint64]*export // guarded by mu: by ID, until released
	byPID map[int][]uint64   // guarded by mu: the exports of each remote child
}

type export struct {
	f       *File         // holds a reference until released
	pid     int           // the child; 0 until its PID is known
	claimed *ExportedFile // the stream's handle, once claimed
}

// add exports files (the child's descriptors, nil for none) and returns
// what a PIDRequest carries. Each distinct File is exported once.
func (t *exportTable) add(files []*File) []ExportedFD {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[uint64]*export)
		t.byPID = make(map[int][]uint64)
	}
	ids := make(map[*File]uint64)
	var out []ExportedFD
	for fd, f := range files {
		if f == nil {
			continue
		}
		id, ok := ids[f]
		if !ok {
			t.next++
			id = t.next
			ids[f] = id
			t.m[id] = &export{f: f.ref()}
		}
		out = append(out, ExportedFD{Fd: fd, Export: id, Flags: f.Flags()})
	}
	return out
}

// bind records that the exports in fds belong to the child pid.
func (t *exportTable) bind(fds []ExportedFD, pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range fds {
		if x := t.m[e.Export]; x != nil && x.pid == 0 {
			x.pid = pid
			t.byPID[pid] = append(t.byPID[pid], e.Export)
		}
	}
}

// drop releases the exports in fds that no stream claimed.
func (t *exportTable) drop(fds []ExportedFD) {
	var rel []*File
	t.mu.Lock()
	for _, e := range fds {
		if x := t.m[e.Export]; x != nil && x.claimed == nil {
			delete(t.m, e.Export)
			rel = append(rel, x.f)
		}
	}
	t.mu.Unlock()
	for _, f := range rel {
		f.release()
	}
}

// dropPID releases pid's unclaimed exports and, with revoke, ends the
// streams that claimed the others.
func (t *exportTable) dropPID(pid int, revoke bool) {
	var rel []*File
	var cut []*ExportedFile
	t.mu.Lock()
	var keep []uint64
	for _, id := range t.byPID[pid] {
		x := t.m[id]
		switch {
		case x == nil:
		case x.claimed == nil:
			delete(t.m, id)
			rel = append(rel, x.f)
		case revoke:
			cut = append(cut, x.claimed)
		default:
			keep = append(keep, id)
		}
	}
	if len(keep) > 0 {
		t.byPID[pid] = keep
	} else {
		delete(t.byPID, pid)
	}
	t.mu.Unlock()
	for _, f := range rel {
		f.release()
	}
	for _, e := range cut {
		e.revoke()
	}
}

// forget removes a claimed export whose stream ended.
func (t *exportTable) forget(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.m[id]
	if x == nil {
		return
	}
	delete(t.m, id)
	if x.pid != 0 {
		ids := t.byPID[x.pid]
		for i, v := range ids {
			if v == id {
				ids = append(ids[:i], ids[i+1:]...)
				break
			}
		}
		if len(ids) == 0 {
			delete(t.byPID, x.pid)
		} else {
			t.byPID[x.pid] = ids
		}
	}
}

// ClaimExport hands the open file exported under id to the stream that a
// child on another node opened for it. The handle holds the export's
// reference until Close. ErrNoExport when there is no such export, or
// another stream claimed it.
func (k *ProcessManager) ClaimExport(id uint64) (*ExportedFile, error) {
	t := &k.exports
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.m[id]
	if x == nil || x.claimed != nil {
		return nil, fmt.Errorf("%w: %d", ErrNoExport, id)
	}
	x.claimed = &ExportedFile{k: k, id: id, f: x.f, revoked: make(chan struct{})}
	return x.claimed, nil
}

// RevokeExports ends every stream through which the child pid, which ran
// on another node, used its parent's files, and releases what it had not
// claimed: the cluster calls it when the child's node is lost, so that
// the other ends see EOF or EPIPE rather than wait for a dead node.
func (k *ProcessManager) RevokeExports(pid int) { k.exports.dropPID(pid, true) }

// ExportedFile is the holding side of an inherited descriptor: the
// parent's open file, read and written on behalf of a child on another
// node. Blocking calls wait through the ipc.Waiter they are given.
type ExportedFile struct {
	k       *ProcessManager // immutable
	id      uint64          // immutable
	f       *File           // immutable; one reference, released by Close
	revoked chan struct{}   // closed by revoke
	once    sync.Once
	closed  sync.Once
}

// Flags returns the open file's access mode and status flags.
func (e *ExportedFile) Flags() int { return e.f.Flags() }

// Revoked is closed when the child's node is lost (RevokeExports): the
// stream should end.
func (e *ExportedFile) Revoked() <-chan struct{} { return e.revoked }

func (e *ExportedFile) revoke() { e.once.Do(func() { close(e.revoked) }) }

// Queue returns, when the open file is a descriptor of a message queue
// this kernel holds, a new handle on that same open description (its
// O_NONBLOCK flag shared, as across fork), for the stream to serve; the
// caller closes it.
func (e *ExportedFile) Queue() (*ipc.MQDesc, bool) {
	o, ok := e.f.ops.(mqOps)
	if !ok {
		return nil, false
	}
	l, ok := o.d.(localMQ)
	if !ok {
		return nil, false
	}
	return l.MQDesc.Dup(), true
}

// Read reads from the open file for the remote child: EOF at end of file
// or once every writer of a pipe has closed.
func (e *ExportedFile) Read(w ipc.Waiter, b []byte, nonblock bool) (int, error) {
	if !e.f.readable() {
		return 0, ipc.EBADF
	}
	switch o := e.f.ops.(type) {
	case pipeReadOps:
		return o.r.Read(w, b, nonblock)
	case remotePipeOps:
		return o.r.Read(w, b, nonblock)
	case inheritedOps:
		return o.r.Read(w, b, nonblock)
	case hostReaderOps:
		if o.r == nil {
			return 0, io.EOF
		}
		n, err := o.r.Read(b)
		if n > 0 && errors.Is(err, io.EOF) {
			err = nil
		}
		return n, err
	case vfsOps, devOps:
		return e.f.ops.read(nil, b, nonblock)
	}
	return 0, ipc.EBADF
}

// Write writes to the open file for the remote child: EPIPE once every
// reader of a pipe has closed (the child's kernel raises SIGPIPE).
func (e *ExportedFile) Write(w ipc.Waiter, b []byte, nonblock bool) (int, error) {
	if !e.f.writable() {
		return 0, ipc.EBADF
	}
	switch o := e.f.ops.(type) {
	case pipeWriteOps:
		return o.w.Write(w, b, nonblock)
	case remotePipeOps:
		return o.r.Write(w, b, nonblock)
	case inheritedOps:
		return o.r.Write(w, b, nonblock)
	case vfsOps, devOps, hostWriterOps:
		return e.f.ops.write(nil, b, nonblock)
	}
	return 0, ipc.EBADF
}

// Close ends the child's use of the open file: the export's reference is
// released, and the last one closes it.
func (e *ExportedFile) Close() error {
	var err error
	e.closed.Do(func() {
		e.k.exports.forget(e.id)
		err = e.f.release()
	})
	return err
}

// inheritedOps is the fileOps of a descriptor inherited from a parent on
// another node. A broken stream (the holding node died) reads EOF and
// writes EPIPE, as the end of a local process would.
type inheritedOps struct{ r InheritedFile }

func (o inheritedOps) read(p *Process, b []byte, nb bool) (int, error) {
	n, err := o.r.Read(p.waiter(), b, nb)
	if errors.Is(err, ipc.ENOLINK) {
		return n, io.EOF
	}
	return n, err
}

func (o inheritedOps) write(p *Process, b []byte, nb bool) (int, error) {
	n, err := o.r.Write(p.waiter(), b, nb)
	if errors.Is(err, ipc.ENOLINK) {
		return n, ipc.EPIPE
	}
	return n, err
}

func (o inheritedOps) close() error            { return o.r.Close() }
func (o inheritedOps) object() (uint64, int64) { return 0, 0 } // the object is on its node

// inheritedFiles makes the Files of Spec.Inherited, one per distinct
// InheritedFile, placed over files (the standard descriptors). Each File
// takes over its InheritedFile, which it closes when its last descriptor
// is closed.
func inheritedFiles(files []*File, in []InheritedFD) ([]*File, error) {
	made := make(map[InheritedFile]*File)
	for _, d := range in {
		if d.Fd < 0 || d.Fd >= 1<<16 || d.File == nil {
			for _, f := range made {
				f.release()
			}
			return files, fmt.Errorf("%w: inherited descriptor %d", ipc.EINVAL, d.Fd)
		}
		if made[d.File] != nil {
			continue
		}
		if iq, ok := d.File.(InheritedQueue); ok {
			rq := remoteMQ{r: iq.Queue(), nonblock: new(atomic.Bool)}
			rq.nonblock.Store(d.Flags&O_NONBLOCK != 0)
			made[d.File] = newFile(fmt.Sprintf("inherited-mq:[%d]", d.Fd), d.Flags&^O_CLOEXEC, mqOps{rq})
			continue
		}
		made[d.File] = newFile(fmt.Sprintf("inherited:[%d]", d.Fd), d.Flags&^O_CLOEXEC, inheritedOps{d.File})
	}
	for _, d := range in {
		for d.Fd >= len(files) {
			files = append(files, nil)
		}
		if old := files[d.Fd]; old != nil {
			old.release()
		}
		files[d.Fd] = made[d.File].ref()
	}
	for _, f := range made {
		f.release() // the descriptors hold their own references
	}
	return files, nil
}
