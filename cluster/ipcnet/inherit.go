package ipcnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Descriptors inherited across nodes (node/inherit.go): a child that runs
// on another node than its parent reads and writes its parent's open files
// through one IPC stream per open file, to the parent's node. The stream
// opens with kind "inherited" and the export's ID; the holder claims the
// export (node.ProcessManager.ClaimExport) and answers frRead and frWrite
// on the very open file the parent holds, so that offsets, EOF and EPIPE
// are the object's own.

// kindInherited is the openRequest kind of an inherited descriptor.
const kindInherited node.NameKind = "inherited"

// writeChunk bounds the data of one write frame, well below maxFrame. The
// first chunk of a write holds at least ipc.PipeBuf bytes, so a write of up
// to PIPE_BUF bytes is one write on the holder, and atomic.
const writeChunk = 256 << 10

// OpenInherited opens a stream to nodeName for the open file it exported
// under export, for a child that inherits it here.
func (s *Net) OpenInherited(nodeName string, export uint64) (node.InheritedFile, error) {
	c, rep, err := s.dialIPC(nil, nodeName, openRequest{Kind: kindInherited, Export: export})
	if err != nil {
		return nil, err
	}
	if rep.maxMsg > 0 {
		return &inheritedQueue{remoteQueue: newRemoteQueue(c, rep, 0)}, nil
	}
	return &inheritedFile{c: c}, nil
}

// inheritedQueue is the child's end of an inherited message-queue
// descriptor: the queue protocol of the stream, on the parent's open
// description.
type inheritedQueue struct{ *remoteQueue }

var (
	_ node.InheritedFile  = (*inheritedQueue)(nil)
	_ node.InheritedQueue = (*inheritedQueue)(nil)
)

// Queue implements node.InheritedQueue.
func (q *inheritedQueue) Queue() node.RemoteQueue { return q.remoteQueue }

// Read implements node.InheritedFile: a queue is not read(2).
func (q *inheritedQueue) Read(ipc.Waiter, []byte, bool) (int, error) { return 0, ipc.EBADF }

// Write implements node.InheritedFile: a queue is not written.
func (q *inheritedQueue) Write(ipc.Waiter, []byte, bool) (int, error) { return 0, ipc.EBADF }

// inheritedFile is the child's end of an inherited descriptor.
type inheritedFile struct {
	c *ipcConn
}

var _ node.InheritedFile = (*inheritedFile)(nil)

// Read implements node.InheritedFile: one request, which a stopped process
// withdraws (callStoppable).
func (f *inheritedFile) Read(w ipc.Waiter, b []byte, nonblock bool) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n := min(len(b), 64<<10)
	rep, err := f.c.callStoppable(w, frRead, []byte{boolByte(nonblock)}, binary.BigEndian.AppendUint32(nil, uint32(n)))
	if err != nil {
		return 0, err
	}
	if len(rep) == 0 {
		return 0, io.EOF
	}
	return copy(b, rep), nil
}

// Write implements node.InheritedFile, in chunks of at most writeChunk.
func (f *inheritedFile) Write(w ipc.Waiter, b []byte, nonblock bool) (int, error) {
	done := 0
	for {
		chunk := b[done:min(len(b), done+writeChunk)]
		rep, err := f.c.callStoppableProgress(w, wrote, frWrite, []byte{boolByte(nonblock)}, chunk)
		n := 0
		if len(rep) >= 4 {
			n = int(binary.BigEndian.Uint32(rep))
		}
		done += n
		if err != nil {
			if done > 0 && (errors.Is(err, ipc.EAGAIN) || errors.Is(err, ipc.EINTR)) {
				return done, nil // a partial write, as write(2) returns it
			}
			return done, err
		}
		if done >= len(b) || n < len(chunk) {
			return done, nil
		}
	}
}

// Close implements node.InheritedFile: the holder releases its reference.
func (f *inheritedFile) Close() error { return f.c.Close() }

