//go:build linux

package vfs

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/vproc/vproc/ipc"
)

// newHost returns a Host on a fresh temporary directory, closed when t ends.
func newHost(t *testing.T, dir string) *Host {
	t.Helper()
	h, err := NewHost(dir)
	if err != nil {
		t.Fatalf("NewHost: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestHostConformance(t *testing.T) {
	testConformance(t, func(t *testing.T) FS { return newHost(t, t.TempDir()) })
}

func TestNewHostErrors(t *testing.T) {
	_, err := NewHost(filepath.Join(t.TempDir(), "missing"))
	wantErrno(t, "missing dir", err, ipc.ENOENT)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewHost(file)
	wantErrno(t, "file", err, ipc.ENOTDIR)
}

func TestHostClose(t *testing.T) {
	h, err := NewHost(t.TempDir())
	mustOK(t, "NewHost", err)
	writeFile(t, h, "/f", "data")
	f, err := h.OpenFile("/f", os.O_RDONLY, 0)
	mustOK(t, "open", err)
	defer f.Close()
	mustOK(t, "close root", h.Close())
	_, err = h.Stat("/f")
	wantErrno(t, "stat after close", err, ipc.EBADF)
	wantErrno(t, "mkfifo after close", h.Mkfifo("/p", 0o644), ipc.EBADF)
	wantErrno(t, "rename after close", h.Rename("/f", "/g"), ipc.EBADF)
	if b, err := io.ReadAll(f); err != nil || string(b) != "data" {
		t.Fatalf("open file after close: got %q, %v, want %q", b, err, "data")
	}
}

// outsideSnapshot lists the tree under dir with contents, to show that it
// did not change.
func outsideSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		content := info.Mode().String()
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			content += " " + string(b)
		}
		snap[p] = content
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return snap
}

