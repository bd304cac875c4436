package ipcnet

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/internal/ctxutil"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// IPC streams: how a process on one node uses a FIFO or a message queue that
// another node holds.
//
// Each remote descriptor is one TCP connection to the holding node's HTTP
// listener, upgraded (GET /v1/internal/ipc/stream, "Upgrade: vproc-ipc")
// and then carrying frames both ways:
//
//	u32 length of what follows | u8 type | u32 request id | body
//
// The first request opens the object; the holder answers every request
// with a reply of the same id. Blocking requests (a FIFO open, a receive, a
// read, a write, a credit request) block on the holder, each in its own
// goroutine, and a cancel frame ends one early: the holder then answers
// EINTR, or the result if the call had completed, so a message or bytes
// already taken are never lost. The caller waits through its ipc.Waiter, so
// a process blocked on a remote object holds no CPU slot, a handled signal
// makes it cancel and return EINTR, and a fatal one kills it.
//
// Sends to a queue are pipelined with credits: the holder reserves free
// slots of the queue for the stream (ipc.MQDesc.Reserve) and grants them;
// a send holding a credit writes its message and returns at once, and the
// holder puts it into a reserved slot (SendReserved) in the order the
// frames arrive. A sender without credit asks for some and blocks (or gets
// EAGAIN, or ETIMEDOUT) exactly as a local sender would on a full queue.
// Receives are never prefetched: each is one request, so a remote receiver
// takes a message only when it asks for one, and local receivers keep their
// share. When the stream ends, the holder gives back the credits it granted
// and no message used.
//
// When the holding node dies the connection breaks and every call on the
// descriptor fails with ENOLINK.

const ipcUpgrade = "vproc-ipc"

// Frame types.
const (
	frOpen   byte = iota + 1 // body: JSON openRequest; reply: errno, u64 id, i64 maxmsg, i64 msgsize
	frSend                   // body: u8 prio, message; no reply (uses a credit)
	frCredit                 // body: u8 nonblock, i64 deadline, i64 want; reply: errno, i64 granted
	frRecv                   // body: u8 nonblock, i64 deadline, u32 bufsize; reply: errno, u8 prio, message
	frRead                   // body: u8 nonblock, u32 n; reply: errno, data (none: EOF)
	frWrite                  // body: u8 nonblock, data; reply: errno, u32 written
	frAttr                   // reply: errno, i64 maxmsg, i64 msgsize, i64 curmsgs
	frCancel                 // no body, no reply of its own
	frReply                  // server → client
)

// maxFrame bounds one frame: a message of ipc.MsgSizeLimit and its header.
const maxFrame = ipc.MsgSizeLimit + 64

// openRequest is the body of frOpen.
type openRequest struct {
	Kind  node.NameKind `json:"kind"`
	Name  string        `json:"name"`
	Flags ipc.OpenFlag  `json:"flags"`
	Owner string        `json:"owner"`
	// Export is the exported open file a child on another node claims
	// (Kind kindInherited).
	Export uint64 `json:"export,omitempty"`
}

// openReply is what the holder answers an open with.
type openReply struct {
	id              uint64
	maxMsg, msgSize int64
}

// appendHeader appends a frame header for a body of n bytes.
func appendHeader(b []byte, typ byte, id uint32, n int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(5+n))
	b = append(b, typ)
	return binary.BigEndian.AppendUint32(b, id)
}

// readFrame reads one frame into buf (grown as needed).
func readFrame(r *bufio.Reader, buf []byte) (typ byte, id uint32, body []byte, err error) {
	var h [9]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n < 5 || n > maxFrame {
		return 0, 0, nil, fmt.Errorf("ipc stream: frame of %d bytes", n)
	}
	size := int(n) - 5
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	body = buf[:size]
	if _, err = io.ReadFull(r, body); err != nil {
		return 0, 0, nil, err
	}
	return h[4], binary.BigEndian.Uint32(h[5:9]), body, nil
}

// frameWriter coalesces frames written by many goroutines into few writes:
// writers append under mu, and one flusher goroutine writes what gathered.
type frameWriter struct {
	mu     sync.Mutex
	buf    []byte        // guarded by mu: frames not yet written
	err    error         // guarded by mu: the first write error
	kick   chan struct{} // capacity 1: there is something to write
	closed chan struct{} // closed by close
	done   chan struct{} // closed when the flusher exits
	w      io.Writer
}

