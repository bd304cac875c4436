package ipc

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func (q *mqueue) waiters() (send, recv int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sendWait.len(), q.recvWait.len()
}

func mustMQ(t *testing.T, ns *MQNamespace, name string, flags OpenFlag, attr *MQAttr) *MQDesc {
	t.Helper()
	d, err := ns.Open(name, flags, 0o600, "u", attr)
	if err != nil {
		t.Fatalf("Open(%q, %#x): %v", name, flags, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func send(t *testing.T, d *MQDesc, msg string, prio uint) {
	t.Helper()
	if err := d.Send(NewWaiter(), []byte(msg), prio, time.Time{}); err != nil {
		t.Fatalf("Send(%q, %d): %v", msg, prio, err)
	}
}

func recv(t *testing.T, d *MQDesc) (string, uint) {
	t.Helper()
	buf := make([]byte, d.GetAttr().MsgSize)
	n, prio, err := d.Receive(NewWaiter(), buf, time.Time{})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return string(buf[:n]), prio
}

func TestMQOpen(t *testing.T) {
	long := "/" + strings.Repeat("n", NameMax)
	tests := []struct {
		name  string
		setup func(ns *MQNamespace) // runs first
		qname string
		flags OpenFlag
		owner string
		attr  *MQAttr
		want  error
	}{
		{name: "create", qname: "/q", flags: O_CREAT | O_RDWR},
		{name: "create exclusive", qname: "/q", flags: O_CREAT | O_EXCL | O_WRONLY},
		{name: "missing without O_CREAT", qname: "/q", flags: O_RDONLY, want: ENOENT},
		{name: "existing exclusive", setup: mkq("/q", 0o600, "u"), qname: "/q", flags: O_CREAT | O_EXCL | O_RDWR, want: EEXIST},
		{name: "existing with O_CREAT", setup: mkq("/q", 0o600, "u"), qname: "/q", flags: O_CREAT | O_RDWR, owner: "u"},
		{name: "existing", setup: mkq("/q", 0o600, "u"), qname: "/q", flags: O_RDONLY, owner: "u"},
		{name: "no slash", qname: "q", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "empty", qname: "", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "only a slash", qname: "/", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "second slash", qname: "/a/b", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "dot", qname: "/.", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "dot dot", qname: "/..", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "NUL", qname: "/a\x00b", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "longest name", qname: long, flags: O_CREAT | O_RDWR},
		{name: "name too long", qname: long + "n", flags: O_CREAT | O_RDWR, want: ENAMETOOLONG},
		{name: "bad access mode", qname: "/q", flags: O_CREAT | O_ACCMODE, want: EINVAL},
		{name: "attr at the limits", qname: "/q", flags: O_CREAT | O_RDWR, attr: &MQAttr{MaxMsg: MaxMsgLimit, MsgSize: MsgSizeLimit}},
		{name: "attr smallest", qname: "/q", flags: O_CREAT | O_RDWR, attr: &MQAttr{MaxMsg: 1, MsgSize: 1}},
		{name: "maxmsg 0", qname: "/q", flags: O_CREAT | O_RDWR, attr: &MQAttr{MaxMsg: 0, MsgSize: 64}, want: EINVAL},
		{name: "maxmsg negative", qname: "/q", flags: O_CREAT | O_RDWR, attr: &MQAttr{MaxMsg: -1, MsgSize: 64}, want: EINVAL},
		{name: "maxmsg above limit", qname: "/q", flags: O_CREAT | O_RDWR, attr: &MQAttr{MaxMsg: MaxMsgLimit + 1, MsgSize: 64}, want: EINVAL},
		{name: "msgsize 0", qname: "/q", flags: O_CREAT | O_RDWR, attr: &MQAttr{MaxMsg: 10, MsgSize: 0}, want: EINVAL},
		{name: "msgsize above limit", qname: "/q", flags: O_CREAT | O_RDWR, attr: &MQAttr{MaxMsg: 10, MsgSize: MsgSizeLimit + 1}, want: EINVAL},
		{name: "attr ignored for an existing queue", setup: mkq("/q", 0o600, "u"), qname: "/q", flags: O_CREAT | O_RDWR, owner: "u", attr: &MQAttr{MaxMsg: -1}},
		{name: "owner may read", setup: mkq("/q", 0o400, "u"), qname: "/q", flags: O_RDONLY, owner: "u"},
		{name: "owner may not write", setup: mkq("/q", 0o400, "u"), qname: "/q", flags: O_WRONLY, owner: "u", want: EACCES},
		{name: "owner may not read-write", setup: mkq("/q", 0o200, "u"), qname: "/q", flags: O_RDWR, owner: "u", want: EACCES},
		{name: "others use other bits", setup: mkq("/q", 0o604, "u"), qname: "/q", flags: O_RDONLY, owner: "v"},
		{name: "others denied", setup: mkq("/q", 0o640, "u"), qname: "/q", flags: O_RDONLY, owner: "v", want: EACCES},
		{name: "others may write", setup: mkq("/q", 0o602, "u"), qname: "/q", flags: O_WRONLY, owner: "v"},
		{name: "the creator is not checked", qname: "/q", flags: O_CREAT | O_RDWR, owner: "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := NewMQNamespace()
			if tt.setup != nil {
				tt.setup(ns)
			}
			d, err := ns.Open(tt.qname, tt.flags, 0, tt.owner, tt.attr)
			if err != tt.want {
				t.Fatalf("Open(%q, %#x, owner %q, %+v): got %v, want %v", tt.qname, tt.flags, tt.owner, tt.attr, err, tt.want)
			}
			if err == nil {
				d.Close()
			}
		})
	}
}

// mkq returns a setup that creates name with mode and owner.
func mkq(name string, mode uint32, owner string) func(*MQNamespace) {
	return func(ns *MQNamespace) {
		d, err := ns.Open(name, O_CREAT|O_EXCL|O_RDWR, mode, owner, nil)
		if err != nil {
			panic(err)
		}
		d.Close()
	}
}

func TestMQAttr(t *testing.T) {
	ns := NewMQNamespace()
	d := mustMQ(t, ns, "/defaults", O_CREAT|O_RDWR, nil)
	want := MQAttr{MaxMsg: DefaultMaxMsg, MsgSize: DefaultMsgSize}
	if got := d.GetAttr(); got != want {
		t.Fatalf("default attr: got %+v, want %+v", got, want)
	}
	if d.Cost() != DefaultMaxMsg*DefaultMsgSize {
		t.Errorf("Cost: got %d, want %d", d.Cost(), DefaultMaxMsg*DefaultMsgSize)
	}
	d = mustMQ(t, ns, "/q", O_CREAT|O_RDWR|O_NONBLOCK, &MQAttr{Flags: 0, MaxMsg: 3, MsgSize: 16, CurMsgs: 99})
	want = MQAttr{Flags: O_NONBLOCK, MaxMsg: 3, MsgSize: 16}
	if got := d.GetAttr(); got != want {
		t.Fatalf("attr: got %+v, want %+v", got, want)
	}
	for i := range 3 {
		send(t, d, "m", 0)
		if got := d.GetAttr().CurMsgs; got != int64(i+1) {
			t.Fatalf("CurMsgs after %d sends: got %d", i+1, got)
		}
	}
	recv(t, d)
	if got := d.GetAttr().CurMsgs; got != 2 {
		t.Fatalf("CurMsgs after a receive: got %d, want 2", got)
	}

	old := d.SetAttr(0)
	if old.Flags != O_NONBLOCK || old.CurMsgs != 2 {
		t.Fatalf("SetAttr returned %+v, want the old attributes", old)
	}
	dup := d.Dup()
	defer dup.Close()
	if got := dup.GetAttr().Flags; got != 0 {
		t.Fatalf("dup flags: got %#x, want 0", got)
	}
	dup.SetAttr(O_NONBLOCK | O_CREAT | O_RDWR)
	if got := d.GetAttr(); got.Flags != O_NONBLOCK || got.MaxMsg != 3 || got.MsgSize != 16 {
		t.Fatalf("after SetAttr through a dup: got %+v; only O_NONBLOCK may change and it is shared", got)
	}
	other := mustMQ(t, ns, "/q", O_RDWR, nil)
	if got := other.GetAttr().Flags; got != 0 {
		t.Fatalf("another open of the queue: got flags %#x, want 0", got)
	}
}

func TestMQPriorityOrder(t *testing.T) {
	ns := NewMQNamespace()
	d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 16, MsgSize: 16})
	in := []struct {
		msg  string
		prio uint
	}{{"a1", 1}, {"e5", 5}, {"b1", 1}, {"z31", 31}, {"x0", 0}, {"f5", 5}, {"c1", 1}, {"y0", 0}}
	for _, m := range in {
		send(t, d, m.msg, m.prio)
	}
	want := []string{"z31/31", "e5/5", "f5/5", "a1/1", "b1/1", "c1/1", "x0/0", "y0/0"}
	for i, w := range want {
		m, p := recv(t, d)
		if got := fmt.Sprintf("%s/%d", m, p); got != w {
			t.Fatalf("message %d: got %s, want %s", i, got, w)
		}
	}
}

