package ipc

import (
	"io"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// TestPipeConcurrentWritersProperty checks pipe(7)'s interleaving rule under
// concurrent writers: the byte stream read is an interleaving of the writes,
// each writer's bytes arrive in its own order, and every write of at most
// PipeBuf bytes arrives as one contiguous run.
//
// Every byte a writer sends carries the writer's number in its top two bits
// and the number of the write modulo 64 in the low six, so the reader can
// take the stream apart again.
func TestPipeConcurrentWritersProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.SampledFrom([]int{4096, 8192, 65536}).Draw(t, "capacity")
		nwriters := rapid.IntRange(1, 4).Draw(t, "writers")
		readSize := rapid.IntRange(1, 3*PipeBuf).Draw(t, "readSize")
		sizeGen := rapid.OneOf(
			rapid.IntRange(1, PipeBuf),
			rapid.IntRange(PipeBuf-16, PipeBuf),
			rapid.IntRange(PipeBuf+1, 4*PipeBuf),
		)
		writes := make([][]int, nwriters)
		for i := range writes {
			writes[i] = rapid.SliceOfN(sizeGen, 1, 12).Draw(t, "sizes")
		}

		r, w, err := NewPipe(capacity)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for id, sizes := range writes {
			wd := w.Dup()
			wg.Go(func() {
				defer wd.Close()
				wt := NewWaiter()
				for seq, n := range sizes {
					b := make([]byte, n)
					for i := range b {
						b[i] = byte(id<<6 | seq&63)
					}
					if got, err := wd.Write(wt, b, false); got != n || err != nil {
						t.Errorf("writer %d write %d: got (%d, %v), want (%d, nil)", id, seq, got, err, n)
						return
					}
				}
			})
		}
		w.Close()

		var stream []byte
		buf := make([]byte, readSize)
		wt := NewWaiter()
		for {
			n, err := r.Read(wt, buf, false)
			if err == io.EOF {
				break
			}
			if err != nil || n == 0 {
				t.Fatalf("Read: (%d, %v)", n, err)
			}
			stream = append(stream, buf[:n]...)
		}
		r.Close()
		wg.Wait()

		// Demultiplex: positions[id] lists where writer id's bytes landed.
		positions := make([][]int, nwriters)
		for pos, c := range stream {
			id := int(c >> 6)
			if id >= nwriters {
				t.Fatalf("byte %d: unknown writer %d", pos, id)
			}
			positions[id] = append(positions[id], pos)
		}
		for id, sizes := range writes {
			k := 0
			for seq, n := range sizes {
				if k+n > len(positions[id]) {
					t.Fatalf("writer %d: write %d (%d bytes) is missing bytes", id, seq, n)
				}
				for j := range n {
					if got := stream[positions[id][k+j]] & 63; int(got) != seq&63 {
						t.Fatalf("writer %d: byte %d of write %d belongs to write %d: order broken", id, j, seq, got)
					}
				}
				if n <= PipeBuf {
					first, last := positions[id][k], positions[id][k+n-1]
					if last-first != n-1 {
						t.Fatalf("writer %d: atomic write %d of %d bytes was split across stream positions %d..%d", id, seq, n, first, last)
					}
				}
				k += n
			}
			if k != len(positions[id]) {
				t.Fatalf("writer %d: %d extra bytes", id, len(positions[id])-k)
			}
		}
	})
}
