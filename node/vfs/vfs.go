package vfs

import (
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/vproc/vproc/ipc"
)

// FS is a filesystem namespace. Names are absolute and slash-separated; each
// method cleans them with [Clean] and fails with EINVAL or ENAMETOOLONG as
// Clean does. Errors are *fs.PathError values wrapping an ipc.Errno, or
// *os.LinkError values for Rename, which names two paths. Implementations
// are safe for concurrent use.
type FS interface {
	// OpenFile opens the named file. flag is a combination of os.O_RDONLY,
	// os.O_WRONLY or os.O_RDWR with os.O_CREATE, os.O_EXCL, os.O_TRUNC and
	// os.O_APPEND; other bits are ignored, as Linux ignores unknown flags.
	// perm is the permission of a file that O_CREATE creates. A directory
	// can be opened read-only; opening it for writing fails with EISDIR.
	// Opening a FIFO fails with an error matching ErrFIFO.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Stat describes the named file, following symbolic links.
	Stat(name string) (fs.FileInfo, error)
	// ReadDir lists the named directory, sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Mkdir creates a directory. It fails with EEXIST if the name exists.
	Mkdir(name string, perm fs.FileMode) error
	// Remove removes a file, a FIFO or an empty directory. A non-empty
	// directory fails with ENOTEMPTY, "/" with EBUSY. Files that are open
	// stay usable until they are closed.
	Remove(name string) error
	// Rename renames oldname to newname as rename(2) does: it replaces a
	// file, or an empty directory with a directory; it fails with EINVAL
	// when it would move a directory into itself.
	Rename(oldname, newname string) error
	// Mkfifo creates a FIFO node (fs.ModeNamedPipe). It fails with EEXIST
	// if the name exists.
	Mkfifo(name string, perm fs.FileMode) error
}

// File is an open file or directory of an [FS]. Each File has its own
// offset. Its methods are safe for concurrent use. Read and ReadAt on a
// directory fail with EISDIR; Write on a file opened read-only, and Read on
// one opened write-only, fail with EBADF; everything after Close fails with
// EBADF.
type File interface {
	io.Reader
	io.Writer
	io.Seeker
	io.ReaderAt
	io.Closer
	// Stat describes the open file as it is now.
	Stat() (fs.FileInfo, error)
	// Truncate changes the size of the file. It fails with EINVAL unless
	// the file is a regular file opened for writing and size is not
	// negative.
	Truncate(size int64) error
}

// MaxNameLen is the longest path component, in bytes (Linux's NAME_MAX).
const MaxNameLen = 255

// MaxPathLen is the longest path name, in bytes (Linux's PATH_MAX).
const MaxPathLen = 4096

// sentinelError is an error of this package that stands for an errno: it
// unwraps to it, so that errors.As finds the ipc.Errno to give a process.
type sentinelError struct {
	msg   string
	errno ipc.Errno
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.errno }

var (
	// ErrFIFO is the error (inside an *fs.PathError) of OpenFile on a FIFO
	// node: the kernel stats a name first and serves FIFOs from its own
	// registry. It unwraps to ipc.ENXIO.
	ErrFIFO error = &sentinelError{"is a fifo", ipc.ENXIO}
	// ErrEscape is the error (inside an *fs.PathError) of a Host operation
	// whose name would resolve outside the host directory, through a
	// symbolic link that is absolute or points outside. It unwraps to
	// ipc.EXDEV, the errno of Linux's openat2 with RESOLVE_BENEATH.
	ErrEscape error = &sentinelError{"path escapes from the root", ipc.EXDEV}
)

// Clean checks that name is an absolute path name as Linux would accept it
// and returns it cleaned with ipc.CleanName, the one normalisation of
// vproc's names (".", ".." and repeated slashes resolve lexically). An empty or relative name, or one
// that holds a NUL byte, fails with EINVAL; a component longer than
// MaxNameLen bytes, or a name longer than MaxPathLen bytes, fails with
// ENAMETOOLONG. The error is an *fs.PathError.
func Clean(name string) (string, error) {
	return clean("clean", name)
}

// clean is Clean with the operation to name in the error.
func clean(op, name string) (string, error) {
	if name == "" || name[0] != '/' || strings.IndexByte(name, 0) >= 0 {
		return "", &fs.PathError{Op: op, Path: name, Err: ipc.EINVAL}
	}
	if len(name) > MaxPathLen {
		return "", &fs.PathError{Op: op, Path: name, Err: ipc.ENAMETOOLONG}
	}
	for rest := name; rest != ""; {
		var comp string
		comp, rest, _ = strings.Cut(rest, "/")
		if len(comp) > MaxNameLen {
			return "", &fs.PathError{Op: op, Path: name, Err: ipc.ENAMETOOLONG}
		}
	}
	return ipc.CleanName(name), nil
}

// cleanOpen cleans the name of an OpenFile, keeps the flags an FS honours
// and checks their access mode (EINVAL).
func cleanOpen(name string, flag int) (string, int, error) {
	const op = "open"
	name, err := clean(op, name)
	if err != nil {
		return "", 0, err
	}
	flag &= openFlags
	if errno := checkAccess(flag); errno != 0 {
		return "", 0, pathErr(op, name, errno)
	}
	return name, flag, nil
}

// cleanNode cleans the name of an operation op that makes or removes a
// node, which "/" can't be: it fails with rootErr, EEXIST for making it and
// EBUSY for removing it.
func cleanNode(op, name string, rootErr ipc.Errno) (string, error) {
	name, err := clean(op, name)
	if err != nil {
		return "", err
	}
	if name == "/" {
		return "", pathErr(op, name, rootErr)
	}
	return name, nil
}

// cleanRename cleans the two names of a Rename. Either being "/" is EBUSY,
// as an *os.LinkError.
func cleanRename(oldname, newname string) (string, string, error) {
	const op = "rename"
	oldname, err := clean(op, oldname)
	if err != nil {
		return "", "", err
	}
	newname, err = clean(op, newname)
	if err != nil {
		return "", "", err
	}
	if oldname == "/" || newname == "/" {
		return "", "", &os.LinkError{Op: op, Old: oldname, New: newname, Err: ipc.EBUSY}
	}
	return oldname, newname, nil
}

// accMode masks the access mode out of open flags.
const accMode = os.O_RDONLY | os.O_WRONLY | os.O_RDWR

// openFlags are the open flags an FS honours; the others are ignored.
const openFlags = accMode | os.O_CREATE | os.O_EXCL | os.O_TRUNC | os.O_APPEND

// checkAccess validates the access mode of flag.
func checkAccess(flag int) ipc.Errno {
	switch flag & accMode {
	case os.O_RDONLY, os.O_WRONLY, os.O_RDWR:
		return 0
	}
	return ipc.EINVAL
}

// readable and writable report what an access mode allows.
func readable(flag int) bool { return flag&accMode != os.O_WRONLY }
func writable(flag int) bool { return flag&accMode != os.O_RDONLY }

// pathErr builds the error of an operation on name.
func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}
