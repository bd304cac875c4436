package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/vproc/vproc/ipc"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wantErrno fails t unless err is an *fs.PathError or an *os.LinkError
// whose error matches want.
func wantErrno(t *testing.T, what string, err error, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", what, want)
	}
	var pe *fs.PathError
	var le *os.LinkError
	if !errors.As(err, &pe) && !errors.As(err, &le) {
		t.Errorf("%s: got %T (%v), want *fs.PathError or *os.LinkError", what, err, err)
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// mustOK fails t if err is not nil.
func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// writeFile creates or replaces name with data.
func writeFile(t *testing.T, fsys FS, name, data string) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	mustOK(t, "open "+name, err)
	_, err = io.WriteString(f, data)
	mustOK(t, "write "+name, err)
	mustOK(t, "close "+name, f.Close())
}

// readFile returns the content of name.
func readFile(t *testing.T, fsys FS, name string) string {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	mustOK(t, "open "+name, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	mustOK(t, "read "+name, err)
	return string(b)
}

// wantContent fails t unless name holds want.
func wantContent(t *testing.T, fsys FS, name, want string) {
	t.Helper()
	if got := readFile(t, fsys, name); got != want {
		t.Fatalf("content of %s: got %q, want %q", name, got, want)
	}
}

// wantMissing fails t unless name does not exist.
func wantMissing(t *testing.T, fsys FS, name string) {
	t.Helper()
	_, err := fsys.Stat(name)
	wantErrno(t, "stat "+name, err, ipc.ENOENT)
}

func TestClean(t *testing.T) {
	long := strings.Repeat("a", MaxNameLen)
	tests := []struct {
		in   string
		want string
		err  ipc.Errno
	}{
		{in: "/", want: "/"},
		{in: "/a/b", want: "/a/b"},
		{in: "/a/b/", want: "/a/b"},
		{in: "//a//b//", want: "/a/b"},
		{in: "/a/./b/../c", want: "/a/c"},
		{in: "/..", want: "/"},
		{in: "/../../etc", want: "/etc"},
		{in: "/" + long, want: "/" + long},
		{in: "/" + strings.Repeat("a/", MaxPathLen/2-1) + "a", want: "/" + strings.Repeat("a/", MaxPathLen/2-1) + "a"},
		{in: "", err: ipc.EINVAL},
		{in: "a/b", err: ipc.EINVAL},
		{in: "../..", err: ipc.EINVAL},
		{in: ".", err: ipc.EINVAL},
		{in: "/a\x00b", err: ipc.EINVAL},
		{in: "/" + long + "a", err: ipc.ENAMETOOLONG},
		{in: "/" + long + "a/..", err: ipc.ENAMETOOLONG},
		{in: "/" + strings.Repeat("a/", MaxPathLen/2) + "a", err: ipc.ENAMETOOLONG},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		t.Run(name, func(t *testing.T) {
			got, err := Clean(tt.in)
			if tt.err != 0 {
				wantErrno(t, "Clean", err, tt.err)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Clean(%q): got %q, %v, want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b/../c", "a", "/..", "//x//", "/a\x00", "/" + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Clean(in)
		if err != nil {
			var pe *fs.PathError
			if !errors.As(err, &pe) {
				t.Fatalf("Clean(%q): got %T, want *fs.PathError", in, err)
			}
			if !errors.Is(err, ipc.EINVAL) && !errors.Is(err, ipc.ENAMETOOLONG) {
				t.Fatalf("Clean(%q): got %v, want EINVAL or ENAMETOOLONG", in, err)
			}
			return
		}
		if !strings.HasPrefix(got, "/") || path.Clean(got) != got {
			t.Fatalf("Clean(%q) = %q: not absolute and clean", in, got)
		}
		if len(got) > MaxPathLen || strings.IndexByte(got, 0) >= 0 {
			t.Fatalf("Clean(%q) = %q: too long or holds NUL", in, got)
		}
		if again, err := Clean(got); err != nil || again != got {
			t.Fatalf("Clean(%q) = %q, %v: not idempotent", got, again, err)
		}
	})
}

func TestSentinels(t *testing.T) {
	tests := []struct {
		err     error
		errno   ipc.Errno
		message string
	}{
		{ErrFIFO, ipc.ENXIO, "is a fifo"},
		{ErrEscape, ipc.EXDEV, "path escapes from the root"},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			err := &fs.PathError{Op: "open", Path: "/x", Err: tt.err}
			if !errors.Is(err, tt.err) || !errors.Is(err, tt.errno) {
				t.Fatalf("got %v, want it to match itself and %v", err, tt.errno)
			}
			var errno ipc.Errno
			if !errors.As(err, &errno) || errno != tt.errno {
				t.Fatalf("errors.As: got %v, want %v", errno, tt.errno)
			}
			if got := err.Error(); got != "open /x: "+tt.message {
				t.Fatalf("message: got %q, want %q", got, "open /x: "+tt.message)
			}
		})
	}
	if errors.Is(ErrFIFO, ErrEscape) || errors.Is(&fs.PathError{Err: ipc.ENXIO}, ErrFIFO) {
		t.Fatal("sentinels must be distinct from each other and from their errno")
	}
}
