package node

import (
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// These benchmarks run IPC between two virtual processes through the
// kernel's system calls: every read, write, send and receive is a yield point
// that may block without a slot. The ipc package's own benchmarks measure the
// mechanisms alone.

func benchPair(b *testing.B, progs map[string]Program, first, second string) {
	b.Helper()
	k := newKernel(b, withPrograms(progs))
	b.ResetTimer()
	p1 := mustSpawn(b, k, Spec{Command: first})
	p2 := mustSpawn(b, k, Spec{Command: second})
	s1, s2 := mustWait(b, k, p1), mustWait(b, k, p2)
	b.StopTimer()
	if s1.Status.ExitStatus() != 0 || s2.Status.ExitStatus() != 0 {
		b.Fatalf("%s: %v, %s: %v", first, s1.Status, second, s2.Status)
	}
}

// BenchmarkVprocPipeThroughput: a writer process streams into a FIFO that a
// reader process drains, with 4 KiB and 64 KiB writes.
func BenchmarkVprocPipeThroughput(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run("write="+itoaN(size>>10)+"KiB", func(b *testing.B) {
			total := int64(b.N) * int64(size)
			b.SetBytes(int64(size))
			name := "/bench-" + itoaN(size) + ".fifo"
			benchPair(b, map[string]Program{
				"writer": func(s *Sys) int {
					s.Mkfifo(name, 0o600)
					fd, err := s.Open(name, O_WRONLY, 0)
					if err != nil {
						return 1
					}
					buf := make([]byte, size)
					for range b.N {
						if _, err := s.File(fd).Write(buf); err != nil {
							return 2
						}
					}
					return 0
				},
				"reader": func(s *Sys) int {
					var fd int
					var err error
					for { // the writer makes the FIFO
						if fd, err = s.Open(name, O_RDONLY, 0); err == nil {
							break
						}
						s.Sleep(time.Millisecond)
					}
					buf := make([]byte, 64<<10)
					var got int64
					for got < total {
						n, err := s.Read(fd, buf)
						if err != nil {
							return 1
						}
						got += int64(n)
					}
					return 0
				},
			}, "writer", "reader")
		})
	}
}

// BenchmarkVprocPipePingPong: one byte back and forth over two pipes between
// two processes; ns/op is a round trip.
func BenchmarkVprocPipePingPong(b *testing.B) {
	benchPair(b, map[string]Program{
		"ping": func(s *Sys) int {
			s.Mkfifo("/ab", 0o600)
			s.Mkfifo("/ba", 0o600)
			w, _ := s.Open("/ab", O_WRONLY, 0)
			r, _ := s.Open("/ba", O_RDONLY, 0)
			buf := []byte{1}
			for range b.N {
				if _, err := s.Write(w, buf); err != nil {
					return 1
				}
				if _, err := s.Read(r, buf); err != nil {
					return 2
				}
			}
			return 0
		},
		"pong": func(s *Sys) int {
			var r, w int
			var err error
			for {
				if r, err = s.Open("/ab", O_RDONLY, 0); err == nil {
					break
				}
				s.Sleep(time.Millisecond)
			}
			w, _ = s.Open("/ba", O_WRONLY, 0)
			buf := []byte{0}
			for range b.N {
				if _, err := s.Read(r, buf); err != nil {
					return 1
				}
				if _, err := s.Write(w, buf); err != nil {
					return 2
				}
			}
			return 0
		},
	}, "ping", "pong")
}

// BenchmarkVprocMQPingPong: a 64-byte message back and forth over two queues.
func BenchmarkVprocMQPingPong(b *testing.B) {
	attr := &ipc.MQAttr{MaxMsg: 10, MsgSize: 64}
	open := func(s *Sys, name string, flags int) int {
		fd, err := s.MqOpen(name, flags|O_CREAT, 0o600, attr)
		if err != nil {
			return -1
		}
		return fd
	}
	benchPair(b, map[string]Program{
		"ping": func(s *Sys) int {
			a, c := open(s, "/ab", O_WRONLY), open(s, "/ba", O_RDONLY)
			msg := make([]byte, 64)
			for range b.N {
				if s.MqSend(a, msg, 0) != nil {
					return 1
				}
				if _, _, err := s.MqReceive(c, msg); err != nil {
					return 2
				}
			}
			return 0
		},
		"pong": func(s *Sys) int {
			a, c := open(s, "/ab", O_RDONLY), open(s, "/ba", O_WRONLY)
			msg := make([]byte, 64)
			for range b.N {
				if _, _, err := s.MqReceive(a, msg); err != nil {
					return 1
				}
				if s.MqSend(c, msg, 0) != nil {
					return 2
				}
			}
			return 0
		},
	}, "ping", "pong")
}

// BenchmarkVprocMQThroughput: one process sends 64-byte messages that
// another receives; reports msgs/s.
func BenchmarkVprocMQThroughput(b *testing.B) {
	attr := &ipc.MQAttr{MaxMsg: 256, MsgSize: 64}
	benchPair(b, map[string]Program{
		"sender": func(s *Sys) int {
			fd, err := s.MqOpen("/tp", O_WRONLY|O_CREAT, 0o600, attr)
			if err != nil {
				return 1
			}
			msg := make([]byte, 64)
			for range b.N {
				if s.MqSend(fd, msg, 0) != nil {
					return 2
				}
			}
			return 0
		},
		"receiver": func(s *Sys) int {
			fd, err := s.MqOpen("/tp", O_RDONLY|O_CREAT, 0o600, attr)
			if err != nil {
				return 1
			}
			msg := make([]byte, 64)
			for range b.N {
				if _, _, err := s.MqReceive(fd, msg); err != nil {
					return 2
				}
			}
			return 0
		},
	}, "sender", "receiver")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