func TestHostEscape(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	rootDir := filepath.Join(base, "root")
	for _, d := range []string{outside, rootDir, filepath.Join(rootDir, "d")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootDir, "f"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"toroot": "/",                              // absolute, to the host's root
		"abs":    outside,                          // absolute, to the outside directory
		"up":     "../outside",                     // relative, leaving the root
		"d/up2":  "../../outside",                  // relative, from a subdirectory
		"sneaky": "d/../../outside",                // relative, climbing through a directory
		"absf":   filepath.Join(outside, "secret"), // absolute, to a file
		"upf":    "../outside/secret",              // relative, to a file
		"dangle": "../outside/new",                 // outside and missing
		"inside": "d",                              // fine: stays inside
		"loop":   "loop",                           // a loop
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(rootDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	h := newHost(t, rootDir)
	before := outsideSnapshot(t, outside)

	type op struct {
		name string
		do   func() error
	}
	open := func(name string, flag int) func() error {
		return func() error {
			f, err := h.OpenFile(name, flag, 0o644)
			if err == nil {
				f.Close()
			}
			return err
		}
	}
	stat := func(name string) func() error { return func() error { _, err := h.Stat(name); return err } }
	readDir := func(name string) func() error { return func() error { _, err := h.ReadDir(name); return err } }

	escapes := []op{}
	for _, dir := range []string{"/toroot", "/abs", "/up", "/d/up2", "/sneaky"} {
		secret := dir + "/secret"
		if dir == "/toroot" {
			secret = dir + filepath.Join(outside, "secret")
		}
		escapes = append(escapes,
			op{"stat " + dir, stat(dir)},
			op{"readdir " + dir, readDir(dir)},
			op{"open " + dir, open(dir, os.O_RDONLY)},
			op{"read " + secret, open(secret, os.O_RDONLY)},
			op{"write " + secret, open(secret, os.O_WRONLY|os.O_TRUNC)},
			op{"create in " + dir, open(dir+"/created", os.O_WRONLY|os.O_CREATE)},
			op{"create excl in " + dir, open(dir+"/created", os.O_WRONLY|os.O_CREATE|os.O_EXCL)},
			op{"mkdir in " + dir, func() error { return h.Mkdir(dir+"/newdir", 0o755) }},
			op{"mkfifo in " + dir, func() error { return h.Mkfifo(dir+"/fifo", 0o644) }},
			op{"remove " + secret, func() error { return h.Remove(secret) }},
			op{"rename from " + secret, func() error { return h.Rename(secret, "/stolen") }},
			op{"rename to " + dir, func() error { return h.Rename("/f", dir+"/planted") }},
		)
	}
	for _, link := range []string{"/absf", "/upf"} {
		escapes = append(escapes,
			op{"stat " + link, stat(link)},
			op{"read " + link, open(link, os.O_RDONLY)},
			op{"write " + link, open(link, os.O_RDWR|os.O_TRUNC)},
			op{"append " + link, open(link, os.O_WRONLY|os.O_APPEND|os.O_CREATE)},
		)
	}
	escapes = append(escapes,
		op{"create through dangling link", open("/dangle", os.O_WRONLY|os.O_CREATE)},
	)
	for _, tt := range escapes {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			wantErrno(t, tt.name, err, ErrEscape)
			wantErrno(t, tt.name, err, ipc.EXDEV)
		})
	}

	// Names with ".." stay inside: "/.." is "/".
	t.Run("dotdot", func(t *testing.T) {
		for _, name := range []string{"/../../etc/passwd", "/../outside/secret", "/d/../../outside/secret"} {
			_, err := h.Stat(name)
			wantErrno(t, "stat "+name, err, ipc.ENOENT)
			_, err = h.OpenFile(name, os.O_RDONLY, 0)
			wantErrno(t, "open "+name, err, ipc.ENOENT)
			wantErrno(t, "mkdir "+name, h.Mkdir(name+"/x", 0o755), ipc.ENOENT)
		}
		_, err := h.OpenFile("../..", os.O_RDONLY, 0)
		wantErrno(t, "open ../..", err, ipc.EINVAL)
		wantContent(t, h, "/../../f", "inside")
	})

	// Operations on the links themselves, and on links that stay inside,
	// are fine; a loop is ELOOP.
	t.Run("links themselves", func(t *testing.T) {
		writeFile(t, h, "/inside/g", "via link")
		wantContent(t, h, "/d/g", "via link")
		wantErrno(t, "mkfifo over a link", h.Mkfifo("/up", 0o644), ipc.EEXIST)
		wantErrno(t, "mkdir over a link", h.Mkdir("/abs", 0o755), ipc.EEXIST)
		_, err := h.Stat("/loop")
		wantErrno(t, "stat loop", err, ipc.ELOOP)
		entries, err := h.ReadDir("/")
		mustOK(t, "readdir", err)
		for _, e := range entries {
			if e.Name() == "up" {
				if e.Type() != fs.ModeSymlink {
					t.Fatalf("entry up: got type %v, want a symlink", e.Type())
				}
				fi, err := e.Info()
				if err != nil || fi.Mode().Type() != fs.ModeSymlink {
					t.Fatalf("entry up info: got %v, %v, want a symlink", fi, err)
				}
			}
		}
		mustOK(t, "rename a link", h.Rename("/up", "/up-renamed"))
		mustOK(t, "remove a link", h.Remove("/up-renamed"))
		mustOK(t, "remove another link", h.Remove("/abs"))
	})

	if after := outsideSnapshot(t, outside); !mapsEqual(before, after) {
		t.Fatalf("outside changed:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := os.Lstat(filepath.Join(base, "stolen")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("something was created beside the root: %v", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// TestHostSpecialFiles checks that a FIFO made on the host and a socket are
// refused without being opened.
func TestHostSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "hostfifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Symlink("hostfifo", filepath.Join(dir, "fifolink")); err != nil {
		t.Fatal(err)
	}
	h := newHost(t, dir)
	tests := []struct {
		name string
		want error
	}{
		{"/hostfifo", ErrFIFO},
		{"/fifolink", ErrFIFO},
		{"/sock", ipc.ENXIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_CREATE | os.O_TRUNC} {
				_, err := h.OpenFile(tt.name, flag, 0o644)
				wantErrno(t, "open", err, tt.want)
			}
			if errors.Is(tt.want, ipc.ENXIO) && tt.want != ErrFIFO {
				_, err := h.OpenFile(tt.name, os.O_RDONLY, 0)
				if errors.Is(err, ErrFIFO) {
					t.Fatalf("socket reported as a fifo: %v", err)
				}
			}
		})
	}
	// refuse is also what OpenFile applies after opening, for a file that
	// changed type between the stat and the open.
	for _, tt := range []struct {
		mode fs.FileMode
		want error
	}{
		{0o644, nil},
		{fs.ModeDir, nil},
		{fs.ModeNamedPipe, ErrFIFO},
		{fs.ModeDevice, ipc.ENXIO},
		{fs.ModeDevice | fs.ModeCharDevice, ipc.ENXIO},
		{fs.ModeSocket, ipc.ENXIO},
		{fs.ModeIrregular, ipc.ENXIO},
	} {
		if got := refuse(tt.mode); got != tt.want {
			t.Errorf("refuse(%v): got %v, want %v", tt.mode, got, tt.want)
		}
	}
}

