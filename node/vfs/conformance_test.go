package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vproc/vproc/ipc"
)

// conformanceCase is one behaviour every FS must have. run gets a fresh,
// empty namespace.
type conformanceCase struct {
	name string
	run  func(t *testing.T, fsys FS)
}

// testConformance runs every conformance case against a fresh namespace
// made by newFS.
func testConformance(t *testing.T, newFS func(t *testing.T) FS) {
	for _, tc := range conformanceCases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newFS(t))
		})
	}
}

func TestMemConformance(t *testing.T) {
	testConformance(t, func(*testing.T) FS { return NewMem() })
}

var conformanceCases = []conformanceCase{
	// OpenFile.
	{"open/create write read", func(t *testing.T, fsys FS) {
		f, err := fsys.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o640)
		mustOK(t, "open", err)
		defer f.Close()
		_, err = io.WriteString(f, "hello")
		mustOK(t, "write", err)
		off, err := f.Seek(0, io.SeekStart)
		if err != nil || off != 0 {
			t.Fatalf("seek: got %d, %v, want 0, nil", off, err)
		}
		b, err := io.ReadAll(f)
		if err != nil || string(b) != "hello" {
			t.Fatalf("read: got %q, %v, want %q", b, err, "hello")
		}
		fi, err := fsys.Stat("/f")
		mustOK(t, "stat", err)
		if fi.Name() != "f" || fi.Size() != 5 || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 || fi.IsDir() {
			t.Fatalf("stat: got name %q size %d mode %v, want f 5 -rw-r-----", fi.Name(), fi.Size(), fi.Mode())
		}
	}},
	{"open/missing", func(t *testing.T, fsys FS) {
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR | os.O_TRUNC} {
			_, err := fsys.OpenFile("/missing", flag, 0)
			wantErrno(t, "open", err, ipc.ENOENT)
			wantErrno(t, "open", err, fs.ErrNotExist)
		}
	}},
	{"open/create in missing directory", func(t *testing.T, fsys FS) {
		_, err := fsys.OpenFile("/nodir/f", os.O_WRONLY|os.O_CREATE, 0o644)
		wantErrno(t, "open", err, ipc.ENOENT)
	}},
	{"open/create existing keeps content", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "data")
		f, err := fsys.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o600)
		mustOK(t, "open", err)
		mustOK(t, "close", f.Close())
		wantContent(t, fsys, "/f", "data")
	}},
	{"open/excl on existing", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "data")
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o755))
		mustOK(t, "mkfifo", fsys.Mkfifo("/p", 0o644))
		for _, name := range []string{"/f", "/d", "/p", "/"} {
			_, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			wantErrno(t, "open "+name, err, ipc.EEXIST)
			wantErrno(t, "open "+name, err, fs.ErrExist)
		}
		wantContent(t, fsys, "/f", "data")
	}},
	{"open/excl creates", func(t *testing.T, fsys FS) {
		f, err := fsys.OpenFile("/f", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		mustOK(t, "open", err)
		mustOK(t, "close", f.Close())
		wantContent(t, fsys, "/f", "")
	}},
	{"open/trunc", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "hello world")
		f, err := fsys.OpenFile("/f", os.O_WRONLY|os.O_TRUNC, 0)
		mustOK(t, "open", err)
		fi, err := f.Stat()
		if err != nil || fi.Size() != 0 {
			t.Fatalf("size after O_TRUNC: got %v, %v, want 0", fi, err)
		}
		_, err = io.WriteString(f, "hi")
		mustOK(t, "write", err)
		mustOK(t, "close", f.Close())
		wantContent(t, fsys, "/f", "hi")
	}},
	{"open/trunc read-only", func(t *testing.T, fsys FS) {
		// POSIX leaves O_RDONLY|O_TRUNC unspecified; Linux truncates.
		writeFile(t, fsys, "/f", "hello")
		f, err := fsys.OpenFile("/f", os.O_RDONLY|os.O_TRUNC, 0)
		mustOK(t, "open", err)
		mustOK(t, "close", f.Close())
		wantContent(t, fsys, "/f", "")
	}},
	{"open/append", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "ab")
		a, err := fsys.OpenFile("/f", os.O_WRONLY|os.O_APPEND, 0)
		mustOK(t, "open a", err)
		defer a.Close()
		b, err := fsys.OpenFile("/f", os.O_RDWR|os.O_APPEND, 0)
		mustOK(t, "open b", err)
		defer b.Close()
		_, err = a.Seek(0, io.SeekStart)
		mustOK(t, "seek", err)
		for _, w := range []struct {
			f    File
			data string
		}{{a, "cd"}, {b, "ef"}, {a, "gh"}} {
			_, err := io.WriteString(w.f, w.data)
			mustOK(t, "write "+w.data, err)
		}
		wantContent(t, fsys, "/f", "abcdefgh")
		off, err := b.Seek(0, io.SeekCurrent)
		if err != nil || off != 6 {
			t.Fatalf("offset after append: got %d, %v, want 6", off, err)
		}
	}},
	{"open/independent offsets", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "0123456789")
		a, err := fsys.OpenFile("/f", os.O_RDONLY, 0)
		mustOK(t, "open a", err)
		defer a.Close()
		b, err := fsys.OpenFile("/f", os.O_RDONLY, 0)
		mustOK(t, "open b", err)
		defer b.Close()
		buf := make([]byte, 4)
		for _, r := range []struct {
			f    File
			want string
		}{{a, "0123"}, {a, "4567"}, {b, "0123"}, {a, "89"}, {b, "4567"}} {
			n, err := r.f.Read(buf)
			if err != nil || string(buf[:n]) != r.want {
				t.Fatalf("read: got %q, %v, want %q", buf[:n], err, r.want)
			}
		}
	}},
	{"open/access modes", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "data")
		r, err := fsys.OpenFile("/f", os.O_RDONLY, 0)
		mustOK(t, "open rdonly", err)
		defer r.Close()
		_, err = r.Write([]byte("x"))
		wantErrno(t, "write on O_RDONLY", err, ipc.EBADF)
		wantErrno(t, "truncate on O_RDONLY", r.Truncate(0), ipc.EINVAL)
		w, err := fsys.OpenFile("/f", os.O_WRONLY, 0)
		mustOK(t, "open wronly", err)
		defer w.Close()
		_, err = w.Read(make([]byte, 1))
		wantErrno(t, "read on O_WRONLY", err, ipc.EBADF)
		_, err = w.ReadAt(make([]byte, 1), 0)
		wantErrno(t, "readat on O_WRONLY", err, ipc.EBADF)
		_, err = fsys.OpenFile("/f", os.O_RDONLY|os.O_WRONLY|os.O_RDWR, 0)
		wantErrno(t, "open with access mode 3", err, ipc.EINVAL)
		wantContent(t, fsys, "/f", "data")
	}},
	{"open/directory", func(t *testing.T, fsys FS) {
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o755))
		for _, name := range []string{"/d", "/"} {
			f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
			mustOK(t, "open "+name, err)
			_, err = f.Read(make([]byte, 8))
			wantErrno(t, "read", err, ipc.EISDIR)
			_, err = f.ReadAt(make([]byte, 8), 0)
			wantErrno(t, "readat", err, ipc.EISDIR)
			_, err = f.Write([]byte("x"))
			wantErrno(t, "write", err, ipc.EBADF)
			wantErrno(t, "truncate", f.Truncate(0), ipc.EINVAL)
			fi, err := f.Stat()
			if err != nil || !fi.IsDir() || fi.Name() != strings.TrimPrefix(name, "/") && name != "/" {
				t.Fatalf("stat %s: got %v, %v, want a directory", name, fi, err)
			}
			if name == "/" && fi.Name() != "/" {
				t.Fatalf("stat /: got name %q, want /", fi.Name())
			}
			mustOK(t, "close", f.Close())
		}
		for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_CREATE, os.O_RDONLY | os.O_TRUNC} {
			_, err := fsys.OpenFile("/d", flag, 0o644)
			wantErrno(t, "open for writing", err, ipc.EISDIR)
		}
	}},
	{"open/fifo", func(t *testing.T, fsys FS) {
		mustOK(t, "mkfifo", fsys.Mkfifo("/p", 0o640))
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_TRUNC} {
			_, err := fsys.OpenFile("/p", flag, 0o644)
			wantErrno(t, "open fifo", err, ErrFIFO)
			wantErrno(t, "open fifo", err, ipc.ENXIO)
		}
	}},
	{"open/file as directory", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "data")
		_, err := fsys.OpenFile("/f/x", os.O_RDWR|os.O_CREATE, 0o644)
		wantErrno(t, "open", err, ipc.ENOTDIR)
		_, err = fsys.OpenFile("/f/x/y", os.O_RDONLY, 0)
		wantErrno(t, "open", err, ipc.ENOTDIR)
		_, err = fsys.Stat("/f/x")
		wantErrno(t, "stat", err, ipc.ENOTDIR)
		_, err = fsys.ReadDir("/f")
		wantErrno(t, "readdir", err, ipc.ENOTDIR)
		wantErrno(t, "mkdir", fsys.Mkdir("/f/x", 0o755), ipc.ENOTDIR)
		wantErrno(t, "mkfifo", fsys.Mkfifo("/f/x", 0o644), ipc.ENOTDIR)
		wantErrno(t, "remove", fsys.Remove("/f/x"), ipc.ENOTDIR)
		wantErrno(t, "rename from", fsys.Rename("/f/x", "/y"), ipc.ENOTDIR)
		wantErrno(t, "rename to", fsys.Rename("/f", "/f/x"), ipc.ENOTDIR)
	}},
	{"open/ignores other flags", func(t *testing.T, fsys FS) {
		f, err := fsys.OpenFile("/f", os.O_RDWR|os.O_CREATE|os.O_SYNC, 0o644)
		mustOK(t, "open", err)
		mustOK(t, "close", f.Close())
	}},

	// File.
	{"file/stat follows size", func(t *testing.T, fsys FS) {
		f, err := fsys.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
		mustOK(t, "open", err)
		defer f.Close()
		for _, step := range []struct {
			do   func() error
			size int64
		}{
			{func() error { return nil }, 0},
			{func() error { _, err := f.Write([]byte("hello")); return err }, 5},
			{func() error { _, err := f.Write([]byte(" world")); return err }, 11},
			{func() error { return f.Truncate(3) }, 3},
			{func() error { return f.Truncate(20) }, 20},
		} {
			mustOK(t, "step", step.do())
			fi, err := f.Stat()
			if err != nil || fi.Size() != step.size || fi.Name() != "f" {
				t.Fatalf("stat: got %v, %v, want f of size %d", fi, err, step.size)
			}
		}
	}},
	{"file/seek", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "0123456789")
		f, err := fsys.OpenFile("/f", os.O_RDWR, 0)
		mustOK(t, "open", err)
		defer f.Close()
		for _, s := range []struct {
			offset int64
			whence int
			want   int64
		}{{4, io.SeekStart, 4}, {2, io.SeekCurrent, 6}, {-3, io.SeekEnd, 7}, {-7, io.SeekCurrent, 0}, {5, io.SeekEnd, 15}} {
			got, err := f.Seek(s.offset, s.whence)
			if err != nil || got != s.want {
				t.Fatalf("Seek(%d, %d): got %d, %v, want %d", s.offset, s.whence, got, err, s.want)
			}
		}
		_, err = f.Seek(-1, io.SeekStart)
		wantErrno(t, "seek before start", err, ipc.EINVAL)
		_, err = f.Seek(0, 7)
		wantErrno(t, "seek with bad whence", err, ipc.EINVAL)
		_, err = io.WriteString(f, "x") // at 15: leaves a hole of zeros
		mustOK(t, "write", err)
		wantContent(t, fsys, "/f", "0123456789\x00\x00\x00\x00\x00x")
	}},
	{"file/read at end", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "abc")
		f, err := fsys.OpenFile("/f", os.O_RDONLY, 0)
		mustOK(t, "open", err)
		defer f.Close()
		n, err := f.Read(nil)
		if n != 0 || err != nil {
			t.Fatalf("empty read: got %d, %v, want 0, nil", n, err)
		}
		buf := make([]byte, 8)
		n, err = f.Read(buf)
		if n != 3 || err != nil && err != io.EOF {
			t.Fatalf("read: got %d, %v, want 3", n, err)
		}
		n, err = f.Read(buf)
		if n != 0 || err != io.EOF {
			t.Fatalf("read at end: got %d, %v, want 0, io.EOF", n, err)
		}
	}},
	{"file/readat", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "0123456789")
		f, err := fsys.OpenFile("/f", os.O_RDONLY, 0)
		mustOK(t, "open", err)
		defer f.Close()
		for _, r := range []struct {
			off    int64
			size   int
			want   string
			wantEO bool
		}{{2, 3, "234", false}, {7, 5, "789", true}, {10, 1, "", true}, {20, 1, "", true}, {0, 10, "0123456789", false}} {
			buf := make([]byte, r.size)
			n, err := f.ReadAt(buf, r.off)
			if string(buf[:n]) != r.want || (err == io.EOF) != r.wantEO || err != nil && err != io.EOF {
				t.Fatalf("ReadAt(%d bytes, %d): got %q, %v, want %q (EOF %v)", r.size, r.off, buf[:n], err, r.want, r.wantEO)
			}
		}
		_, err = f.ReadAt(make([]byte, 1), -1)
		wantErrno(t, "negative offset", err, ipc.EINVAL)
		if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != 0 {
			t.Fatalf("ReadAt moved the offset: got %d, %v, want 0", off, err)
		}
	}},
	{"file/truncate", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "abcdef")
		f, err := fsys.OpenFile("/f", os.O_RDWR, 0)
		mustOK(t, "open", err)
		defer f.Close()
		mustOK(t, "shrink", f.Truncate(2))
		wantContent(t, fsys, "/f", "ab")
		mustOK(t, "grow", f.Truncate(5))
		wantContent(t, fsys, "/f", "ab\x00\x00\x00")
		mustOK(t, "empty", f.Truncate(0))
		_, err = f.Seek(3, io.SeekStart)
		mustOK(t, "seek", err)
		_, err = io.WriteString(f, "x")
		mustOK(t, "write", err)
		wantContent(t, fsys, "/f", "\x00\x00\x00x")
		wantErrno(t, "negative size", f.Truncate(-1), ipc.EINVAL)
	}},
	{"file/closed", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "data")
		f, err := fsys.OpenFile("/f", os.O_RDWR, 0)
		mustOK(t, "open", err)
		mustOK(t, "close", f.Close())
		_, err = f.Read(make([]byte, 1))
		wantErrno(t, "read", err, ipc.EBADF)
		_, err = f.ReadAt(make([]byte, 1), 0)
		wantErrno(t, "readat", err, ipc.EBADF)
		_, err = f.Write([]byte("x"))
		wantErrno(t, "write", err, ipc.EBADF)
		_, err = f.Seek(0, io.SeekStart)
		wantErrno(t, "seek", err, ipc.EBADF)
		_, err = f.Stat()
		wantErrno(t, "stat", err, ipc.EBADF)
		wantErrno(t, "truncate", f.Truncate(0), ipc.EBADF)
		wantErrno(t, "second close", f.Close(), ipc.EBADF)
	}},
	{"file/unlinked stays usable", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "old")
		f, err := fsys.OpenFile("/f", os.O_RDWR, 0)
		mustOK(t, "open", err)
		defer f.Close()
		mustOK(t, "remove", fsys.Remove("/f"))
		wantMissing(t, fsys, "/f")
		_, err = f.Seek(0, io.SeekEnd)
		mustOK(t, "seek", err)
		_, err = io.WriteString(f, "+more")
		mustOK(t, "write after unlink", err)
		buf := make([]byte, 16)
		n, err := f.ReadAt(buf, 0)
		if string(buf[:n]) != "old+more" || err != io.EOF {
			t.Fatalf("read after unlink: got %q, %v, want %q, io.EOF", buf[:n], err, "old+more")
		}
		if fi, err := f.Stat(); err != nil || fi.Size() != 8 {
			t.Fatalf("stat after unlink: got %v, %v, want size 8", fi, err)
		}
		writeFile(t, fsys, "/f", "new")
		wantContent(t, fsys, "/f", "new")
		if n, _ := f.ReadAt(buf, 0); string(buf[:n]) != "old+more" {
			t.Fatalf("the new file changed the unlinked one: got %q", buf[:n])
		}
	}},
	{"file/renamed stays usable", func(t *testing.T, fsys FS) {
		f, err := fsys.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
		mustOK(t, "open", err)
		defer f.Close()
		mustOK(t, "rename", fsys.Rename("/f", "/g"))
		_, err = io.WriteString(f, "moved")
		mustOK(t, "write", err)
		wantContent(t, fsys, "/g", "moved")
	}},

	// Stat and ReadDir.
	{"stat/root", func(t *testing.T, fsys FS) {
		fi, err := fsys.Stat("/")
		if err != nil || !fi.IsDir() || fi.Name() != "/" || fi.Mode().Type() != fs.ModeDir {
			t.Fatalf("stat /: got %v, %v, want the directory /", fi, err)
		}
	}},
	{"stat/missing", func(t *testing.T, fsys FS) {
		for _, name := range []string{"/missing", "/missing/deeper"} {
			_, err := fsys.Stat(name)
			wantErrno(t, "stat "+name, err, ipc.ENOENT)
			wantErrno(t, "stat "+name, err, fs.ErrNotExist)
		}
	}},
	{"readdir/sorted with types", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/d/../c", "ccc")
		writeFile(t, fsys, "/a", "a")
		mustOK(t, "mkdir", fsys.Mkdir("/b", 0o755))
		writeFile(t, fsys, "/b/inner", "x")
		mustOK(t, "mkfifo", fsys.Mkfifo("/p", 0o644))
		entries, err := fsys.ReadDir("/")
		mustOK(t, "readdir", err)
		want := []struct {
			name string
			typ  fs.FileMode
			size int64
		}{{"a", 0, 1}, {"b", fs.ModeDir, -1}, {"c", 0, 3}, {"p", fs.ModeNamedPipe, 0}}
		if len(entries) != len(want) {
			t.Fatalf("readdir: got %d entries, want %d", len(entries), len(want))
		}
		for i, w := range want {
			e := entries[i]
			if e.Name() != w.name || e.Type() != w.typ || e.IsDir() != (w.typ == fs.ModeDir) {
				t.Fatalf("entry %d: got %s %v, want %s %v", i, e.Name(), e.Type(), w.name, w.typ)
			}
			fi, err := e.Info()
			if err != nil || fi.Name() != w.name || fi.Mode().Type() != w.typ || w.size >= 0 && fi.Size() != w.size {
				t.Fatalf("entry %d info: got %v, %v, want %s %v size %d", i, fi, err, w.name, w.typ, w.size)
			}
		}
		fi, err := fsys.Stat("/p")
		if err != nil || fi.Mode().Type() != fs.ModeNamedPipe || fi.Mode().Perm() != 0o644 {
			t.Fatalf("stat fifo: got %v, %v, want prw-r--r--", fi, err)
		}
	}},
	{"readdir/empty and errors", func(t *testing.T, fsys FS) {
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o755))
		entries, err := fsys.ReadDir("/d")
		if err != nil || len(entries) != 0 {
			t.Fatalf("readdir empty: got %v, %v, want none", entries, err)
		}
		_, err = fsys.ReadDir("/missing")
		wantErrno(t, "readdir missing", err, ipc.ENOENT)
		mustOK(t, "mkfifo", fsys.Mkfifo("/p", 0o644))
		_, err = fsys.ReadDir("/p")
		wantErrno(t, "readdir fifo", err, ipc.ENOTDIR)
	}},

	// Mkdir and Mkfifo.
	{"mkdir", func(t *testing.T, fsys FS) {
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o700))
		mustOK(t, "mkdir nested", fsys.Mkdir("/d/e", 0o755))
		fi, err := fsys.Stat("/d")
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || fi.Name() != "d" {
			t.Fatalf("stat: got %v, %v, want drwx------ d", fi, err)
		}
		writeFile(t, fsys, "/d/e/f", "x")
		wantContent(t, fsys, "/d/e/f", "x")
		writeFile(t, fsys, "/f", "x")
		mustOK(t, "mkfifo", fsys.Mkfifo("/p", 0o644))
		for _, name := range []string{"/d", "/f", "/p", "/", "/d/"} {
			wantErrno(t, "mkdir "+name, fsys.Mkdir(name, 0o755), ipc.EEXIST)
		}
		wantErrno(t, "mkdir in missing", fsys.Mkdir("/missing/d", 0o755), ipc.ENOENT)
	}},
	{"mkfifo", func(t *testing.T, fsys FS) {
		mustOK(t, "mkfifo", fsys.Mkfifo("/p", 0o600))
		fi, err := fsys.Stat("/p")
		if err != nil || fi.Mode().Type() != fs.ModeNamedPipe || fi.Mode().Perm() != 0o600 || fi.Name() != "p" {
			t.Fatalf("stat: got %v, %v, want prw------- p", fi, err)
		}
		writeFile(t, fsys, "/f", "x")
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o755))
		for _, name := range []string{"/p", "/f", "/d", "/"} {
			wantErrno(t, "mkfifo "+name, fsys.Mkfifo(name, 0o644), ipc.EEXIST)
		}
		wantErrno(t, "mkfifo in missing", fsys.Mkfifo("/missing/p", 0o644), ipc.ENOENT)
		mustOK(t, "mkfifo nested", fsys.Mkfifo("/d/p", 0o644))
	}},

	// Remove.
	{"remove", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "x")
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o755))
		mustOK(t, "mkfifo", fsys.Mkfifo("/p", 0o644))
		for _, name := range []string{"/f", "/d", "/p"} {
			mustOK(t, "remove "+name, fsys.Remove(name))
			wantMissing(t, fsys, name)
		}
		entries, err := fsys.ReadDir("/")
		if err != nil || len(entries) != 0 {
			t.Fatalf("readdir after removes: got %v, %v, want none", entries, err)
		}
	}},
	{"remove/errors", func(t *testing.T, fsys FS) {
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o755))
		writeFile(t, fsys, "/d/f", "x")
		err := fsys.Remove("/d")
		wantErrno(t, "remove non-empty", err, ipc.ENOTEMPTY)
		wantContent(t, fsys, "/d/f", "x")
		wantErrno(t, "remove missing", fsys.Remove("/missing"), ipc.ENOENT)
		wantErrno(t, "remove missing", fsys.Remove("/missing/f"), ipc.ENOENT)
		wantErrno(t, "remove root", fsys.Remove("/"), ipc.EBUSY)
	}},

	// Rename.
	{"rename/file", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "data")
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o755))
		mustOK(t, "rename", fsys.Rename("/f", "/d/g"))
		wantMissing(t, fsys, "/f")
		wantContent(t, fsys, "/d/g", "data")
	}},
	{"rename/replaces a file", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "new")
		writeFile(t, fsys, "/g", "old")
		mustOK(t, "rename", fsys.Rename("/f", "/g"))
		wantMissing(t, fsys, "/f")
		wantContent(t, fsys, "/g", "new")
		mustOK(t, "mkfifo", fsys.Mkfifo("/p", 0o644))
		mustOK(t, "rename fifo over file", fsys.Rename("/p", "/g"))
		if fi, err := fsys.Stat("/g"); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
			t.Fatalf("stat: got %v, %v, want a fifo", fi, err)
		}
	}},
	{"rename/directory", func(t *testing.T, fsys FS) {
		mustOK(t, "mkdir", fsys.Mkdir("/a", 0o755))
		mustOK(t, "mkdir", fsys.Mkdir("/a/sub", 0o755))
		writeFile(t, fsys, "/a/sub/f", "deep")
		mustOK(t, "mkdir", fsys.Mkdir("/b", 0o755))
		mustOK(t, "mkdir", fsys.Mkdir("/empty", 0o755))
		mustOK(t, "rename into other directory", fsys.Rename("/a/sub", "/b/sub"))
		wantContent(t, fsys, "/b/sub/f", "deep")
		wantMissing(t, fsys, "/a/sub")
		mustOK(t, "rename over empty directory", fsys.Rename("/b", "/empty"))
		wantContent(t, fsys, "/empty/sub/f", "deep")
		wantMissing(t, fsys, "/b")
	}},
	{"rename/type and emptiness errors", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "x")
		mustOK(t, "mkdir", fsys.Mkdir("/d", 0o755))
		mustOK(t, "mkdir", fsys.Mkdir("/full", 0o755))
		writeFile(t, fsys, "/full/f", "y")
		wantErrno(t, "file over directory", fsys.Rename("/f", "/d"), ipc.EISDIR)
		wantErrno(t, "directory over file", fsys.Rename("/d", "/f"), ipc.ENOTDIR)
		wantErrno(t, "directory over non-empty directory", fsys.Rename("/d", "/full"), ipc.ENOTEMPTY)
		wantContent(t, fsys, "/f", "x")
		wantContent(t, fsys, "/full/f", "y")
	}},
	{"rename/into itself", func(t *testing.T, fsys FS) {
		mustOK(t, "mkdir", fsys.Mkdir("/a", 0o755))
		mustOK(t, "mkdir", fsys.Mkdir("/a/b", 0o755))
		wantErrno(t, "into child", fsys.Rename("/a", "/a/c"), ipc.EINVAL)
		wantErrno(t, "into grandchild", fsys.Rename("/a", "/a/b/c"), ipc.EINVAL)
		wantErrno(t, "onto own parent", fsys.Rename("/a/b", "/a"), ipc.ENOTEMPTY)
		if fi, err := fsys.Stat("/a/b"); err != nil || !fi.IsDir() {
			t.Fatalf("stat /a/b: got %v, %v, want it unchanged", fi, err)
		}
	}},
	{"rename/missing and root", func(t *testing.T, fsys FS) {
		writeFile(t, fsys, "/f", "x")
		wantErrno(t, "missing source", fsys.Rename("/missing", "/g"), ipc.ENOENT)
		wantErrno(t, "missing target directory", fsys.Rename("/f", "/missing/g"), ipc.ENOENT)
		wantErrno(t, "rename root", fsys.Rename("/", "/g"), ipc.EBUSY)
		wantErrno(t, "rename onto root", fsys.Rename("/f", "/"), ipc.EBUSY)
		mustOK(t, "rename to itself", fsys.Rename("/f", "/f"))
		wantContent(t, fsys, "/f", "x")
	}},

	// Names.
	{"names/cleaned", func(t *testing.T, fsys FS) {
		mustOK(t, "mkdir", fsys.Mkdir("//d/", 0o755))
		writeFile(t, fsys, "/d/./x/../f", "x")
		wantContent(t, fsys, "/../d//f", "x")
		if _, err := fsys.Stat("/d/f/"); err != nil {
			t.Fatalf("stat with trailing slash: %v", err)
		}
	}},
	{"names/invalid", func(t *testing.T, fsys FS) {
		long := "/" + strings.Repeat("n", MaxNameLen+1)
		for _, tt := range []struct {
			name string
			want ipc.Errno
		}{{"", ipc.EINVAL}, {"rel", ipc.EINVAL}, {"../..", ipc.EINVAL}, {"/a\x00b", ipc.EINVAL}, {long, ipc.ENAMETOOLONG}} {
			_, err := fsys.OpenFile(tt.name, os.O_RDWR|os.O_CREATE, 0o644)
			wantErrno(t, "open", err, tt.want)
			_, err = fsys.Stat(tt.name)
			wantErrno(t, "stat", err, tt.want)
			_, err = fsys.ReadDir(tt.name)
			wantErrno(t, "readdir", err, tt.want)
			wantErrno(t, "mkdir", fsys.Mkdir(tt.name, 0o755), tt.want)
			wantErrno(t, "mkfifo", fsys.Mkfifo(tt.name, 0o644), tt.want)
			wantErrno(t, "remove", fsys.Remove(tt.name), tt.want)
			wantErrno(t, "rename from", fsys.Rename(tt.name, "/x"), tt.want)
			wantErrno(t, "rename to", fsys.Rename("/", tt.name), tt.want)
		}
		entries, err := fsys.ReadDir("/")
		if err != nil || len(entries) != 0 {
			t.Fatalf("invalid names created %v (%v)", entries, err)
		}
	}},
	{"names/error paths", func(t *testing.T, fsys FS) {
		_, err := fsys.Stat("/a/../missing")
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != "/missing" || pe.Op != "stat" {
			t.Fatalf("got %#v, want a PathError for stat /missing", err)
		}
		err = fsys.Rename("/x", "/y")
		var le *os.LinkError
		if !errors.As(err, &le) || le.Old != "/x" || le.New != "/y" {
			t.Fatalf("got %#v, want a LinkError for /x and /y", err)
		}
	}},

	// A bigger file, to cover growth.
	{"file/large write", func(t *testing.T, fsys FS) {
		data := bytes.Repeat([]byte("0123456789abcdef"), 1<<14)
		f, err := fsys.OpenFile("/big", os.O_RDWR|os.O_CREATE, 0o644)
		mustOK(t, "open", err)
		defer f.Close()
		for chunk := range slices.Chunk(data, 4000) {
			_, err := f.Write(chunk)
			mustOK(t, "write", err)
		}
		if got := readFile(t, fsys, "/big"); got != string(data) {
			t.Fatalf("content: got %d bytes, want %d", len(got), len(data))
		}
	}},
}
