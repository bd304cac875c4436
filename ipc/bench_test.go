package ipc

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// The benchmarks run one producer and one consumer goroutine, each with its
// own NewWaiter, the way two kernel processes would use an object.

// BenchmarkPipeThroughput streams data through a default-capacity pipe with
// writes (and reads) of each size.
func BenchmarkPipeThroughput(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("write=%dKiB", size>>10), func(b *testing.B) {
			r, w, err := NewPipe(0)
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				wt := NewWaiter()
				buf := make([]byte, size)
				for {
					if _, err := r.Read(wt, buf, false); err != nil {
						if err == io.EOF {
							err = nil
						}
						done <- err
						return
					}
				}
			}()
			wt := NewWaiter()
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := w.Write(wt, buf, false); err != nil {
					b.Fatal(err)
				}
			}
			w.Close()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			r.Close()
		})
	}
}

// BenchmarkPipePingPong measures a round trip: one byte over one pipe and
// back over another. ns/op is the round-trip latency.
func BenchmarkPipePingPong(b *testing.B) {
	r1, w1, _ := NewPipe(0)
	r2, w2, _ := NewPipe(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w2.Close()
		wt := NewWaiter()
		buf := make([]byte, 1)
		for {
			if _, err := r1.Read(wt, buf, false); err != nil {
				return
			}
			if _, err := w2.Write(wt, buf, false); err != nil {
				return
			}
		}
	}()
	wt := NewWaiter()
	buf := make([]byte, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := w1.Write(wt, buf, false); err != nil {
			b.Fatal(err)
		}
		if _, err := r2.Read(wt, buf, false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	w1.Close()
	<-done
	r1.Close()
	r2.Close()
}

// BenchmarkMQThroughput streams 64-byte messages through a queue with
// msgsize 64 and each maxmsg, and reports msgs/s.
func BenchmarkMQThroughput(b *testing.B) {
	for _, maxMsg := range []int64{DefaultMaxMsg, 256, 1024} {
		b.Run(fmt.Sprintf("maxmsg=%d", maxMsg), func(b *testing.B) {
			ns := NewMQNamespace()
			attr := &MQAttr{MaxMsg: maxMsg, MsgSize: 64}
			tx, err := ns.Open("/bench", O_CREAT|O_WRONLY, 0o600, "u", attr)
			if err != nil {
				b.Fatal(err)
			}
			rx, err := ns.Open("/bench", O_RDONLY, 0o600, "u", nil)
			if err != nil {
				b.Fatal(err)
			}
			n := b.N
			done := make(chan error, 1)
			go func() {
				wt := NewWaiter()
				buf := make([]byte, 64)
				for range n {
					if _, _, err := rx.Receive(wt, buf, time.Time{}); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			wt := NewWaiter()
			msg := make([]byte, 64)
			b.SetBytes(64)
			b.ReportAllocs()
			b.ResetTimer()
			for range n {
				if err := tx.Send(wt, msg, 0, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
			tx.Close()
			rx.Close()
		})
	}
}

// BenchmarkMQPingPong measures a round trip: a 64-byte message over one
// queue and back over another (maxmsg 10, msgsize 64). ns/op is the
// round-trip latency.
func BenchmarkMQPingPong(b *testing.B) {
	ns := NewMQNamespace()
	attr := &MQAttr{MaxMsg: DefaultMaxMsg, MsgSize: 64}
	ping, _ := ns.Open("/ping", O_CREAT|O_RDWR, 0o600, "u", attr)
	pong, _ := ns.Open("/pong", O_CREAT|O_RDWR, 0o600, "u", attr)
	n := b.N
	done := make(chan error, 1)
	go func() {
		wt := NewWaiter()
		buf := make([]byte, 64)
		for range n {
			k, _, err := ping.Receive(wt, buf, time.Time{})
			if err == nil {
				err = pong.Send(wt, buf[:k], 0, time.Time{})
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	wt := NewWaiter()
	buf := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for range n {
		if err := ping.Send(wt, buf, 0, time.Time{}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := pong.Receive(wt, buf, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	ping.Close()
	pong.Close()
}

// BenchmarkShmAdd64 measures the lock-free atomic add on a mapped segment.
func BenchmarkShmAdd64(b *testing.B) {
	ns := NewShmNamespace()
	s, _ := ns.Open("/bench", O_CREAT|O_RDWR, 0o600, "u")
	defer s.Close()
	s.Truncate(4096)
	m, _ := s.Attach(false)
	defer m.Detach()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Add64(0, 1)
		}
	})
}

// BenchmarkShmReadAt measures locked 4 KiB copies out of a segment.
func BenchmarkShmReadAt(b *testing.B) {
	ns := NewShmNamespace()
	s, _ := ns.Open("/bench", O_CREAT|O_RDWR, 0o600, "u")
	defer s.Close()
	s.Truncate(1 << 20)
	m, _ := s.Attach(false)
	defer m.Detach()
	buf := make([]byte, 4096)
	for off := int64(0); off < 1<<20; off += 4096 {
		m.WriteAt(buf, off)
	}
	b.SetBytes(4096)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.ReadAt(buf, int64(i%256)*4096)
	}
}
