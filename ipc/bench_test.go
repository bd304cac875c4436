package ipc

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkPipeThroughput streams data from a writer goroutine to a reader
// goroutine through a default-capacity pipe, with writes of each size.
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