func TestMQMessagesKeepTheirContent(t *testing.T) {
	ns := NewMQNamespace()
	d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 4, MsgSize: 100})
	// Buffers are recycled: a short message after a long one must not show
	// the long one's tail, and an empty message stays empty.
	for _, m := range []string{strings.Repeat("L", 100), "s", "", strings.Repeat("M", 70)} {
		send(t, d, m, 0)
		if got, _ := recv(t, d); got != m {
			t.Fatalf("got %q, want %q", got, m)
		}
	}
}

func TestMQErrors(t *testing.T) {
	ns := NewMQNamespace()
	rw := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 2, MsgSize: 8})
	ro := mustMQ(t, ns, "/q", O_RDONLY, nil)
	wo := mustMQ(t, ns, "/q", O_WRONLY, nil)
	closed := rw.Dup()
	closed.Close()
	big := make([]byte, 9)
	ok := make([]byte, 8)
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"send prio 32", func() error { return rw.Send(NewWaiter(), ok, MQPrioMax, time.Time{}) }, EINVAL},
		{"send prio 31", func() error { return rw.Send(NewWaiter(), ok, MQPrioMax-1, time.Time{}) }, nil},
		{"send on read-only", func() error { return ro.Send(NewWaiter(), ok, 0, time.Time{}) }, EBADF},
		{"send on closed", func() error { return closed.Send(NewWaiter(), ok, 0, time.Time{}) }, EBADF},
		{"send too long", func() error { return wo.Send(NewWaiter(), big, 0, time.Time{}) }, EMSGSIZE},
		{"receive on write-only", func() error { _, _, err := wo.Receive(NewWaiter(), ok, time.Time{}); return err }, EBADF},
		{"receive on closed", func() error { _, _, err := closed.Receive(NewWaiter(), ok, time.Time{}); return err }, EBADF},
		{"receive buffer shorter than msgsize", func() error { _, _, err := ro.Receive(NewWaiter(), ok[:7], time.Time{}); return err }, EMSGSIZE},
		{"receive", func() error { _, _, err := ro.Receive(NewWaiter(), ok, time.Time{}); return err }, nil},
		{"notify on closed", func() error { return closed.Notify("x", func() {}) }, EBADF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if got := rw.GetAttr().CurMsgs; got != 0 {
		t.Fatalf("failed calls changed the queue: CurMsgs %d", got)
	}
}

