package vfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

func TestMemModes(t *testing.T) {
	m := NewMem()
	tests := []struct {
		name string
		make func(name string, perm fs.FileMode) error
		perm fs.FileMode
		want fs.FileMode
	}{
		{"/file", func(name string, perm fs.FileMode) error {
			f, err := m.OpenFile(name, os.O_WRONLY|os.O_CREATE, perm)
			if err == nil {
				err = f.Close()
			}
			return err
		}, 0o777 | fs.ModeSetuid | fs.ModeDir, 0o777},
		{"/dir", m.Mkdir, 0o1777, fs.ModeDir | 0o777},
		{"/fifo", m.Mkfifo, 0o600 | fs.ModeSocket, fs.ModeNamedPipe | 0o600},
		{"/none", m.Mkdir, 0, fs.ModeDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustOK(t, "make", tt.make(tt.name, tt.perm))
			fi, err := m.Stat(tt.name)
			if err != nil || fi.Mode() != tt.want || fi.Sys() != nil {
				t.Fatalf("mode for perm %v: got %v, %v, want %v", tt.perm, fi.Mode(), err, tt.want)
			}
		})
	}
	// Permissions are recorded, not enforced.
	writeFile(t, m, "/none/f", "x")
	wantContent(t, m, "/none/f", "x")
	if fi, _ := m.Stat("/"); fi.Mode() != fs.ModeDir|0o755 {
		t.Fatalf("root mode: got %v, want drwxr-xr-x", fi.Mode())
	}
}

func TestMemModTime(t *testing.T) {
	m := NewMem()
	start := time.Now()
	f, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	mustOK(t, "open", err)
	defer f.Close()
	fi, err := f.Stat()
	mustOK(t, "stat", err)
	created := fi.ModTime()
	if created.Before(start) {
		t.Fatalf("modtime: got %v, want at or after %v", created, start)
	}
	_, err = f.Write([]byte("x"))
	mustOK(t, "write", err)
	fi, err = f.Stat()
	mustOK(t, "stat", err)
	if fi.ModTime().Before(created) {
		t.Fatalf("modtime after write: got %v, want at or after %v", fi.ModTime(), created)
	}
	dir, err := m.Stat("/")
	mustOK(t, "stat /", err)
	if dir.ModTime().Before(start) {
		t.Fatalf("directory modtime after create: got %v, want at or after %v", dir.ModTime(), start)
	}
}

func TestMemMaxFileSize(t *testing.T) {
	m := NewMem()
	f, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	mustOK(t, "open", err)
	defer f.Close()
	wantErrno(t, "truncate past the limit", f.Truncate(MemMaxFileSize+1), ipc.EFBIG)
	_, err = f.Seek(MemMaxFileSize, io.SeekStart)
	mustOK(t, "seek to the limit", err)
	_, err = f.Write([]byte("x"))
	wantErrno(t, "write past the limit", err, ipc.EFBIG)
	_, err = f.Seek(1<<62, io.SeekStart)
	mustOK(t, "seek far", err)
	_, err = f.Write([]byte("x"))
	wantErrno(t, "write far past the limit", err, ipc.EFBIG)
	_, err = f.Seek(1<<62, io.SeekCurrent)
	wantErrno(t, "seek overflowing", err, ipc.EINVAL)
	if fi, err := f.Stat(); err != nil || fi.Size() != 0 {
		t.Fatalf("size after failed writes: got %v, %v, want 0", fi, err)
	}
}

// testConcurrent has many goroutines create, write, read, rename, list and
// remove files at once, in private and shared directories. Run with -race.
func testConcurrent(t *testing.T, fsys FS, workers, rounds int) {
	mustOK(t, "mkdir", fsys.Mkdir("/shared", 0o755))
	shared, err := fsys.OpenFile("/shared/log", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	mustOK(t, "open shared", err)
	defer shared.Close()
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			errs <- concurrentWorker(fsys, shared, w, rounds)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	fi, err := fsys.Stat("/shared/log")
	mustOK(t, "stat log", err)
	if want := int64(workers * rounds * 8); fi.Size() != want {
		t.Fatalf("appended log: got %d bytes, want %d", fi.Size(), want)
	}
	entries, err := fsys.ReadDir("/shared")
	mustOK(t, "readdir", err)
	if len(entries) != 1+workers {
		t.Fatalf("shared directory: got %d entries, want %d", len(entries), 1+workers)
	}
}

// concurrentWorker is one goroutine of testConcurrent.
func concurrentWorker(fsys FS, shared File, w, rounds int) error {
	dir := "/w" + strconv.Itoa(w)
	if err := fsys.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for i := range rounds {
		name := fmt.Sprintf("%s/f%d", dir, i)
		want := fmt.Sprintf("worker %d round %d", w, i)
		f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(f, want); err != nil {
			return err
		}
		buf := make([]byte, len(want))
		if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != want {
			return fmt.Errorf("%s: got %q, %v, want %q", name, buf, err, want)
		}
		if _, err := fmt.Fprintf(shared, "%07d\n", w); err != nil {
			return err
		}
		if err := fsys.Rename(name, name+".done"); err != nil {
			return err
		}
		if _, err := fsys.ReadDir("/shared"); err != nil {
			return err
		}
		if _, err := fsys.Stat(name + ".done"); err != nil {
			return err
		}
		if err := fsys.Remove(name + ".done"); err != nil {
			return err
		}
		if _, err := f.Write([]byte("!")); err != nil { // unlinked, still open
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	// Leave one file in the shared directory, created under contention.
	f, err := fsys.OpenFile(fmt.Sprintf("/shared/w%d", w), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if entries, err := fsys.ReadDir(dir); err != nil || len(entries) != 0 {
		return fmt.Errorf("%s: got %d entries, %v, want none", dir, len(entries), err)
	}
	return fsys.Remove(dir)
}

func TestMemConcurrent(t *testing.T) {
	testConcurrent(t, NewMem(), 32, 100)
}

// TestMemSharedFile has goroutines share one File, as processes share a
// descriptor, so that its offset is contended.
func TestMemSharedFile(t *testing.T) {
	m := NewMem()
	f, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	mustOK(t, "open", err)
	defer f.Close()
	const workers, writes = 16, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range writes {
				f.Write([]byte("ab"))
				f.Seek(0, io.SeekCurrent)
				f.Stat()
			}
		})
	}
	wg.Wait()
	fi, err := f.Stat()
	if err != nil || fi.Size() != workers*writes*2 {
		t.Fatalf("size: got %v, %v, want %d", fi, err, workers*writes*2)
	}
}
