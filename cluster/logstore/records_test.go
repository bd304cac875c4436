package logstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chunksOf reads pid's whole log as chunks and joins each stream's bytes,
// checking that the offsets follow one another.
func chunksOf(t *testing.T, st *Store, pid uint64) (out, errOut string, chunks []Chunk) {
	t.Helper()
	var o, e strings.Builder
	var off int64
	for range 10000 {
		buf := make([]byte, 5) // small, to split records
		cs, at, next, err := st.ReadChunks(pid, off, buf)
		if err != nil {
			t.Fatal(err)
		}
		if next == at {
			return o.String(), e.String(), chunks
		}
		for _, c := range cs {
			if c.Stream == Stderr {
				e.Write(c.Data)
			} else {
				o.Write(c.Data)
			}
			chunks = append(chunks, c)
		}
		off = next
	}
	t.Fatal("the log does not end")
	return
}

// TestLogstoreStreams: stdout and stderr share a log, each write kept with
// its stream and time, in memory, on disk, and after a restart.
func TestLogstoreStreams(t *testing.T) {
	forEachMode(t, func(t *testing.T, dir string) {
		st := newTestLogStore(t, dir, 1<<20)
		before := time.Now()
		o, e := st.Writers(7)
		fmt.Fprint(o, "out1\n")
		fmt.Fprint(e, "err1\n")
		fmt.Fprint(o, "out2\n")
		fmt.Fprint(e, "err2\n")
		check := func(st *Store, when string) {
			t.Helper()
			out, errOut, chunks := chunksOf(t, st, 7)
			if out != "out1\nout2\n" || errOut != "err1\nerr2\n" {
				t.Errorf("%s: stdout %q stderr %q", when, out, errOut)
			}
			for _, c := range chunks {
				if c.At.Before(before.Add(-time.Second)) || c.At.After(time.Now().Add(time.Second)) {
					t.Errorf("%s: chunk %+v has time %v, want about %v", when, c, c.At, before)
				}
			}
			// The merged log is the bytes in the order written.
			if all, _ := readAll(t, st, 7, 0); all != "out1\nerr1\nout2\nerr2\n" {
				t.Errorf("%s: merged %q", when, all)
			}
		}
		check(st, "buffered")
		st.flushAll()
		check(st, "flushed")
		if dir == "" {
			return
		}
		st.Close()
		check(newTestLogStore(t, dir, 1<<20), "after a restart")
	})
}

// TestLogstoreReadsTheFormatBeforeRecords: a log a release without records
// left on disk (segment files only) is read whole after an upgrade, as
// stdout of unknown time, and new output is recorded after it.
func TestLogstoreReadsTheFormatBeforeRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Two contiguous segments, the older kept: offsets 100..105 and 105..111.
	os.WriteFile(filepath.Join(dir, "9.100.log"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "9.105.log"), []byte(" world"), 0o644)
	st := newTestLogStore(t, dir, 1<<20)
	if got, at := readAll(t, st, 9, 0); got != "hello world" || at != 100 {
		t.Fatalf("old log: %q at %d, want \"hello world\" at 100", got, at)
	}
	out, errOut, chunks := chunksOf(t, st, 9)
	if out != "hello world" || errOut != "" || len(chunks) == 0 || !chunks[0].At.IsZero() {
		t.Fatalf("old log as chunks: stdout %q stderr %q %+v", out, errOut, chunks)
	}
	_, e := st.Writers(9)
	fmt.Fprint(e, "oops")
	st.flushAll()
	st.Close()
	st2 := newTestLogStore(t, dir, 1<<20)
	out, errOut, _ = chunksOf(t, st2, 9)
	if out != "hello world" || errOut != "oops" {
		t.Fatalf("after writing and a restart: stdout %q stderr %q", out, errOut)
	}
}

// TestLogstoreRecordsStayBounded: records follow the log's bound, so
// alternating streams do not grow them past what the kept bytes need.
func TestLogstoreRecordsStayBounded(t *testing.T) {
	forEachMode(t, func(t *testing.T, dir string) {
		st := newTestLogStore(t, dir, 64)
		o, e := st.Writers(4)
		for i := range 1000 {
			fmt.Fprint(o, "a")
			fmt.Fprint(e, "b")
			if i%50 == 0 {
				st.flushAll()
			}
		}
		st.flushAll()
		st.mu.Lock()
		n := len(st.logs[4].recs)
		st.mu.Unlock()
		if n > 65 {
			t.Fatalf("%d records for a log of at most 64 bytes", n)
		}
		out, errOut, _ := chunksOf(t, st, 4)
		if strings.Trim(out, "a") != "" || strings.Trim(errOut, "b") != "" || len(out)+len(errOut) < 32 {
			t.Fatalf("stdout %q stderr %q", out, errOut)
		}
		if dir != "" {
			if fi, err := os.Stat(filepath.Join(dir, "4.rec")); err != nil || fi.Size() > 65*recordSize {
				t.Fatalf("records file: %v, %v", fi, err)
			}
		}
	})
}

// TestLogstoreDropsOrphanRecords: a records file whose segments are gone,
// and a records rewrite a crash cut short, are removed when the store
// opens.
func TestLogstoreDropsOrphanRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "12.rec"), make([]byte, recordSize), 0o644)
	os.WriteFile(filepath.Join(dir, "13.0.log"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "13.rec"), record{off: 0, at: 1, stream: Stderr}.append(nil), 0o644)
	// A rewrite that a crash cut short, and a file that is not the store's.
	os.WriteFile(filepath.Join(dir, "13.rec.tmp"), make([]byte, recordSize), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.tmp"), []byte("x"), 0o644)
	st := newTestLogStore(t, dir, 1<<20)
	if _, err := os.Stat(filepath.Join(dir, "12.rec")); !os.IsNotExist(err) {
		t.Fatalf("orphan records file: %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "13.rec.tmp")); !os.IsNotExist(err) {
		t.Fatalf("records rewrite left by a crash: %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.tmp")); err != nil {
		t.Fatalf("a file that is not the store's: %v, want it kept", err)
	}
	if _, errOut, _ := chunksOf(t, st, 13); errOut != "x" {
		t.Fatalf("log 13's stderr: %q, want x", errOut)
	}
}