func TestMQNonblockingAndTimed(t *testing.T) {
	past := time.Now().Add(-time.Second)
	tests := []struct {
		name     string
		full     bool // fill the queue first (else it is empty)
		nonblock bool
		deadline func() time.Time
		send     bool
		want     error
	}{
		{"send to full, nonblocking", true, true, nil, true, EAGAIN},
		{"receive from empty, nonblocking", false, true, nil, false, EAGAIN},
		{"send to full, deadline passed", true, false, func() time.Time { return past }, true, ETIMEDOUT},
		{"receive from empty, deadline passed", false, false, func() time.Time { return past }, false, ETIMEDOUT},
		{"send to full, deadline soon", true, false, func() time.Time { return time.Now().Add(20 * time.Millisecond) }, true, ETIMEDOUT},
		{"receive from empty, deadline soon", false, false, func() time.Time { return time.Now().Add(20 * time.Millisecond) }, false, ETIMEDOUT},
		{"send with room, deadline passed", false, false, func() time.Time { return past }, true, nil},
		{"receive with a message, deadline passed", true, false, func() time.Time { return past }, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := NewMQNamespace()
			flags := O_CREAT | O_RDWR
			if tt.nonblock {
				flags |= O_NONBLOCK
			}
			d := mustMQ(t, ns, "/q", flags, &MQAttr{MaxMsg: 2, MsgSize: 8})
			if tt.full {
				send(t, d, "1", 0)
				send(t, d, "2", 0)
			}
			var dl time.Time
			if tt.deadline != nil {
				dl = tt.deadline()
			}
			var err error
			if tt.send {
				err = d.Send(NewWaiter(), []byte("x"), 0, dl)
			} else {
				_, _, err = d.Receive(NewWaiter(), make([]byte, 8), dl)
			}
			if err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if s, r := d.f.q.waiters(); s != 0 || r != 0 {
				t.Fatalf("waiters left registered: %d senders, %d receivers", s, r)
			}
		})
	}
}

