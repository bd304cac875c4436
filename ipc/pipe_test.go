package ipc

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// waiters returns the number of callers registered on each wait list of p.
func (p *pipe) waiters() (read, write, open int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readWait.len(), p.writeWait.len(), p.openWait.len()
}

func mustPipe(t *testing.T, capacity int) (*PipeReader, *PipeWriter) {
	t.Helper()
	r, w, err := NewPipe(capacity)
	if err != nil {
		t.Fatalf("NewPipe(%d): %v", capacity, err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// fill writes n bytes of value c without blocking.
func fill(t *testing.T, w *PipeWriter, n int, c byte) {
	t.Helper()
	got, err := w.Write(NewWaiter(), bytes.Repeat([]byte{c}, n), true)
	if got != n || err != nil {
		t.Fatalf("fill %d: got (%d, %v)", n, got, err)
	}
}

// drain reads exactly n bytes without blocking.
func drain(t *testing.T, r *PipeReader, n int) []byte {
	t.Helper()
	out := make([]byte, n)
	got, err := r.Read(NewWaiter(), out, true)
	if got != n || err != nil {
		t.Fatalf("drain %d: got (%d, %v)", n, got, err)
	}
	return out
}

func TestNewPipeCapacity(t *testing.T) {
	tests := []struct {
		in   int
		want int
		err  error
	}{
		{0, DefaultPipeCapacity, nil},
		{1, 4096, nil},
		{4096, 4096, nil},
		{4097, 8192, nil},
		{5000, 8192, nil},
		{12288, 16384, nil},
		{MaxPipeCapacity, MaxPipeCapacity, nil},
		{MaxPipeCapacity + 1, 0, EINVAL},
		{-1, 0, EINVAL},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			r, w, err := NewPipe(tt.in)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("NewPipe(%d): got err %v, want %v", tt.in, err, tt.err)
			}
			if err != nil {
				return
			}
			defer r.Close()
			defer w.Close()
			if got := r.Capacity(); got != tt.want {
				t.Errorf("NewPipe(%d): got capacity %d, want %d", tt.in, got, tt.want)
			}
			if got := w.Capacity(); got != tt.want {
				t.Errorf("NewPipe(%d): writer got capacity %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestPipeSetCapacity(t *testing.T) {
	tests := []struct {
		name     string
		start    int
		buffered int
		set      int
		want     int
		err      error
	}{
		{"grow", 4096, 100, 65536, 65536, nil},
		{"shrink", 65536, 100, 4096, 4096, nil},
		{"round up", 4096, 0, 10000, 16384, nil},
		{"zero is one page", 65536, 0, 0, 4096, nil},
		{"max", 4096, 0, MaxPipeCapacity, MaxPipeCapacity, nil},
		{"above max", 4096, 0, MaxPipeCapacity + 1, 4096, EINVAL},
		{"negative", 4096, 0, -1, 4096, EINVAL},
		{"data does not fit", 65536, 5000, 4096, 65536, EBUSY},
		{"data fits exactly", 65536, 8192, 8192, 8192, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := mustPipe(t, tt.start)
			if tt.buffered > 0 {
				fill(t, w, tt.buffered, 'x')
			}
			err := w.SetCapacity(tt.set)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("SetCapacity(%d): got %v, want %v", tt.set, err, tt.err)
			}
			if got := r.Capacity(); got != tt.want {
				t.Errorf("SetCapacity(%d): got capacity %d, want %d", tt.set, got, tt.want)
			}
			if got := r.Len(); got != tt.buffered {
				t.Errorf("SetCapacity(%d): got Len %d, want %d", tt.set, got, tt.buffered)
			}
		})
	}
}

func TestPipeSetCapacityKeepsWrappedData(t *testing.T) {
	r, w := mustPipe(t, 8192)
	fill(t, w, 6000, 'a')
	drain(t, r, 5000)
	// The ring now wraps: 1000 bytes of 'a' at the end, then 'b's.
	fill(t, w, 3000, 'b')
	if err := r.SetCapacity(4096); err != nil {
		t.Fatalf("SetCapacity(4096): %v", err)
	}
	want := append(bytes.Repeat([]byte{'a'}, 1000), bytes.Repeat([]byte{'b'}, 3000)...)
	if got := drain(t, r, 4000); !bytes.Equal(got, want) {
		t.Fatalf("data after SetCapacity differs")
	}
}

func TestPipeSetCapacityWakesWriter(t *testing.T) {
	r, w := mustPipe(t, 4096)
	fill(t, w, 4000, 'a')
	ch := async(func() (int, error) { return w.Write(NewWaiter(), make([]byte, 1000), false) })
	waitFor(t, "writer to block", func() bool { _, n, _ := r.p.waiters(); return n == 1 })
	if err := r.SetCapacity(8192); err != nil {
		t.Fatal(err)
	}
	if got := await(t, ch); got.n != 1000 || got.err != nil {
		t.Fatalf("write after grow: got (%d, %v), want (1000, nil)", got.n, got.err)
	}
}

func TestPipeReadWrite(t *testing.T) {
	tests := []struct {
		name     string
		buffered int  // bytes written first
		closeW   bool // close the writer before reading
		bufLen   int
		nonblock bool
		wantN    int
		wantErr  error
	}{
		{"reads what is there", 10, false, 100, false, 10, nil},
		{"reads at most len(p)", 10, false, 4, true, 4, nil},
		{"empty nonblocking is EAGAIN", 0, false, 10, true, 0, EAGAIN},
		{"empty without writer is EOF", 0, true, 10, false, 0, io.EOF},
		{"empty without writer is EOF even nonblocking", 0, true, 10, true, 0, io.EOF},
		{"data before EOF", 7, true, 10, false, 7, nil},
		{"zero-length read", 0, false, 0, false, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := mustPipe(t, 0)
			if tt.buffered > 0 {
				fill(t, w, tt.buffered, 'x')
			}
			if tt.closeW {
				w.Close()
			}
			n, err := r.Read(NewWaiter(), make([]byte, tt.bufLen), tt.nonblock)
			if n != tt.wantN || err != tt.wantErr {
				t.Fatalf("Read(len %d, nonblock %v): got (%d, %v), want (%d, %v)", tt.bufLen, tt.nonblock, n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}

func TestPipeEOFAfterDrain(t *testing.T) {
	r, w := mustPipe(t, 0)
	fill(t, w, 3, 'z')
	w.Close()
	if got := drain(t, r, 3); string(got) != "zzz" {
		t.Fatalf("got %q, want %q", got, "zzz")
	}
	for range 2 {
		if n, err := r.Read(NewWaiter(), make([]byte, 8), false); n != 0 || err != io.EOF {
			t.Fatalf("read after drain: got (%d, %v), want (0, EOF)", n, err)
		}
	}
}

func TestPipeWrite(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		buffered int
		size     int
		nonblock bool
		wantN    int
		wantErr  error
	}{
		{"fits", 4096, 0, 100, true, 100, nil},
		{"atomic write without room is EAGAIN", 4096, 4000, 200, true, 0, EAGAIN},
		{"atomic write of PIPE_BUF into a full page is EAGAIN", 8192, 4097, PipeBuf, true, 0, EAGAIN},
		{"atomic write of PIPE_BUF that fits", 8192, 4096, PipeBuf, true, PipeBuf, nil},
		{"large nonblocking write writes what fits", 8192, 100, 10000, true, 8092, nil},
		{"large nonblocking write to a full pipe is EAGAIN", 8192, 8192, 10000, true, 0, EAGAIN},
		{"large write into an empty pipe fills it", 8192, 0, 3 * 8192, true, 8192, nil},
		{"zero-length write", 4096, 4096, 0, true, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := mustPipe(t, tt.capacity)
			if tt.buffered > 0 {
				fill(t, w, tt.buffered, 'x')
			}
			n, err := w.Write(NewWaiter(), make([]byte, tt.size), tt.nonblock)
			if n != tt.wantN || err != tt.wantErr {
				t.Fatalf("Write(%d) with %d/%d buffered: got (%d, %v), want (%d, %v)", tt.size, tt.buffered, tt.capacity, n, err, tt.wantN, tt.wantErr)
			}
			if got := r.Len(); got != tt.buffered+tt.wantN {
				t.Errorf("Len: got %d, want %d", got, tt.buffered+tt.wantN)
			}
		})
	}
}

func TestPipeEPIPE(t *testing.T) {
	for _, nonblock := range []bool{false, true} {
		t.Run("", func(t *testing.T) {
			r, w := mustPipe(t, 0)
			r.Close()
			if n, err := w.Write(NewWaiter(), []byte("x"), nonblock); n != 0 || err != EPIPE {
				t.Fatalf("Write with no reader (nonblock %v): got (%d, %v), want (0, EPIPE)", nonblock, n, err)
			}
		})
	}
}

func TestPipeAtomicWriteWaitsForRoomForAll(t *testing.T) {
	r, w := mustPipe(t, 4096)
	fill(t, w, 4000, 'a')
	msg := bytes.Repeat([]byte{'b'}, 300)
	ch := async(func() (int, error) { return w.Write(NewWaiter(), msg, false) })
	waitFor(t, "writer to block", func() bool { _, n, _ := r.p.waiters(); return n == 1 })
	// 196 bytes free after this read: still not enough for 300.
	drain(t, r, 100)
	notDone(t, ch)
	if got := r.Len(); got != 3900 {
		t.Fatalf("atomic write was split: Len %d, want 3900", got)
	}
	drain(t, r, 200)
	if got := await(t, ch); got.n != 300 || got.err != nil {
		t.Fatalf("atomic write: got (%d, %v), want (300, nil)", got.n, got.err)
	}
	got := drain(t, r, 4000)
	want := append(bytes.Repeat([]byte{'a'}, 3700), msg...)
	if !bytes.Equal(got, want) {
		t.Fatal("atomic write's data is not whole and in order")
	}
}

func TestPipeLargeBlockingWrite(t *testing.T) {
	r, w := mustPipe(t, 4096)
	msg := make([]byte, 5*4096+123)
	for i := range msg {
		msg[i] = byte(i % 251)
	}
	ch := async(func() (int, error) { return w.Write(NewWaiter(), msg, false) })
	var got []byte
	buf := make([]byte, 1000)
	wt := NewWaiter()
	for len(got) < len(msg) {
		n, err := r.Read(wt, buf, false)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, buf[:n]...)
	}
	if res := await(t, ch); res.n != len(msg) || res.err != nil {
		t.Fatalf("large write: got (%d, %v), want (%d, nil)", res.n, res.err, len(msg))
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("large write's data differs")
	}
}

func TestPipeBlockedReaderWakes(t *testing.T) {
	tests := []struct {
		name  string
		act   func(w *PipeWriter)
		wantN int
		want  error
	}{
		{"by data", func(w *PipeWriter) { w.Write(NewWaiter(), []byte("hi"), false) }, 2, nil},
		{"by last writer closing", func(w *PipeWriter) { w.Close() }, 0, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := mustPipe(t, 0)
			ch := async(func() (int, error) { return r.Read(NewWaiter(), make([]byte, 10), false) })
			waitFor(t, "reader to block", func() bool { n, _, _ := r.p.waiters(); return n == 1 })
			tt.act(w)
			if got := await(t, ch); got.n != tt.wantN || got.err != tt.want {
				t.Fatalf("got (%d, %v), want (%d, %v)", got.n, got.err, tt.wantN, tt.want)
			}
			if n, _, _ := r.p.waiters(); n != 0 {
				t.Fatalf("%d read waiters left registered", n)
			}
		})
	}
}

func TestPipeBlockedWriterWakes(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		act   func(r *PipeReader)
		wantN int
		want  error
	}{
		{"by room", 100, func(r *PipeReader) { r.Read(NewWaiter(), make([]byte, 4096), false) }, 100, nil},
		{"by last reader closing", 100, func(r *PipeReader) { r.Close() }, 0, EPIPE},
		{"large write partly done, then last reader closes", 6000, func(r *PipeReader) { r.Close() }, 96, EPIPE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := mustPipe(t, 4096)
			fill(t, w, 4000, 'a')
			ch := async(func() (int, error) { return w.Write(NewWaiter(), make([]byte, tt.size), false) })
			waitFor(t, "writer to block", func() bool { _, n, _ := r.p.waiters(); return n == 1 })
			tt.act(r)
			if got := await(t, ch); got.n != tt.wantN || got.err != tt.want {
				t.Fatalf("got (%d, %v), want (%d, %v)", got.n, got.err, tt.wantN, tt.want)
			}
			if _, n, _ := r.p.waiters(); n != 0 {
				t.Fatalf("%d write waiters left registered", n)
			}
		})
	}
}

func TestPipeInterrupted(t *testing.T) {
	for _, werr := range []error{EINTR, ETIMEDOUT, errKilled} {
		t.Run(werr.Error(), func(t *testing.T) {
			t.Run("read", func(t *testing.T) {
				r, _ := mustPipe(t, 4096)
				wt := newTestWaiter()
				ch := async(func() (int, error) { return r.Read(wt, make([]byte, 10), false) })
				waitFor(t, "reader to block", func() bool { n, _, _ := r.p.waiters(); return n == 1 })
				wt.intr <- werr
				if got := await(t, ch); got.n != 0 || got.err != werr {
					t.Fatalf("got (%d, %v), want (0, %v)", got.n, got.err, werr)
				}
				if n, _, _ := r.p.waiters(); n != 0 {
					t.Fatalf("%d read waiters left registered", n)
				}
			})
			t.Run("atomic write", func(t *testing.T) {
				r, w := mustPipe(t, 4096)
				fill(t, w, 4000, 'a')
				wt := newTestWaiter()
				ch := async(func() (int, error) { return w.Write(wt, make([]byte, 200), false) })
				waitFor(t, "writer to block", func() bool { _, n, _ := r.p.waiters(); return n == 1 })
				wt.intr <- werr
				if got := await(t, ch); got.n != 0 || got.err != werr {
					t.Fatalf("got (%d, %v), want (0, %v)", got.n, got.err, werr)
				}
				if _, n, _ := r.p.waiters(); n != 0 || r.Len() != 4000 {
					t.Fatalf("after interrupt: %d write waiters, Len %d; want 0, 4000", n, r.Len())
				}
			})
			t.Run("large write after partial progress", func(t *testing.T) {
				r, w := mustPipe(t, 4096)
				fill(t, w, 4000, 'a')
				wt := newTestWaiter()
				ch := async(func() (int, error) { return w.Write(wt, make([]byte, 10000), false) })
				waitFor(t, "writer to block", func() bool { _, n, _ := r.p.waiters(); return n == 1 })
				wt.intr <- werr
				if got := await(t, ch); got.n != 96 || got.err != nil {
					t.Fatalf("got (%d, %v), want (96, nil)", got.n, got.err)
				}
				if _, n, _ := r.p.waiters(); n != 0 || r.Len() != 4096 {
					t.Fatalf("after interrupt: %d write waiters, Len %d; want 0, 4096", n, r.Len())
				}
			})
		})
	}
}

func TestPipeSpuriousWakeups(t *testing.T) {
	r, w := mustPipe(t, 4096)
	sw := &spuriousWaiter{n: 5, err: EINTR}
	if n, err := r.Read(sw, make([]byte, 1), false); n != 0 || err != EINTR || sw.waits != 6 {
		t.Fatalf("read: got (%d, %v) after %d waits, want (0, EINTR) after 6", n, err, sw.waits)
	}
	fill(t, w, 4096, 'a')
	sw = &spuriousWaiter{n: 3, err: errKilled}
	if n, err := w.Write(sw, []byte("x"), false); n != 0 || err != errKilled || sw.waits != 4 {
		t.Fatalf("write: got (%d, %v) after %d waits, want (0, killed) after 4", n, err, sw.waits)
	}
	if rn, wn, _ := r.p.waiters(); rn != 0 || wn != 0 {
		t.Fatalf("waiters left registered: %d readers, %d writers", rn, wn)
	}
}

func TestPipeCloseAndDup(t *testing.T) {
	t.Run("close is idempotent", func(t *testing.T) {
		r, w := mustPipe(t, 0)
		w2 := w.Dup()
		for range 3 {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		// w2 still holds the write end open.
		if n, err := r.Read(NewWaiter(), make([]byte, 1), true); n != 0 || err != EAGAIN {
			t.Fatalf("read with one writer handle left: got (%d, %v), want (0, EAGAIN)", n, err)
		}
		w2.Close()
		if n, err := r.Read(NewWaiter(), make([]byte, 1), true); n != 0 || err != io.EOF {
			t.Fatalf("read with no writer handle: got (%d, %v), want (0, EOF)", n, err)
		}
	})
	t.Run("reader dups keep the pipe open", func(t *testing.T) {
		r, w := mustPipe(t, 0)
		r2 := r.Dup()
		r3 := r2.Dup()
		r.Close()
		r.Close()
		r2.Close()
		if n, err := w.Write(NewWaiter(), []byte("x"), true); n != 1 || err != nil {
			t.Fatalf("write with one reader handle left: got (%d, %v)", n, err)
		}
		if got := drain(t, r3, 1); string(got) != "x" {
			t.Fatalf("dup reads %q, want %q", got, "x")
		}
		r3.Close()
		if _, err := w.Write(NewWaiter(), []byte("x"), true); err != EPIPE {
			t.Fatalf("write with no reader: got %v, want EPIPE", err)
		}
	})
	t.Run("closed handles are EBADF", func(t *testing.T) {
		r, w := mustPipe(t, 0)
		r2, w2 := r.Dup(), w.Dup()
		r.Close()
		w.Close()
		if _, err := r.Read(NewWaiter(), make([]byte, 1), true); err != EBADF {
			t.Errorf("Read on closed: got %v, want EBADF", err)
		}
		if _, err := w.Write(NewWaiter(), []byte("x"), true); err != EBADF {
			t.Errorf("Write on closed: got %v, want EBADF", err)
		}
		if err := w.SetCapacity(8192); err != EBADF {
			t.Errorf("SetCapacity on closed: got %v, want EBADF", err)
		}
		d := w.Dup()
		if _, err := d.Write(NewWaiter(), []byte("x"), true); err != EBADF {
			t.Errorf("Write on dup of closed: got %v, want EBADF", err)
		}
		d.Close()
		rd := r.Dup()
		rd.Close()
		// The live dups still work: the closed dups did not touch the counts.
		if n, err := w2.Write(NewWaiter(), []byte("y"), true); n != 1 || err != nil {
			t.Fatalf("write on live dup: got (%d, %v)", n, err)
		}
		if got := drain(t, r2, 1); string(got) != "y" {
			t.Fatalf("got %q, want %q", got, "y")
		}
	})
}

func TestPipeIDs(t *testing.T) {
	r1, w1 := mustPipe(t, 0)
	r2, w2 := mustPipe(t, 0)
	if r1.ID() != w1.ID() || r1.ID() != r1.Dup().ID() {
		t.Errorf("ends of one pipe have different IDs")
	}
	if r1.ID() == r2.ID() || w1.ID() == w2.ID() {
		t.Errorf("two pipes share ID %d", r1.ID())
	}
}
