package ipc

import (
	"io"
	"testing"
)

func openWaiters(f *FIFO) int { _, _, n := f.p.waiters(); return n }

func TestFIFOAttributes(t *testing.T) {
	f := NewFIFO(0o640, "alice")
	g := NewFIFO(0o600, "bob")
	if f.Mode() != 0o640 || f.Owner() != "alice" {
		t.Errorf("got mode %o owner %q, want 640 alice", f.Mode(), f.Owner())
	}
	if f.ID() == g.ID() {
		t.Errorf("two FIFOs share ID %d", f.ID())
	}
	r, w := f.OpenReadWrite()
	defer r.Close()
	defer w.Close()
	if r.ID() != f.ID() || w.ID() != f.ID() {
		t.Errorf("handle IDs %d, %d differ from FIFO ID %d", r.ID(), w.ID(), f.ID())
	}
}

func TestFIFOOpenBlocks(t *testing.T) {
	tests := []struct {
		name    string
		blocked func(f *FIFO) (func() error, error) // the open that blocks; returns its close
		partner func(f *FIFO) (func() error, error) // the open that releases it
	}{
		{
			"reader waits for a writer",
			func(f *FIFO) (func() error, error) { r, err := f.OpenRead(NewWaiter(), false); return closer(r, err) },
			func(f *FIFO) (func() error, error) { w, err := f.OpenWrite(NewWaiter(), false); return closer(w, err) },
		},
		{
			"writer waits for a reader",
			func(f *FIFO) (func() error, error) { w, err := f.OpenWrite(NewWaiter(), false); return closer(w, err) },
			func(f *FIFO) (func() error, error) { r, err := f.OpenRead(NewWaiter(), false); return closer(r, err) },
		},
		{
			"reader released by a read-write open",
			func(f *FIFO) (func() error, error) { r, err := f.OpenRead(NewWaiter(), false); return closer(r, err) },
			func(f *FIFO) (func() error, error) {
				r, w := f.OpenReadWrite()
				return func() error { r.Close(); return w.Close() }, nil
			},
		},
		{
			"writer released by a non-blocking read open",
			func(f *FIFO) (func() error, error) { w, err := f.OpenWrite(NewWaiter(), false); return closer(w, err) },
			func(f *FIFO) (func() error, error) { r, err := f.OpenRead(NewWaiter(), true); return closer(r, err) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFIFO(0o600, "u")
			done := make(chan func() error, 1)
			errc := make(chan error, 1)
			go func() {
				c, err := tt.blocked(f)
				errc <- err
				done <- c
			}()
			waitFor(t, "open to block", func() bool { return openWaiters(f) == 1 })
			c2, err := tt.partner(f)
			if err != nil {
				t.Fatalf("partner open: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("blocked open: %v", err)
			}
			(<-done)()
			c2()
			if openWaiters(f) != 0 || f.Readers() != 0 || f.Writers() != 0 {
				t.Fatalf("after closing: %d open waiters, %d readers, %d writers", openWaiters(f), f.Readers(), f.Writers())
			}
		})
	}
}

type closeable interface{ Close() error }

func closer[T closeable](c T, err error) (func() error, error) {
	if err != nil {
		return nil, err
	}
	return c.Close, nil
}

// TestFIFOOpenCounter checks that a partner which opened and closed again
// before the blocked opener ran still releases it, as Linux's open counters
// do.
func TestFIFOOpenCounter(t *testing.T) {
	t.Run("reader", func(t *testing.T) {
		f := NewFIFO(0o600, "u")
		gw := newGateWaiter()
		ch := make(chan *PipeReader, 1)
		errc := make(chan error, 1)
		go func() {
			r, err := f.OpenRead(gw, false)
			errc <- err
			ch <- r
		}()
		waitFor(t, "reader open to block", func() bool { return openWaiters(f) == 1 })
		w, err := f.OpenWrite(NewWaiter(), false)
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		gw.release(nil)
		if err := <-errc; err != nil {
			t.Fatalf("reader open: %v", err)
		}
		r := <-ch
		defer r.Close()
		if n, err := r.Read(NewWaiter(), make([]byte, 1), false); n != 0 || err != io.EOF {
			t.Fatalf("read with the writer gone: got (%d, %v), want (0, EOF)", n, err)
		}
	})
	t.Run("writer", func(t *testing.T) {
		f := NewFIFO(0o600, "u")
		gw := newGateWaiter()
		ch := make(chan *PipeWriter, 1)
		errc := make(chan error, 1)
		go func() {
			w, err := f.OpenWrite(gw, false)
			errc <- err
			ch <- w
		}()
		waitFor(t, "writer open to block", func() bool { return openWaiters(f) == 1 })
		r, err := f.OpenRead(NewWaiter(), false)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		gw.release(nil)
		if err := <-errc; err != nil {
			t.Fatalf("writer open: %v", err)
		}
		w := <-ch
		defer w.Close()
		if _, err := w.Write(NewWaiter(), []byte("x"), false); err != EPIPE {
			t.Fatalf("write with the reader gone: got %v, want EPIPE", err)
		}
	})
	t.Run("spurious wake-up keeps waiting", func(t *testing.T) {
		f := NewFIFO(0o600, "u")
		sw := &spuriousWaiter{n: 4, err: EINTR}
		if _, err := f.OpenRead(sw, false); err != EINTR || sw.waits != 5 {
			t.Fatalf("got %v after %d waits, want EINTR after 5", err, sw.waits)
		}
		if f.Readers() != 0 || openWaiters(f) != 0 {
			t.Fatalf("after interrupt: %d readers, %d open waiters", f.Readers(), openWaiters(f))
		}
	})
}

func TestFIFONonblockingOpen(t *testing.T) {
	tests := []struct {
		name      string
		hasReader bool
		hasWriter bool
		read      bool
		want      error
	}{
		{"read open without writer succeeds", false, false, true, nil},
		{"read open with writer succeeds", false, true, true, nil},
		{"write open without reader is ENXIO", false, false, false, ENXIO},
		{"write open with reader succeeds", true, false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFIFO(0o600, "u")
			if tt.hasReader {
				r, err := f.OpenRead(NewWaiter(), true)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
			}
			if tt.hasWriter {
				r, w := f.OpenReadWrite()
				r.Close()
				defer w.Close()
			}
			var err error
			if tt.read {
				var r *PipeReader
				if r, err = f.OpenRead(NewWaiter(), true); err == nil {
					defer r.Close()
				}
			} else {
				var w *PipeWriter
				if w, err = f.OpenWrite(NewWaiter(), true); err == nil {
					defer w.Close()
				}
			}
			if err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want == ENXIO && f.Writers() != 0 {
				t.Fatalf("failed open left %d writers", f.Writers())
			}
		})
	}
}

