package ipcnet

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// The holding side of IPC streams (ipcstream.go describes the protocol).

// ipcServer tracks the streams this node serves, so that stopping the
// agent ends them.
type ipcServer struct {
	mu     sync.Mutex
	peers  map[*ipcPeer]struct{} // guarded by mu
	closed bool                  // guarded by mu
	wg     sync.WaitGroup        // one per stream being served
}

// close ends every stream and waits for them.
func (is *ipcServer) close() {
	is.mu.Lock()
	is.closed = true
	for p := range is.peers {
		p.conn.Close()
	}
	is.mu.Unlock()
	is.wg.Wait()
}

// ServeStream upgrades the connection to an IPC stream and serves it
// until the client or the agent ends it.
func (s *Net) ServeStream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != ipcUpgrade {
		s.fail(w, r, httpapi.BadRequest("this route needs Upgrade: %s", ipcUpgrade))
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.fail(w, r, fmt.Errorf("ipc stream: %w", err))
		return
	}
	is := &s.srv
	p := &ipcPeer{s: s, conn: conn, inflight: make(map[uint32]*srvWaiter), done: make(chan struct{})}
	is.mu.Lock()
	if is.closed {
		is.mu.Unlock()
		conn.Close()
		return
	}
	if is.peers == nil {
		is.peers = make(map[*ipcPeer]struct{})
	}
	is.peers[p] = struct{}{}
	is.wg.Add(1)
	is.mu.Unlock()
	defer func() {
		is.mu.Lock()
		delete(is.peers, p)
		is.mu.Unlock()
		is.wg.Done()
	}()
	conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+ipcUpgrade+"\r\n\r\n"); err != nil {
		conn.Close()
		return
	}
	p.fw = newFrameWriter(conn)
	p.serve(brw.Reader)
}

// ipcPeer serves one IPC stream: one open object.
type ipcPeer struct {
	s    *Net
	conn net.Conn
	fw   *frameWriter

	mu       sync.Mutex
	inflight map[uint32]*srvWaiter // guarded by mu: blocking requests, by id
	q        *ipc.MQDesc           // guarded by mu: the open queue
	rd       *ipc.PipeReader       // guarded by mu: the open FIFO's read end
	wr       *ipc.PipeWriter       // guarded by mu: the open FIFO's write end
	ex       *node.ExportedFile    // guarded by mu: the inherited open file
	done     chan struct{}         // closed when the stream ends
	granted  atomic.Int64          // slots reserved for the stream and not yet filled
	reqs     sync.WaitGroup        // one per request goroutine
}

func (p *ipcPeer) serve(br *bufio.Reader) {
	defer p.release()
	var buf []byte
	for {
		typ, id, body, err := readFrame(br, buf)
		if err != nil {
			return
		}
		if cap(body) > cap(buf) {
			buf = body[:0]
		}
		switch typ {
		case frSend:
			if !p.sendReserved(body) {
				return
			}
		case frCancel:
			p.mu.Lock()
			if sw := p.inflight[id]; sw != nil {
				sw.cancel()
			}
			p.mu.Unlock()
		case frOpen, frCredit, frRecv, frRead, frWrite, frAttr:
			req := append([]byte(nil), body...)
			sw := newSrvWaiter()
			p.mu.Lock()
			p.inflight[id] = sw
			p.mu.Unlock()
			p.reqs.Add(1)
			go func() {
				defer p.reqs.Done()
				parts := p.handle(sw, typ, req)
				p.mu.Lock()
				delete(p.inflight, id)
				p.mu.Unlock()
				p.fw.frame(frReply, id, parts...)
			}()
		default:
			return
		}
	}
}

// sendReserved queues a message in a slot granted earlier. A send without
// a credit breaks the protocol and ends the stream.
func (p *ipcPeer) sendReserved(body []byte) bool {
	p.mu.Lock()
	q := p.q
	p.mu.Unlock()
	if q == nil || len(body) < 1 || p.granted.Load() < 1 {
		return false
	}
	if err := q.SendReserved(body[1:], uint(body[0])); err != nil {
		return false
	}
	p.granted.Add(-1)
	return true
}

// release cancels what is in flight, waits for it, gives back unused
// credits and closes the object.
func (p *ipcPeer) release() {
	p.conn.Close()
	close(p.done)
	p.mu.Lock()
	for _, sw := range p.inflight {
		sw.cancel()
	}
	p.mu.Unlock()
	p.reqs.Wait()
	p.fw.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.q != nil {
		p.q.Unreserve(p.granted.Swap(0))
		p.q.Close()
	}
	if p.rd != nil {
		p.rd.Close()
	}
	if p.wr != nil {
		p.wr.Close()
	}
	if p.ex != nil {
		p.ex.Close()
	}
}