func newFrameWriter(w io.Writer) *frameWriter {
	fw := &frameWriter{w: w, kick: make(chan struct{}, 1), closed: make(chan struct{}), done: make(chan struct{})}
	go fw.loop()
	return fw
}

// frame queues one frame made of typ, id and the body's parts.
func (fw *frameWriter) frame(typ byte, id uint32, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	fw.mu.Lock()
	if fw.err != nil {
		err := fw.err
		fw.mu.Unlock()
		return err
	}
	fw.buf = appendHeader(fw.buf, typ, id, n)
	for _, p := range parts {
		fw.buf = append(fw.buf, p...)
	}
	fw.mu.Unlock()
	ctxutil.Kick(fw.kick)
	return nil
}

func (fw *frameWriter) loop() {
	defer close(fw.done)
	var out []byte
	for {
		closing := false
		select {
		case <-fw.kick:
		case <-fw.closed:
			closing = true
		}
		fw.mu.Lock()
		out, fw.buf = fw.buf, out[:0]
		fw.mu.Unlock()
		if len(out) > 0 {
			if _, err := fw.w.Write(out); err != nil {
				fw.mu.Lock()
				fw.err = err
				fw.mu.Unlock()
				return
			}
		}
		if closing {
			return
		}
	}
}

// close writes what is queued and stops the flusher.
func (fw *frameWriter) close() {
	select {
	case <-fw.closed:
	default:
		close(fw.closed)
	}
	<-fw.done
}

// errnoBytes encodes an error as the errno that starts every reply.
func errnoBytes(err error) []byte {
	var e ipc.Errno
	switch {
	case err == nil:
	case errors.As(err, &e):
	case errors.Is(err, io.EOF):
		e = 0
	default:
		e = ipc.EIO
	}
	return binary.BigEndian.AppendUint32(nil, uint32(e))
}

// replyErr decodes the errno at the start of a reply and returns the rest.
func replyErr(body []byte) ([]byte, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("%w: short reply", ipc.EIO)
	}
	if e := ipc.Errno(binary.BigEndian.Uint32(body)); e != 0 {
		return body[4:], e
	}
	return body[4:], nil
}