func TestMQBlocking(t *testing.T) {
	t.Run("receive waits for a send", func(t *testing.T) {
		ns := NewMQNamespace()
		d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 2, MsgSize: 8})
		buf := make([]byte, 8)
		var prio uint
		ch := async(func() (n int, err error) { n, prio, err = d.Receive(NewWaiter(), buf, time.Time{}); return })
		waitFor(t, "receiver to block", func() bool { _, r := d.f.q.waiters(); return r == 1 })
		send(t, d, "hey", 7)
		if got := await(t, ch); got.err != nil || string(buf[:got.n]) != "hey" || prio != 7 {
			t.Fatalf("got (%q, %d, %v), want (hey, 7, nil)", buf[:got.n], prio, got.err)
		}
	})
	t.Run("send waits for room", func(t *testing.T) {
		ns := NewMQNamespace()
		d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 2, MsgSize: 8})
		send(t, d, "1", 0)
		send(t, d, "2", 0)
		ch := async(func() (int, error) { return 0, d.Send(NewWaiter(), []byte("3"), 0, time.Time{}) })
		waitFor(t, "sender to block", func() bool { s, _ := d.f.q.waiters(); return s == 1 })
		notDone(t, ch)
		if m, _ := recv(t, d); m != "1" {
			t.Fatalf("got %q, want 1", m)
		}
		if got := await(t, ch); got.err != nil {
			t.Fatalf("blocked send: %v", got.err)
		}
		for _, want := range []string{"2", "3"} {
			if m, _ := recv(t, d); m != want {
				t.Fatalf("got %q, want %q", m, want)
			}
		}
	})
	t.Run("timed receive gets a message sent before the deadline", func(t *testing.T) {
		ns := NewMQNamespace()
		d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 2, MsgSize: 8})
		ch := async(func() (int, error) {
			n, _, err := d.Receive(NewWaiter(), make([]byte, 8), time.Now().Add(time.Minute))
			return n, err
		})
		waitFor(t, "receiver to block", func() bool { _, r := d.f.q.waiters(); return r == 1 })
		send(t, d, "abc", 0)
		if got := await(t, ch); got.n != 3 || got.err != nil {
			t.Fatalf("got (%d, %v), want (3, nil)", got.n, got.err)
		}
	})
}

func TestMQInterrupted(t *testing.T) {
	for _, werr := range []error{EINTR, errKilled} {
		t.Run(werr.Error(), func(t *testing.T) {
			ns := NewMQNamespace()
			d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 1, MsgSize: 8})
			wt := newTestWaiter()
			ch := async(func() (int, error) { _, _, err := d.Receive(wt, make([]byte, 8), time.Time{}); return 0, err })
			waitFor(t, "receiver to block", func() bool { _, r := d.f.q.waiters(); return r == 1 })
			wt.intr <- werr
			if got := await(t, ch); got.err != werr {
				t.Fatalf("receive: got %v, want %v", got.err, werr)
			}
			send(t, d, "full", 0)
			ch = async(func() (int, error) { return 0, d.Send(wt, []byte("x"), 0, time.Time{}) })
			waitFor(t, "sender to block", func() bool { s, _ := d.f.q.waiters(); return s == 1 })
			wt.intr <- werr
			if got := await(t, ch); got.err != werr {
				t.Fatalf("send: got %v, want %v", got.err, werr)
			}
			if s, r := d.f.q.waiters(); s != 0 || r != 0 {
				t.Fatalf("waiters left registered: %d senders, %d receivers", s, r)
			}
			if m, _ := recv(t, d); m != "full" || d.GetAttr().CurMsgs != 0 {
				t.Fatalf("queue changed by the interrupted calls")
			}
		})
	}
	t.Run("spurious wake-ups", func(t *testing.T) {
		ns := NewMQNamespace()
		d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 1, MsgSize: 8})
		sw := &spuriousWaiter{n: 3, err: EINTR}
		if _, _, err := d.Receive(sw, make([]byte, 8), time.Time{}); err != EINTR || sw.waits != 4 {
			t.Fatalf("got %v after %d waits, want EINTR after 4", err, sw.waits)
		}
	})
}