func u64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func decodeDeadline(b []byte) time.Time {
	ns := int64(binary.BigEndian.Uint64(b))
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// handle runs one request and returns its reply's parts.
func (p *ipcPeer) handle(sw *srvWaiter, typ byte, body []byte) [][]byte {
	bad := [][]byte{errnoBytes(ipc.EINVAL)}
	p.mu.Lock()
	q, rd, wr, ex := p.q, p.rd, p.wr, p.ex
	p.mu.Unlock()
	if ex != nil && (typ == frRead || typ == frWrite) {
		return p.handleInherited(sw, ex, typ, body)
	}
	switch typ {
	case frOpen:
		return p.open(sw, body)
	case frCredit:
		if q == nil || len(body) < 17 {
			return bad
		}
		n, err := q.Reserve(sw, int64(binary.BigEndian.Uint64(body[9:])), body[0] != 0, decodeDeadline(body[1:]))
		p.granted.Add(n)
		return [][]byte{errnoBytes(err), u64(n)}
	case frRecv:
		if q == nil || len(body) < 9 {
			return bad
		}
		deadline := decodeDeadline(body[1:])
		nonblock := body[0] != 0
		if nonblock {
			deadline = time.Now() // an empty queue answers at once
		}
		buf := make([]byte, q.MsgSize())
		n, prio, err := q.Receive(sw, buf, deadline)
		if nonblock && errors.Is(err, ipc.ETIMEDOUT) {
			err = ipc.EAGAIN
		}
		if err != nil {
			return [][]byte{errnoBytes(err)}
		}
		return [][]byte{errnoBytes(nil), {byte(prio)}, buf[:n]}
	case frRead:
		if rd == nil || len(body) < 5 {
			return bad
		}
		buf := make([]byte, min(int(binary.BigEndian.Uint32(body[1:])), 64<<10))
		n, err := rd.Read(sw, buf, body[0] != 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return [][]byte{errnoBytes(err)}
		}
		return [][]byte{errnoBytes(nil), buf[:n]}
	case frWrite:
		if wr == nil || len(body) < 1 {
			return bad
		}
		n, err := wr.Write(sw, body[1:], body[0] != 0)
		return [][]byte{errnoBytes(err), binary.BigEndian.AppendUint32(nil, uint32(n))}
	case frAttr:
		if q == nil {
			return bad
		}
		a := q.GetAttr()
		return [][]byte{errnoBytes(nil), u64(a.MaxMsg), u64(a.MsgSize), u64(a.CurMsgs)}
	}
	return bad
}

// open opens the object the stream is for.
func (p *ipcPeer) open(sw *srvWaiter, body []byte) [][]byte {
	var req openRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return [][]byte{errnoBytes(ipc.EINVAL)}
	}
	// The name is a path: the peer's ".." cannot reach past "/" here.
	req.Name = ipc.CleanName(req.Name)
	p.mu.Lock()
	opened := p.q != nil || p.rd != nil || p.wr != nil || p.ex != nil
	p.mu.Unlock()
	if opened {
		return [][]byte{errnoBytes(ipc.EBUSY)}
	}
	k := p.s.kernel
	switch req.Kind {
	case kindInherited:
		return p.openInherited(req.Export)
	case node.NameMQ:
		q, err := k.LocalQueue(req.Name, req.Flags&^ipc.O_NONBLOCK, req.Owner)
		if err != nil {
			return [][]byte{errnoBytes(err)}
		}
		p.mu.Lock()
		p.q = q
		p.mu.Unlock()
		return [][]byte{errnoBytes(nil), u64(int64(q.ID())), u64(q.MaxMsg()), u64(q.MsgSize())}
	case node.NameFIFO:
		f, err := k.LocalFIFO(req.Name)
		if err != nil {
			return [][]byte{errnoBytes(ipc.ENOENT)}
		}
		nonblock := req.Flags&ipc.O_NONBLOCK != 0
		switch req.Flags & ipc.O_ACCMODE {
		case ipc.O_RDONLY:
			r, err := f.OpenRead(sw, nonblock)
			if err != nil {
				return [][]byte{errnoBytes(err)}
			}
			p.mu.Lock()
			p.rd = r
			p.mu.Unlock()
		case ipc.O_WRONLY:
			w, err := f.OpenWrite(sw, nonblock)
			if err != nil {
				return [][]byte{errnoBytes(err)}
			}
			p.mu.Lock()
			p.wr = w
			p.mu.Unlock()
		default:
			return [][]byte{errnoBytes(ipc.EINVAL)}
		}
		return [][]byte{errnoBytes(nil), u64(int64(f.ID())), u64(0), u64(0)}
	}
	return [][]byte{errnoBytes(ipc.EINVAL)}
}

// srvWaiter is the ipc.Waiter of one request on the holding side: cancel
// (the client's cancel frame, or the stream's end) makes its waits return
// EINTR.
type srvWaiter struct {
	ipc.Waiter
	canceled chan struct{}
	once     sync.Once
}

func newSrvWaiter() *srvWaiter {
	c := make(chan struct{})
	return &srvWaiter{Waiter: ipc.NewCancelableWaiter(c, ipc.EINTR), canceled: c}
}

func (w *srvWaiter) cancel() { w.once.Do(func() { close(w.canceled) }) }
