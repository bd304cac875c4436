package node

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/vfs"
)

// devCheck exercises /dev as Linux has it, and reports the first deviation
// on its stdout.
func devCheck(s *Sys) int {
	fail := func(format string, args ...any) int {
		s.Printf("FAIL "+format+"\n", args...)
		return 1
	}
	open := func(name string, flags int) int {
		fd, err := s.Open(name, flags, 0)
		if err != nil {
			fail("open %s: %v", name, err)
			return -1
		}
		return fd
	}
	buf := make([]byte, 64)

	null := open("/dev/null", O_RDWR)
	if n, err := s.Write(null, make([]byte, 4096)); n != 4096 || err != nil {
		return fail("write /dev/null: %d, %v", n, err)
	}
	if _, err := s.Read(null, buf); err != io.EOF {
		return fail("read /dev/null: %v, want EOF", err)
	}
	zero := open("/dev/zero", O_RDONLY)
	for i := range buf {
		buf[i] = 'x'
	}
	if n, err := s.Read(zero, buf); n != len(buf) || err != nil || !bytes.Equal(buf, make([]byte, len(buf))) {
		return fail("read /dev/zero: %d %v %q", n, err, buf[:n])
	}
	full := open("/dev/full", O_RDWR)
	if _, err := s.Write(full, []byte("x")); !errors.Is(err, ipc.ENOSPC) {
		return fail("write /dev/full: %v, want ENOSPC", err)
	}
	if n, err := s.Read(full, buf); n != len(buf) || err != nil {
		return fail("read /dev/full: %d, %v", n, err)
	}
	for _, name := range []string{"/dev/random", "/dev/urandom"} {
		fd := open(name, O_RDONLY)
		if n, err := s.Read(fd, buf); n != len(buf) || err != nil || bytes.Equal(buf, make([]byte, len(buf))) {
			return fail("read %s: %d %v", name, n, err)
		}
	}
	out := open("/dev/stdout", O_WRONLY)
	s.Write(out, []byte("via /dev/stdout\n"))
	errfd := open("/dev/stderr", O_WRONLY|O_APPEND)
	s.Write(errfd, []byte("via /dev/stderr\n"))
	r, w, _ := s.Pipe()
	wfd := open("/dev/fd/"+itoa(w), O_WRONLY)
	s.Write(wfd, []byte("through the pipe"))
	s.Close(w)
	s.Close(wfd)
	rfd := open("/dev/fd/"+itoa(r), O_RDONLY)
	if n, _ := s.Read(rfd, buf); string(buf[:n]) != "through the pipe" {
		return fail("read of /dev/fd/%d: %q", r, buf[:n])
	}
	if _, err := s.Open("/dev/fd/99", O_RDONLY, 0); !errors.Is(err, ipc.ENOENT) {
		return fail("open of a closed descriptor's /dev/fd: %v, want ENOENT", err)
	}
	if _, err := s.Open("/dev/stdin", O_WRONLY, 0); !errors.Is(err, ipc.EACCES) {
		return fail("open /dev/stdin for writing: %v, want EACCES", err)
	}
	if _, err := s.Open("/dev/nope", O_RDONLY, 0); !errors.Is(err, ipc.ENOENT) {
		return fail("open /dev/nope: %v, want ENOENT", err)
	}

	ents, err := s.ReadDir("/dev")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := "fd full null random stderr stdin stdout urandom zero"; err != nil || strings.Join(names, " ") != want {
		return fail("ls /dev: %v %v, want %s", names, err, want)
	}
	ents, err = s.ReadDir("/")
	if err != nil || len(ents) == 0 || !hasEntry(ents, "dev") {
		return fail("ls / has no dev: %v", err)
	}
	if fi, err := s.Stat("/dev/null"); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		return fail("stat /dev/null: %v %v", fi, err)
	}
	if fi, err := s.Stat("/dev/fd/" + itoa(r)); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		return fail("stat of a pipe's /dev/fd: %v", err)
	}
	if err := s.Remove("/dev/null"); !errors.Is(err, ipc.EPERM) {
		return fail("rm /dev/null: %v, want EPERM", err)
	}
	if err := s.Mkfifo("/dev/f", 0o600); !errors.Is(err, ipc.EPERM) {
		return fail("mkfifo /dev/f: %v, want EPERM", err)
	}
	if err := s.Chdir("/dev"); err != nil {
		return fail("cd /dev: %v", err)
	}
	if fd, err := s.Open("null", O_WRONLY, 0); err != nil {
		return fail("open null relative to /dev: %v", err)
	} else if n, err := s.Write(fd, make([]byte, 100)); n != 100 || err != nil {
		return fail("write past fsize to /dev/null: %d, %v", n, err)
	}
	return 0
}

func hasEntry(ents []fs.DirEntry, name string) bool {
	for _, e := range ents {
		if e.Name() == name {
			return true
		}
	}
	return false
}

// /dev is the kernel's in every namespace: the in-memory one and a host
// directory that has no /dev of its own.
func TestDev(t *testing.T) {
	host, err := vfs.NewHost(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fs   vfs.FS
	}{{"mem", vfs.NewMem()}, {"host", host}} {
		t.Run(c.name, func(t *testing.T) {
			k := newKernel(t, withPrograms(map[string]Program{"devcheck": devCheck}), func(cfg *Config) { cfg.FS = c.fs })
			var out, errs syncBuffer
			pid := mustSpawn(t, k, Spec{Command: "devcheck", Stdout: &out, Stderr: &errs, Limits: limited(t, "fsize=10")})
			st := mustWait(t, k, pid).Status
			if st.ExitStatus() != 0 || out.String() != "via /dev/stdout\n" || errs.String() != "via /dev/stderr\n" {
				t.Fatalf("devcheck: %v, stdout %q, stderr %q", st, out.String(), errs.String())
			}
		})
	}
}