func TestHostErrno(t *testing.T) {
	tests := []struct {
		in   error
		want ipc.Errno
	}{
		{syscall.EACCES, ipc.EACCES},
		{syscall.EPERM, ipc.EPERM},
		{syscall.EROFS, ipc.EROFS},
		{&fs.PathError{Op: "openat", Path: "x", Err: syscall.ENOSPC}, ipc.ENOSPC},
		{&os.LinkError{Op: "renameat", Old: "a", New: "b", Err: syscall.EXDEV}, ipc.EXDEV},
		{fs.ErrClosed, ipc.EBADF},
		{ipc.EBUSY, ipc.EBUSY},
		{errors.New("something else"), ipc.EIO},
		{&fs.PathError{Op: "open", Path: "x", Err: errors.New("odd")}, ipc.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.in.Error(), func(t *testing.T) {
			err := hostErr("op", "/x", tt.in)
			var errno ipc.Errno
			if !errors.As(err, &errno) || errno != tt.want {
				t.Fatalf("hostErr(%v): got %v, want %v", tt.in, err, tt.want)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != "/x" {
				t.Fatalf("hostErr(%v): got %#v, want a PathError for /x", tt.in, err)
			}
		})
	}
	if !errors.Is(hostErr("op", "/x", syscall.EACCES), fs.ErrPermission) {
		t.Fatal("EACCES does not match fs.ErrPermission")
	}
}

// TestHostPermissions checks that the host's permissions apply. Root
// bypasses them, so the test needs another user.
func TestHostPermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permission checks do not apply")
	}
	h := newHost(t, t.TempDir())
	mustOK(t, "mkdir", h.Mkdir("/ro", 0o555))
	_, err := h.OpenFile("/ro/f", os.O_WRONLY|os.O_CREATE, 0o644)
	wantErrno(t, "create in read-only directory", err, ipc.EACCES)
	wantErrno(t, "create in read-only directory", err, fs.ErrPermission)
	wantErrno(t, "mkfifo in read-only directory", h.Mkfifo("/ro/p", 0o644), ipc.EACCES)
	writeFile(t, h, "/private", "x")
	mustOK(t, "chmod", os.Chmod(filepath.Join(hostRoot(t, h), "private"), 0))
	_, err = h.OpenFile("/private", os.O_RDONLY, 0)
	wantErrno(t, "open unreadable file", err, ipc.EACCES)
}

// hostRoot returns the host directory of h, for tests that change it from
// outside.
func hostRoot(t *testing.T, h *Host) string {
	t.Helper()
	return h.root.Name()
}

// TestHostReadDirSorted checks sorting with more entries than one getdents
// call tends to return in order.
func TestHostReadDirSorted(t *testing.T) {
	h := newHost(t, t.TempDir())
	var want []string
	for i := range 200 {
		name := string(rune('a'+i%26)) + string(rune('a'+i/26))
		want = append(want, name)
		writeFile(t, h, "/"+name, "")
	}
	slices.Sort(want)
	entries, err := h.ReadDir("/")
	mustOK(t, "readdir", err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("readdir: got %v, want %v", got, want)
	}
}

func TestNewHostOnFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewHost(fifo)
	wantErrno(t, "fifo", err, ipc.ENOTDIR)
}

func TestHostConcurrent(t *testing.T) {
	testConcurrent(t, newHost(t, t.TempDir()), 8, 20)
}
