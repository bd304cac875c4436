package logstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestLogStore(t *testing.T, dir string, max int64) *Store {
	t.Helper()
	st, err := New(dir, max, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// readAll reads pid's log from off to its current end.
func readAll(t *testing.T, st *Store, pid uint64, off int64) (string, int64) {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 7) // small, to cross segment and buffer boundaries
	first := int64(-1)
	for {
		n, at, err := st.Read(pid, off, buf)
		if err != nil {
			t.Fatalf("read pid %d at %d: %v", pid, off, err)
		}
		if first < 0 {
			first = at
		}
		if n == 0 {
			return out.String(), first
		}
		out.Write(buf[:n])
		off = at + int64(n)
	}
}

func forEachMode(t *testing.T, fn func(t *testing.T, dir string)) {
	t.Run("memory", func(t *testing.T) { fn(t, "") })
	t.Run("disk", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "logs")) })
}

func TestLogstoreReadOffsets(t *testing.T) {
	forEachMode(t, func(t *testing.T, dir string) {
		st := newTestLogStore(t, dir, 1<<20)
		w := st.Writer(5)
		fmt.Fprint(w, "hello ")
		fmt.Fprint(w, "world\n")
		for _, flushed := range []bool{false, true} {
			if flushed {
				st.flushAll()
			}
			for _, tt := range []struct {
				off  int64
				want string
			}{{0, "hello world\n"}, {6, "world\n"}, {11, "\n"}, {12, ""}, {99, ""}} {
				got, at := readAll(t, st, 5, tt.off)
				if got != tt.want || at != tt.off {
					t.Errorf("flushed=%v: read at %d: got %q at %d, want %q at %d", flushed, tt.off, got, at, tt.want, tt.off)
				}
			}
		}
		// Appending after a flush, read across the boundary.
		fmt.Fprint(w, "again\n")
		if got, _ := readAll(t, st, 5, 0); got != "hello world\nagain\n" {
			t.Errorf("across the flush boundary: got %q", got)
		}
		if got, _ := readAll(t, st, 6, 0); got != "" {
			t.Errorf("a PID without a log: got %q", got)
		}
	})
}

func TestLogstoreBounded(t *testing.T) {
	forEachMode(t, func(t *testing.T, dir string) {
		const max = 100
		st := newTestLogStore(t, dir, max)
		w := st.Writer(7)
		var all strings.Builder
		for i := range 200 {
			line := fmt.Sprintf("line %03d\n", i) // 9 bytes
			all.WriteString(line)
			fmt.Fprint(w, line)
			if i%7 == 0 {
				st.flushAll()
			}
		}
		check := func(when string) {
			got, at := readAll(t, st, 7, 0)
			whole := all.String()
			if int64(len(got)) > max || int64(len(got)) < max/2 {
				t.Errorf("%s: kept %d bytes, want between %d and %d", when, len(got), max/2, max)
			}
			if at+int64(len(got)) != int64(len(whole)) || whole[at:] != got {
				t.Errorf("%s: kept %q at %d, want the tail of the output", when, got, at)
			}
		}
		check("before the flush")
		st.flushAll()
		check("after the flush")
		// A huge write at once keeps only the newest bytes.
		big := strings.Repeat("x", 10*max) + "END"
		all.WriteString(big)
		fmt.Fprint(w, big)
		check("after a huge write")
		st.flushAll()
		check("after flushing a huge write")
		if dir != "" {
			segs, recs := countFiles(dir)
			if segs > 2 || recs != 1 {
				t.Errorf("segment files: got %d, want at most 2; records files %d, want 1", segs, recs)
			}
		}
	})
}

func TestLogstoreReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	st, err := New(dir, 64, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	w := st.Writer(3)
	var all strings.Builder
	for i := range 20 {
		s := fmt.Sprintf("%02d-", i)
		all.WriteString(s)
		fmt.Fprint(w, s)
		st.flushAll()
	}
	want, at := readAll(t, st, 3, 0)
	st.Close()
	st2 := newTestLogStore(t, dir, 64)
	got, at2 := readAll(t, st2, 3, 0)
	if got != want || at2 != at {
		t.Errorf("after reopening: got %q at %d, want %q at %d", got, at2, want, at)
	}
	if _, finished := st2.WaitChan(3, at2+int64(len(got))); !finished {
		t.Errorf("a reopened log is not done")
	}
	// Writing goes on at the logical end.
	fmt.Fprint(st2.Writer(3), "more")
	got, _ = readAll(t, st2, 3, at2+int64(len(want)))
	if got != "more" {
		t.Errorf("after reopening and writing: got %q", got)
	}
}

func TestLogstoreNoOpenFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	st := newTestLogStore(t, dir, 1<<20)
	for pid := uint64(2); pid < 200; pid++ {
		fmt.Fprintf(st.Writer(pid), "output of %d\n", pid)
	}
	st.flushAll()
	readAll(t, st, 100, 0)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir) {
			t.Errorf("an idle log keeps a file open: %s", target)
		}
	}
	if segs, recs := countFiles(dir); segs != 198 || recs != 198 {
		t.Errorf("segment files: got %d, want 198; records files %d, want 198", segs, recs)
	}
}

// countFiles counts the segment files and the records files in dir.
func countFiles(dir string) (segs, recs int) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		switch {
		case strings.HasSuffix(e.Name(), ".log"):
			segs++
		case strings.HasSuffix(e.Name(), ".rec"):
			recs++
		}
	}
	return segs, recs
}

func TestLogstoreRemoveAndWake(t *testing.T) {
	forEachMode(t, func(t *testing.T, dir string) {
		st := newTestLogStore(t, dir, 1<<20)
		wake, finished := st.WaitChan(4, 0)
		if finished {
			t.Fatal("an empty live log is finished")
		}
		w := st.Writer(4)
		fmt.Fprint(w, "x")
		select {
		case <-wake:
		case <-time.After(5 * time.Second):
			t.Fatal("a write did not wake the reader")
		}
		wake, _ = st.WaitChan(4, 1)
		st.Finish(4)
		select {
		case <-wake:
		case <-time.After(5 * time.Second):
			t.Fatal("finish did not wake the reader")
		}
		if _, finished := st.WaitChan(4, 1); !finished {
			t.Error("a finished log read to its end is not finished")
		}
		st.flushAll()
		st.Remove(4)
		if st.Has(4) {
			t.Error("a removed log is still there")
		}
		if dir != "" {
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("files left after remove: %d", len(ents))
			}
		}
		// Writes after the remove go nowhere (no resurrection by a late
		// writer keeps memory bounded) and reads see nothing.
		fmt.Fprint(w, "late")
		if got, _ := readAll(t, st, 4, 0); got != "late" && got != "" {
			t.Errorf("after remove: got %q", got)
		}
	})
}

// TestLogstoreFinishWritesTheBuffer checks that Finish puts what a process
// wrote into its log's files before it returns: the runner reports the
// exit after Finish, and an agent killed then (no Close, no flusher run)
// must not lose the output of a process whose exit the table holds. The
// flusher waits an hour here, so only Finish can write the files.
func TestLogstoreFinishWritesTheBuffer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	st, err := newStore(dir, 1<<20, slog.New(slog.DiscardHandler), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	out, errw := st.Writers(7)
	fmt.Fprint(out, "1\n2\n")
	fmt.Fprint(errw, "oops\n")
	fmt.Fprint(st.Writer(8), "not finished\n")
	st.Finish(7)

	// A second store on the same directory is the agent after a crash.
	st2 := newTestLogStore(t, dir, 1<<20)
	if got, _ := readAll(t, st2, 7, 0); got != "1\n2\noops\n" {
		t.Errorf("after a crash following Finish: got %q, want %q", got, "1\n2\noops\n")
	}
	chunks, _, _, err := st2.ReadChunks(7, 0, make([]byte, 64))
	if err != nil || len(chunks) != 2 || chunks[1].Stream != Stderr {
		t.Errorf("after a crash following Finish: chunks %+v, %v; want stdout then stderr", chunks, err)
	}
	// Output of a process still running waits for the flusher.
	if st2.Has(8) {
		t.Errorf("the unfinished log of pid 8 was written before its flush")
	}
}