// openInherited claims the exported open file the stream is for, and ends
// the stream when the export is revoked.
func (p *ipcPeer) openInherited(export uint64) [][]byte {
	ex, err := p.s.kernel.ClaimExport(export)
	if err != nil {
		return [][]byte{errnoBytes(fmt.Errorf("%w: %v", ipc.EBADF, err))}
	}
	q, isQueue := ex.Queue()
	p.mu.Lock()
	p.ex = ex
	if isQueue {
		p.q = q // closed with the stream, as a queue opened by name is
	}
	p.mu.Unlock()
	p.reqs.Add(1)
	go func() {
		defer p.reqs.Done()
		select {
		case <-ex.Revoked():
			p.conn.Close()
		case <-p.done:
		}
	}()
	if isQueue {
		return [][]byte{errnoBytes(nil), u64(int64(q.ID())), u64(q.MaxMsg()), u64(q.MsgSize())}
	}
	return [][]byte{errnoBytes(nil), u64(int64(export)), u64(0), u64(0)}
}

// handleInherited answers a read or a write on an inherited open file.
func (p *ipcPeer) handleInherited(sw *srvWaiter, ex *node.ExportedFile, typ byte, body []byte) [][]byte {
	if len(body) < 1 {
		return [][]byte{errnoBytes(ipc.EINVAL)}
	}
	nonblock := body[0] != 0
	if typ == frRead {
		if len(body) < 5 {
			return [][]byte{errnoBytes(ipc.EINVAL)}
		}
		buf := make([]byte, min(int(binary.BigEndian.Uint32(body[1:])), 64<<10))
		n, err := ex.Read(sw, buf, nonblock)
		if err != nil && !errors.Is(err, io.EOF) {
			return [][]byte{errnoBytes(err)}
		}
		return [][]byte{errnoBytes(nil), buf[:n]}
	}
	n, err := ex.Write(sw, body[1:], nonblock)
	return [][]byte{errnoBytes(err), binary.BigEndian.AppendUint32(nil, uint32(n))}
}

// callStoppable is call for a request that takes data (a receive, a read,
// a credit for a send): while the caller is stopped it must not take any.
// With a node.StopWaiter, a stop signal cancels the request; if the holder
// had already completed it, its result is returned (and the process stops
// afterwards); otherwise the process stops in place and, once continued,
// asks again.
func (c *ipcConn) callStoppable(w ipc.Waiter, typ byte, parts ...[]byte) ([]byte, error) {
	return c.callStoppableProgress(w, nil, typ, parts...)
}

// callStoppableProgress is callStoppable for a request that may end part
// done when cancelled (a write, a credit request): progress says from a
// reply whether it did anything, and then that reply is the call's.
func (c *ipcConn) callStoppableProgress(w ipc.Waiter, progress func(rep []byte) bool, typ byte, parts ...[]byte) ([]byte, error) {
	sw, ok := w.(node.StopWaiter)
	if !ok {
		return c.call(w, typ, parts...)
	}
	for {
		p := &pending{w: w, done: make(chan struct{})}
		id, err := c.start(p, typ, parts...)
		if err != nil {
			return nil, err
		}
		stopped := false
		for !stopped {
			select {
			case <-p.done:
				return finish(p)
			default:
			}
			werr := sw.WaitUnlessStopping(time.Time{})
			if werr == nil {
				continue
			}
			c.fw.frame(frCancel, id)
			<-p.done
			rep, err := finish(p)
			if !errors.Is(err, ipc.EINTR) || (progress != nil && progress(rep)) {
				return rep, err // completed meanwhile, part done, or failed
			}
			if !errors.Is(werr, node.ErrStopping) {
				return nil, werr
			}
			// Stop here, holding no request, until continued.
			sw.Wake()
			if err := sw.Wait(time.Time{}); err != nil {
				return nil, err
			}
			stopped = true
		}
	}
}

// wrote says whether a write's reply counts any bytes written.
func wrote(rep []byte) bool { return len(rep) >= 4 && binary.BigEndian.Uint32(rep) > 0 }

// granted says whether a credit reply grants any slot.
func granted(rep []byte) bool { return len(rep) >= 8 && binary.BigEndian.Uint64(rep) > 0 }