func TestMQNotify(t *testing.T) {
	type env struct {
		ns    *MQNamespace
		d     *MQDesc
		fired *atomic.Int32
		fn    func()
	}
	tests := []struct {
		name      string
		run       func(t *testing.T, e env)
		wantFired int32
	}{
		{"fires once on a send to an empty queue", func(t *testing.T, e env) {
			must(t, e.d.Notify("p1", e.fn))
			send(t, e.d, "a", 0)
			recv(t, e.d)
			send(t, e.d, "b", 0)
		}, 1},
		{"not for a send to a non-empty queue", func(t *testing.T, e env) {
			send(t, e.d, "a", 0)
			must(t, e.d.Notify("p1", e.fn))
			send(t, e.d, "b", 0)
		}, 0},
		{"not while a receiver is blocked", func(t *testing.T, e env) {
			must(t, e.d.Notify("p1", e.fn))
			ch := async(func() (int, error) {
				_, _, err := e.d.Receive(NewWaiter(), make([]byte, 8), time.Time{})
				return 0, err
			})
			waitFor(t, "receiver to block", func() bool { _, r := e.d.f.q.waiters(); return r == 1 })
			send(t, e.d, "a", 0)
			if got := await(t, ch); got.err != nil {
				t.Fatal(got.err)
			}
			// Still registered: the next qualifying send fires it.
			send(t, e.d, "b", 0)
		}, 1},
		{"a second registration is EBUSY", func(t *testing.T, e env) {
			must(t, e.d.Notify("p1", e.fn))
			if err := e.d.Notify("p2", e.fn); err != EBUSY {
				t.Fatalf("other owner: got %v, want EBUSY", err)
			}
			if err := e.d.Notify("p1", e.fn); err != EBUSY {
				t.Fatalf("same owner: got %v, want EBUSY", err)
			}
			send(t, e.d, "a", 0)
		}, 1},
		{"re-registration after it fired", func(t *testing.T, e env) {
			must(t, e.d.Notify("p1", e.fn))
			send(t, e.d, "a", 0)
			must(t, e.d.Notify("p2", e.fn))
			recv(t, e.d)
			send(t, e.d, "b", 0)
		}, 2},
		{"nil removes the owner's registration", func(t *testing.T, e env) {
			must(t, e.d.Notify("p1", e.fn))
			must(t, e.d.Notify("p1", nil))
			must(t, e.d.Notify("p2", e.fn))
			must(t, e.d.Notify("p2", nil))
			send(t, e.d, "a", 0)
		}, 0},
		{"nil from another owner changes nothing", func(t *testing.T, e env) {
			must(t, e.d.Notify("p1", e.fn))
			must(t, e.d.Notify("p2", nil))
			send(t, e.d, "a", 0)
		}, 1},
		{"closing the registering descriptor removes it", func(t *testing.T, e env) {
			d2 := mustMQ(t, e.ns, "/q", O_RDWR, nil)
			must(t, d2.Notify("p1", e.fn))
			d2.Close()
			send(t, e.d, "a", 0)
		}, 0},
		{"closing another descriptor keeps it", func(t *testing.T, e env) {
			d2 := mustMQ(t, e.ns, "/q", O_RDWR, nil)
			must(t, e.d.Notify("p1", e.fn))
			d2.Close()
			send(t, e.d, "a", 0)
		}, 1},
		{"fn may call back into the queue", func(t *testing.T, e env) {
			must(t, e.d.Notify("p1", func() {
				e.fn()
				if e.d.GetAttr().CurMsgs != 1 {
					t.Error("notification ran before the message was queued")
				}
				e.d.Notify("p1", e.fn)
			}))
			send(t, e.d, "a", 0)
			recv(t, e.d)
			send(t, e.d, "b", 0)
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := NewMQNamespace()
			d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 4, MsgSize: 8})
			var fired atomic.Int32
			tt.run(t, env{ns: ns, d: d, fired: &fired, fn: func() { fired.Add(1) }})
			if got := fired.Load(); got != tt.wantFired {
				t.Fatalf("notification fired %d times, want %d", got, tt.wantFired)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMQUnlink(t *testing.T) {
	ns := NewMQNamespace()
	d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 4, MsgSize: 8})
	send(t, d, "kept", 3)
	d2 := d.Dup()
	must(t, ns.Unlink("/q"))
	if err := ns.Unlink("/q"); err != ENOENT {
		t.Fatalf("second Unlink: got %v, want ENOENT", err)
	}
	if err := ns.Unlink("bad"); err != EINVAL {
		t.Fatalf("Unlink of a bad name: got %v, want EINVAL", err)
	}
	if _, err := ns.Open("/q", O_RDWR, 0, "u", nil); err != ENOENT {
		t.Fatalf("Open after Unlink: got %v, want ENOENT", err)
	}
	if len(ns.List()) != 0 {
		t.Fatalf("List after Unlink: %v", ns.List())
	}
	fresh := mustMQ(t, ns, "/q", O_CREAT|O_EXCL|O_RDWR, nil)
	if fresh.ID() == d.ID() || fresh.GetAttr().CurMsgs != 0 {
		t.Fatalf("the new /q is not a new, empty queue")
	}
	d.Close()
	// The unlinked queue lives on through d2.
	if m, p := recv(t, d2); m != "kept" || p != 3 || d2.Name() != "/q" {
		t.Fatalf("got %q/%d from %q, want kept/3 from /q", m, p, d2.Name())
	}
	send(t, d2, "gone", 0)
	q := d2.f.q
	d2.Close()
	q.mu.Lock()
	released := q.cur == 0 && q.free == nil && q.opens == 0
	q.mu.Unlock()
	if !released {
		t.Fatal("the queue kept its messages after its last descriptor closed")
	}
}

func TestMQPersistsWithoutDescriptors(t *testing.T) {
	ns := NewMQNamespace()
	d, err := ns.Open("/q", O_CREAT|O_WRONLY, 0o600, "u", nil)
	must(t, err)
	send(t, d, "later", 1)
	d.Close()
	d = mustMQ(t, ns, "/q", O_RDONLY, nil)
	if m, _ := recv(t, d); m != "later" {
		t.Fatalf("got %q, want later", m)
	}
}

func TestMQList(t *testing.T) {
	ns := NewMQNamespace()
	b := mustMQ(t, ns, "/b", O_CREAT|O_RDWR, &MQAttr{MaxMsg: 5, MsgSize: 32})
	mustMQ(t, ns, "/a", O_CREAT|O_RDWR|O_NONBLOCK, nil)
	send(t, b, "x", 0)
	send(t, b, "y", 0)
	got := ns.List()
	want := []MQInfo{
		{Name: "/a", Attr: MQAttr{MaxMsg: DefaultMaxMsg, MsgSize: DefaultMsgSize}, Mode: 0o600, Owner: "u"},
		{Name: "/b", Attr: MQAttr{MaxMsg: 5, MsgSize: 32, CurMsgs: 2}, Mode: 0o600, Owner: "u"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List: got %+v, want %+v", got, want)
	}
	if info, ok := ns.Lookup("/b"); !ok || info != want[1] {
		t.Fatalf("Lookup(/b): got %+v, %v", info, ok)
	}
	if _, ok := ns.Lookup("/c"); ok {
		t.Fatal("Lookup(/c) found a queue")
	}
}

func TestMQCloseIdempotent(t *testing.T) {
	ns := NewMQNamespace()
	d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, nil)
	d2 := d.Dup()
	for range 3 {
		must(t, d.Close())
	}
	if q := d2.f.q; q.opens != 1 {
		t.Fatalf("opens after closing one of two descriptors thrice: %d, want 1", q.opens)
	}
	send(t, d2, "ok", 0)
	d3 := d.Dup()
	if err := d3.Send(NewWaiter(), nil, 0, time.Time{}); !errors.Is(err, EBADF) {
		t.Fatalf("Dup of a closed descriptor: got %v, want EBADF", err)
	}
	d2.Close()
}

// TestMQSetAttrReturnsOldAtomically has two descriptors of one open
// description flip O_NONBLOCK against each other. SetAttr returns the flag
// as it was before, so the changes each side saw itself make must add up to
// the final flag, as they do when mq_setattr swaps it in one step.
func TestMQSetAttrReturnsOldAtomically(t *testing.T) {
	ns := NewMQNamespace()
	d := mustMQ(t, ns, "/q", O_CREAT|O_RDWR, nil)
	on, off := d.Dup(), d.Dup()
	defer on.Close()
	defer off.Close()
	const calls = 50000
	var set, cleared int // changes seen by on (0 to O_NONBLOCK) and off (back)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range calls {
			if on.SetAttr(O_NONBLOCK).Flags == 0 {
				set++
			}
		}
	})
	wg.Go(func() {
		for range calls {
			if off.SetAttr(0).Flags == O_NONBLOCK {
				cleared++
			}
		}
	})
	wg.Wait()
	final := 0
	if d.GetAttr().Flags == O_NONBLOCK {
		final = 1
	}
	if set-cleared != final {
		t.Fatalf("SetAttr saw the flag set %d times and cleared %d times, but it ends %d", set, cleared, final)
	}
}