// dialIPC connects to the IPC stream of node and opens the object req
// names. A FIFO open may block there: w, when not nil, waits for it and may
// cancel it.
func (s *Net) dialIPC(w ipc.Waiter, nodeName string, req openRequest) (*ipcConn, openReply, error) {
	addr, ok := s.core.NodeHTTPAddr(nodeName)
	if !ok || addr == "" {
		return nil, openReply{}, fmt.Errorf("%w: node %s has no address", ipc.ENOLINK, nodeName)
	}
	base, err := httpapi.BaseURL(addr)
	if err != nil {
		return nil, openReply{}, fmt.Errorf("%w: %v", ipc.ENOLINK, err)
	}
	conn, err := s.dialNode(nodeName, base)
	if err != nil {
		return nil, openReply{}, fmt.Errorf("%w: node %s: %v", ipc.ENOLINK, nodeName, err)
	}
	fail := func(err error) (*ipcConn, openReply, error) {
		conn.Close()
		return nil, openReply{}, fmt.Errorf("%w: node %s: %v", ipc.ENOLINK, nodeName, err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	hreq := "GET /v1/internal/ipc/stream HTTP/1.1\r\nHost: " + base.Host + "\r\nConnection: Upgrade\r\nUpgrade: " + ipcUpgrade + "\r\n" + s.authLines() + "\r\n"
	if _, err := io.WriteString(conn, hreq); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fail(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fail(fmt.Errorf("upgrade answered %s", resp.Status))
	}
	conn.SetDeadline(time.Time{})
	c := newIPCConn(conn, br)
	body, _ := json.Marshal(req)
	rep, err := c.call(w, frOpen, body)
	if err != nil {
		c.Close()
		return nil, openReply{}, err
	}
	if len(rep) < 24 {
		c.Close()
		return nil, openReply{}, fmt.Errorf("%w: short open reply", ipc.EIO)
	}
	return c, openReply{
		id:      binary.BigEndian.Uint64(rep),
		maxMsg:  int64(binary.BigEndian.Uint64(rep[8:])),
		msgSize: int64(binary.BigEndian.Uint64(rep[16:])),
	}, nil
}

// ipcConn is the client end of an IPC stream: it sends requests and routes
// replies to their callers. Its reader goroutine exits when the connection
// ends, failing every pending call with ENOLINK.
type ipcConn struct {
	conn net.Conn
	fw   *frameWriter

	mu      sync.Mutex
	nextID  uint32              // guarded by mu
	pending map[uint32]*pending // guarded by mu
	dead    error               // guarded by mu: set once the reader has exited

	readerDone chan struct{}
	closeOnce  sync.Once
}

// pending is one call waiting for its reply.
type pending struct {
	w     ipc.Waiter    // woken when the reply arrives; may be nil
	done  chan struct{} // closed when reply or err is set
	reply []byte
	err   error
	async func(body []byte, err error) // if set, called with the reply instead
}

func newIPCConn(conn net.Conn, br *bufio.Reader) *ipcConn {
	c := &ipcConn{conn: conn, fw: newFrameWriter(conn), pending: make(map[uint32]*pending), readerDone: make(chan struct{})}
	go c.readLoop(br)
	return c
}

func (c *ipcConn) readLoop(br *bufio.Reader) {
	defer close(c.readerDone)
	var buf []byte
	var err error
	for {
		var typ byte
		var id uint32
		var body []byte
		typ, id, body, err = readFrame(br, buf)
		if err != nil {
			break
		}
		if cap(body) > cap(buf) {
			buf = body[:0]
		}
		if typ != frReply {
			err = fmt.Errorf("unexpected frame type %d", typ)
			break
		}
		c.mu.Lock()
		p := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if p == nil {
			continue
		}
		if p.async != nil {
			p.async(body, nil)
			continue
		}
		p.reply = append([]byte(nil), body...)
		close(p.done)
		if p.w != nil {
			p.w.Wake()
		}
	}
	dead := fmt.Errorf("%w: the stream to the object's node ended: %v", ipc.ENOLINK, err)
	c.mu.Lock()
	c.dead = dead
	ps := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range ps {
		if p.async != nil {
			p.async(nil, dead)
			continue
		}
		p.err = dead
		close(p.done)
		if p.w != nil {
			p.w.Wake()
		}
	}
}

// start registers a call and sends its request.
func (c *ipcConn) start(p *pending, typ byte, parts ...[]byte) (uint32, error) {
	c.mu.Lock()
	if c.dead != nil {
		err := c.dead
		c.mu.Unlock()
		return 0, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = p
	c.mu.Unlock()
	if err := c.fw.frame(typ, id, parts...); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return 0, fmt.Errorf("%w: %v", ipc.ENOLINK, err)
	}
	return id, nil
}

// call sends a request and waits for its reply through w, or on a channel
// when w is nil. When w's wait is interrupted it cancels the request and
// waits for the final reply: a call that completed meanwhile returns its
// result; one the holder cancelled returns w's error (EINTR, or the death of
// the process).
func (c *ipcConn) call(w ipc.Waiter, typ byte, parts ...[]byte) ([]byte, error) {
	p := &pending{w: w, done: make(chan struct{})}
	id, err := c.start(p, typ, parts...)
	if err != nil {
		return nil, err
	}
	if w == nil {
		<-p.done
		return finish(p)
	}
	for {
		select {
		case <-p.done:
			return finish(p)
		default:
		}
		if werr := w.Wait(time.Time{}); werr != nil {
			c.fw.frame(frCancel, id)
			<-p.done
			rep, err := finish(p)
			if errors.Is(err, ipc.EINTR) {
				return nil, werr
			}
			return rep, err
		}
	}
}

func finish(p *pending) ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	return replyErr(p.reply)
}

// send sends a frame that gets no reply.
func (c *ipcConn) send(typ byte, parts ...[]byte) error {
	c.mu.Lock()
	dead := c.dead
	c.mu.Unlock()
	if dead != nil {
		return dead
	}
	if err := c.fw.frame(typ, 0, parts...); err != nil {
		return fmt.Errorf("%w: %v", ipc.ENOLINK, err)
	}
	return nil
}

// Close ends the stream; the holder releases what the stream held.
func (c *ipcConn) Close() error {
	c.closeOnce.Do(func() {
		c.fw.close()
		c.conn.Close()
		<-c.readerDone
	})
	return nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func deadlineBytes(b []byte, d time.Time) []byte {
	var ns int64
	if !d.IsZero() {
		ns = d.UnixNano()
	}
	return binary.BigEndian.AppendUint64(b, uint64(ns))
}

// remoteQueue is a node.RemoteQueue over an IPC stream.
type remoteQueue struct {
	c       *ipcConn
	id      uint64 // immutable
	maxMsg  int64  // immutable
	msgSize int64  // immutable
	batch   int64  // immutable: how many credits to ask for at once

	mu      sync.Mutex
	credits int64                   // guarded by mu: slots reserved for this stream and not used
	asking  bool                    // guarded by mu: a blocking or prefetch credit request is in flight
	waiters map[ipc.Waiter]struct{} // guarded by mu: blocking senders waiting for that request
}

var _ node.RemoteQueue = (*remoteQueue)(nil)

func newRemoteQueue(c *ipcConn, rep openReply, flags ipc.OpenFlag) *remoteQueue {
	return &remoteQueue{
		c: c, id: rep.id, maxMsg: rep.maxMsg, msgSize: rep.msgSize,
		batch:   max(1, min(64, rep.maxMsg/2)),
		waiters: make(map[ipc.Waiter]struct{}),
	}
}

// Send implements node.RemoteQueue: with a credit it queues the message
// frame and returns; without one it asks the holder for credits.
func (q *remoteQueue) Send(w ipc.Waiter, msg []byte, prio uint, nonblock bool, deadline time.Time) error {
	if prio >= ipc.MQPrioMax {
		return ipc.EINVAL
	}
	if int64(len(msg)) > q.msgSize {
		return ipc.EMSGSIZE
	}
	q.mu.Lock()
	for q.credits == 0 {
		if nonblock {
			// One round trip of its own: the holder grants a free slot
			// at once or answers EAGAIN.
			q.mu.Unlock()
			n, err := q.askCredit(w, true, deadline)
			q.mu.Lock()
			q.credits += n
			if err != nil && q.credits == 0 {
				q.mu.Unlock()
				return err
			}
			continue
		}
		if q.asking {
			// Wait for the request in flight, then look again.
			q.waiters[w] = struct{}{}
			q.mu.Unlock()
			err := w.Wait(deadline)
			q.mu.Lock()
			delete(q.waiters, w)
			if err != nil && q.credits == 0 {
				q.mu.Unlock()
				return err
			}
			continue
		}
		q.asking = true
		q.mu.Unlock()
		n, err := q.askCredit(w, false, deadline)
		q.mu.Lock()
		q.asking = false
		q.credits += n
		q.wakeLocked()
		if err != nil && q.credits == 0 {
			q.mu.Unlock()
			return err
		}
	}
	q.credits--
	ask := q.credits < q.batch/2 && !q.asking
	if ask {
		q.asking = true
	}
	q.mu.Unlock()
	if err := q.c.send(frSend, []byte{byte(prio)}, msg); err != nil {
		return err
	}
	if ask {
		q.prefetch()
	}
	return nil
}

// askCredit asks the holder for up to batch slots, blocking there unless
// nonblock, and returns how many it granted.
func (q *remoteQueue) askCredit(w ipc.Waiter, nonblock bool, deadline time.Time) (int64, error) {
	body := append([]byte{boolByte(nonblock)}, deadlineBytes(nil, deadline)...)
	body = binary.BigEndian.AppendUint64(body, uint64(q.batch))
	rep, err := q.c.callStoppableProgress(w, granted, frCredit, body)
	if len(rep) >= 8 {
		return int64(binary.BigEndian.Uint64(rep)), err
	}
	return 0, err
}

// prefetch asks, without blocking, for more credits while some are left,
// so that a steady sender rarely waits for a round trip.
func (q *remoteQueue) prefetch() {
	body := append([]byte{1}, deadlineBytes(nil, time.Time{})...)
	body = binary.BigEndian.AppendUint64(body, uint64(q.batch))
	p := &pending{async: func(rep []byte, err error) {
		if err == nil {
			// The holder counts what it granted even when it answers an
			// errno (EAGAIN with none granted), so the grant is taken
			// whatever the errno; a failed prefetch is not retried.
			rep, _ = replyErr(rep)
		}
		q.mu.Lock()
		q.asking = false
		if len(rep) >= 8 {
			q.credits += int64(binary.BigEndian.Uint64(rep))
		}
		q.wakeLocked()
		q.mu.Unlock()
	}}
	if _, err := q.c.start(p, frCredit, body); err != nil {
		q.mu.Lock()
		q.asking = false
		q.wakeLocked()
		q.mu.Unlock()
	}
}

func (q *remoteQueue) wakeLocked() {
	for w := range q.waiters {
		w.Wake()
	}
}

// Receive implements node.RemoteQueue: one request per message.
func (q *remoteQueue) Receive(w ipc.Waiter, buf []byte, nonblock bool, deadline time.Time) (int, uint, error) {
	if int64(len(buf)) < q.msgSize {
		return 0, 0, ipc.EMSGSIZE
	}
	body := append([]byte{boolByte(nonblock)}, deadlineBytes(nil, deadline)...)
	rep, err := q.c.callStoppable(w, frRecv, body)
	if err != nil {
		return 0, 0, err
	}
	if len(rep) < 1 {
		return 0, 0, fmt.Errorf("%w: short receive reply", ipc.EIO)
	}
	return copy(buf, rep[1:]), uint(rep[0]), nil
}

// Attr implements node.RemoteQueue.
func (q *remoteQueue) Attr() (ipc.MQAttr, error) {
	a := ipc.MQAttr{MaxMsg: q.maxMsg, MsgSize: q.msgSize}
	rep, err := q.c.call(nil, frAttr)
	if err != nil {
		return a, err
	}
	if len(rep) >= 24 {
		a.CurMsgs = int64(binary.BigEndian.Uint64(rep[16:]))
	}
	return a, nil
}

// Limits implements node.RemoteQueue.
func (q *remoteQueue) Limits() (int64, int64) { return q.maxMsg, q.msgSize }

// ID implements node.RemoteQueue.
func (q *remoteQueue) ID() uint64 { return q.id }

// Close implements node.RemoteQueue. The holder gives back unused credits.
func (q *remoteQueue) Close() error { return q.c.Close() }

// remotePipe is a node.RemotePipe over an IPC stream.
type remotePipe struct {
	c *ipcConn
}

var _ node.RemotePipe = (*remotePipe)(nil)

// Read implements node.RemotePipe.
func (p *remotePipe) Read(w ipc.Waiter, b []byte, nonblock bool) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n := min(len(b), 64<<10)
	rep, err := p.c.callStoppable(w, frRead, []byte{boolByte(nonblock)}, binary.BigEndian.AppendUint32(nil, uint32(n)))
	if err != nil {
		return 0, err
	}
	if len(rep) == 0 {
		return 0, io.EOF
	}
	return copy(b, rep), nil
}

// Write implements node.RemotePipe.
func (p *remotePipe) Write(w ipc.Waiter, b []byte, nonblock bool) (int, error) {
	rep, err := p.c.callStoppableProgress(w, wrote, frWrite, []byte{boolByte(nonblock)}, b)
	n := 0
	if len(rep) >= 4 {
		n = int(binary.BigEndian.Uint32(rep))
	}
	if n > 0 && errors.Is(err, ipc.EINTR) {
		err = nil // a partial write, as write(2) returns it
	}
	return n, err
}

// ID implements node.RemotePipe.
func (p *remotePipe) ID() uint64 { return 0 }

// Close implements node.RemotePipe.
func (p *remotePipe) Close() error { return p.c.Close() }

// dialNode connects to the HTTP listener of nodeName at base: over mutual
// TLS for an https address, checking that the peer's certificate names
// nodeName, and plain TCP otherwise.
func (s *Net) dialNode(nodeName string, base *url.URL) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if base.Scheme != "https" {
		return d.Dial("tcp", base.Host)
	}
	if s.tls == nil {
		return nil, errors.New("the node serves TLS and this node has no certificate")
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	td := &tls.Dialer{NetDialer: d, Config: s.tls.ClientFor(nodeName)}
	return td.DialContext(ctx, "tcp", base.Host)
}