func TestFIFONonblockingReaderSeesEOF(t *testing.T) {
	f := NewFIFO(0o600, "u")
	r, err := f.OpenRead(NewWaiter(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.Read(NewWaiter(), make([]byte, 1), true); n != 0 || err != io.EOF {
		t.Fatalf("got (%d, %v), want (0, EOF)", n, err)
	}
}

func TestFIFOInterruptedOpen(t *testing.T) {
	for _, read := range []bool{true, false} {
		t.Run(map[bool]string{true: "read", false: "write"}[read], func(t *testing.T) {
			f := NewFIFO(0o600, "u")
			wt := newTestWaiter()
			ch := async(func() (int, error) {
				if read {
					_, err := f.OpenRead(wt, false)
					return 0, err
				}
				_, err := f.OpenWrite(wt, false)
				return 0, err
			})
			waitFor(t, "open to block", func() bool { return openWaiters(f) == 1 })
			wt.intr <- EINTR
			if got := await(t, ch); got.err != EINTR {
				t.Fatalf("got %v, want EINTR", got.err)
			}
			if openWaiters(f) != 0 || f.Readers() != 0 || f.Writers() != 0 {
				t.Fatalf("after interrupt: %d open waiters, %d readers, %d writers", openWaiters(f), f.Readers(), f.Writers())
			}
		})
	}
}

func TestFIFOData(t *testing.T) {
	t.Run("flows as in a pipe", func(t *testing.T) {
		f := NewFIFO(0o600, "u")
		r, w := f.OpenReadWrite()
		defer r.Close()
		if n, err := w.Write(NewWaiter(), []byte("hello"), false); n != 5 || err != nil {
			t.Fatalf("write: (%d, %v)", n, err)
		}
		w.Close()
		buf := make([]byte, 10)
		if n, err := r.Read(NewWaiter(), buf, false); string(buf[:n]) != "hello" || err != nil {
			t.Fatalf("read: got (%q, %v)", buf[:n], err)
		}
		if _, err := r.Read(NewWaiter(), buf, false); err != io.EOF {
			t.Fatalf("read after last writer closed: got %v, want EOF", err)
		}
	})
	t.Run("discarded when every end closes", func(t *testing.T) {
		f := NewFIFO(0o600, "u")
		r, w := f.OpenReadWrite()
		w.Write(NewWaiter(), []byte("stale"), false)
		w.SetCapacity(4096)
		w.Close()
		r.Close()
		r, w = f.OpenReadWrite()
		defer r.Close()
		defer w.Close()
		if r.Len() != 0 || r.Capacity() != DefaultPipeCapacity {
			t.Fatalf("reopened FIFO: Len %d, Capacity %d; want 0, %d", r.Len(), r.Capacity(), DefaultPipeCapacity)
		}
		if _, err := r.Read(NewWaiter(), make([]byte, 10), true); err != EAGAIN {
			t.Fatalf("read: got %v, want EAGAIN", err)
		}
	})
	t.Run("kept while one end stays open", func(t *testing.T) {
		f := NewFIFO(0o600, "u")
		r, w := f.OpenReadWrite()
		w.Write(NewWaiter(), []byte("keep"), false)
		w.Close()
		w2, err := f.OpenWrite(NewWaiter(), true)
		if err != nil {
			t.Fatal(err)
		}
		defer w2.Close()
		defer r.Close()
		if got := drain(t, r, 4); string(got) != "keep" {
			t.Fatalf("got %q, want %q", got, "keep")
		}
	})
}
