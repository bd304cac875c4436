//go:build linux

package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vproc/vproc/ipc"
)

// Host is an [FS] whose "/" is a directory of the host. Every name is
// resolved inside that directory through an os.Root: ".." never climbs
// above it, and a symbolic link that is absolute or that leads outside fails
// with an error matching [ErrEscape], so nothing outside the directory is
// ever read, created, changed or removed. Symbolic links that stay inside
// are followed as the host follows them.
//
// Permissions, ownership and the umask are the host's, applied to the
// process that runs the kernel. Host never opens a FIFO, a device or a
// socket of the host: OpenFile refuses a FIFO with [ErrFIFO] and the others
// with ENXIO. Errors of the host carry the same number as an ipc.Errno, and
// the errors of h's methods name the namespace's path, never the host's.
//
// A Host is safe for concurrent use.
type Host struct {
	root *os.Root // safe for concurrent use; released by Close
}

var _ FS = (*Host)(nil)

// NewHost returns a namespace whose "/" is the host directory dir. It fails
// with ENOTDIR if dir is not a directory.
func NewHost(dir string) (*Host, error) {
	const op = "openroot"
	// os.OpenRoot opens dir before it checks its type, which would block on
	// a FIFO.
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, hostErr(op, dir, err)
	}
	if !fi.IsDir() {
		return nil, pathErr(op, dir, ipc.ENOTDIR)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, hostErr(op, dir, err)
	}
	return &Host{root: root}, nil
}

// Close releases the host directory. Files already open stay usable; every
// later operation on h fails with EBADF.
func (h *Host) Close() error {
	if err := h.root.Close(); err != nil {
		return hostErr("close", "/", err)
	}
	return nil
}

// rel turns a cleaned absolute name into the name os.Root wants.
func rel(name string) string {
	if name == "/" {
		return "."
	}
	return name[1:]
}

// OpenFile opens the named file; see [FS]. It stats the name first and
// opens it with O_NONBLOCK and O_NOCTTY, then checks the type of what it
// opened, so that a FIFO, device or socket put in place between the two is
// refused without blocking.
func (h *Host) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	const op = "open"
	name, flag, err := cleanOpen(name, flag)
	if err != nil {
		return nil, err
	}
	if flag&(os.O_CREATE|os.O_EXCL) != os.O_CREATE|os.O_EXCL {
		// With O_EXCL the open makes a new file or fails; otherwise make
		// sure not to open anything but a file or a directory.
		if fi, err := h.root.Stat(rel(name)); err == nil {
			if err := refuse(fi.Mode()); err != nil {
				return nil, pathErr(op, name, err)
			}
		}
	}
	f, err := h.root.OpenFile(rel(name), flag|syscall.O_NONBLOCK|syscall.O_NOCTTY, perm&fs.ModePerm)
	if err != nil {
		return nil, hostErr(op, name, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = refuse(fi.Mode())
	}
	if err == nil {
		// A file or directory: O_NONBLOCK has served its purpose.
		err = control(f, func(fd int) error { return unix.SetNonblock(fd, false) })
	}
	if err != nil {
		f.Close()
		return nil, hostErr(op, name, err)
	}
	return &hostFile{f: f, name: name}, nil
}

// refuse returns the error for opening a file of the given mode, if any.
func refuse(mode fs.FileMode) error {
	switch {
	case mode.IsRegular(), mode.IsDir():
		return nil
	case mode.Type() == fs.ModeNamedPipe:
		return ErrFIFO
	}
	return ipc.ENXIO
}

// openDir opens the named directory, to list it or to act on its entries.
// O_DIRECTORY makes the open fail at once on anything else.
func (h *Host) openDir(name string) (*os.File, error) {
	return h.root.OpenFile(rel(name), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// inDir runs fn with the descriptor of the named directory, opened through
// the root, and the last component of name.
func (h *Host) inDir(op, name string, fn func(dirfd int, base string) error) error {
	d, err := h.openDir(path.Dir(name))
	if err != nil {
		return hostErr(op, name, err)
	}
	defer d.Close()
	if err := control(d, func(fd int) error { return fn(fd, path.Base(name)) }); err != nil {
		return hostErr(op, name, err)
	}
	return nil
}

// control runs fn with the descriptor of f.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// Stat describes the named file, following symbolic links inside the
// root; see [FS].
func (h *Host) Stat(name string) (fs.FileInfo, error) {
	const op = "stat"
	name, err := clean(op, name)
	if err != nil {
		return nil, err
	}
	fi, err := h.root.Stat(rel(name))
	if err != nil {
		return nil, hostErr(op, name, err)
	}
	return renamed(fi, name), nil
}

// ReadDir lists the named directory, sorted by name; see [FS]. The entries'
// Info describes them without following symbolic links, as lstat(2) does.
func (h *Host) ReadDir(name string) ([]fs.DirEntry, error) {
	const op = "readdirent"
	name, err := clean(op, name)
	if err != nil {
		return nil, err
	}
	d, err := h.openDir(name)
	if err != nil {
		return nil, hostErr(op, name, err)
	}
	defer d.Close()
	list, err := d.ReadDir(-1)
	if err != nil {
		return nil, hostErr(op, name, err)
	}
	entries := make([]fs.DirEntry, len(list))
	for i, e := range list {
		entries[i] = &hostDirEntry{DirEntry: e, h: h, name: path.Join(name, e.Name())}
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Mkdir creates a directory; see [FS].
func (h *Host) Mkdir(name string, perm fs.FileMode) error {
	const op = "mkdir"
	name, err := cleanNode(op, name, ipc.EEXIST)
	if err != nil {
		return err
	}
	if err := h.root.Mkdir(rel(name), perm&fs.ModePerm); err != nil {
		return hostErr(op, name, err)
	}
	return nil
}

// Mkfifo creates a FIFO node with mkfifoat(3) in the directory that will
// hold it, opened through the root; see [FS].
func (h *Host) Mkfifo(name string, perm fs.FileMode) error {
	const op = "mkfifo"
	name, err := cleanNode(op, name, ipc.EEXIST)
	if err != nil {
		return err
	}
	return h.inDir(op, name, func(dirfd int, base string) error {
		return unix.Mkfifoat(dirfd, base, uint32(perm&fs.ModePerm))
	})
}

// Remove removes a file, a FIFO, a symbolic link (not what it points to)
// or an empty directory; see [FS].
func (h *Host) Remove(name string) error {
	const op = "remove"
	name, err := cleanNode(op, name, ipc.EBUSY)
	if err != nil {
		return err
	}
	if err := h.root.Remove(rel(name)); err != nil {
		return hostErr(op, name, err)
	}
	return nil
}

// Rename renames oldname to newname with renameat(2) between the two
// directories, opened through the root, so that the host's own rules apply
// (os.Root.Rename refuses to replace an empty directory); see [FS]. A
// symbolic link is renamed itself, not what it points to.
func (h *Host) Rename(oldname, newname string) error {
	oldname, newname, err := cleanRename(oldname, newname)
	if err != nil {
		return err
	}
	linkErr := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: toErrno(err)}
	}
	od, err := h.openDir(path.Dir(oldname))
	if err != nil {
		return linkErr(err)
	}
	defer od.Close()
	nd, err := h.openDir(path.Dir(newname))
	if err != nil {
		return linkErr(err)
	}
	defer nd.Close()
	err = control(od, func(ofd int) error {
		return control(nd, func(nfd int) error {
			return unix.Renameat(ofd, path.Base(oldname), nfd, path.Base(newname))
		})
	})
	if err != nil {
		return linkErr(err)
	}
	return nil
}

// hostErr builds the error of operation op on the namespace's name from an
// error of the host.
func hostErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: toErrno(err)}
}

// escapeMsg is the message of the error os.Root returns when a name would
// leave it. os does not export that error; a test checks the message.
const escapeMsg = "path escapes from parent"

// toErrno turns an error of the host into an ipc.Errno, or into a sentinel
// of this package that unwraps to one.
func toErrno(err error) error {
	switch err.(type) {
	case ipc.Errno, *sentinelError:
		return err // already ours
	}
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return ipc.Errno(errno)
	case errors.Is(err, fs.ErrClosed):
		return ipc.EBADF
	}
	for inner := err; inner != nil; inner = errors.Unwrap(inner) {
		if inner.Error() == escapeMsg {
			return ErrEscape
		}
	}
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return &sentinelError{msg: err.Error(), errno: ipc.EIO}
}

// renamed gives fi the name the namespace knows it by: "/" for the root,
// whose host name would otherwise show.
func renamed(fi fs.FileInfo, name string) fs.FileInfo {
	if base := path.Base(name); fi.Name() != base {
		return &namedInfo{FileInfo: fi, name: base}
	}
	return fi
}

// namedInfo is a FileInfo under another name.
type namedInfo struct {
	fs.FileInfo
	name string
}

func (i *namedInfo) Name() string { return i.name }

// hostDirEntry is an entry of Host.ReadDir. Its Info goes through the root,
// not through the host path of the directory.
type hostDirEntry struct {
	fs.DirEntry
	h    *Host
	name string // the entry's cleaned name in the namespace
}

func (e *hostDirEntry) Info() (fs.FileInfo, error) {
	fi, err := e.h.root.Lstat(rel(e.name))
	if err != nil {
		return nil, hostErr("lstat", e.name, err)
	}
	return fi, nil
}

// hostFile is an open file of a Host. os.File is safe for concurrent use;
// hostFile only translates its errors.
type hostFile struct {
	f    *os.File // immutable
	name string   // immutable: the cleaned name it was opened by
}

var _ File = (*hostFile)(nil)

// fileErr translates an error of f's os.File, keeping io.EOF as it is.
func (f *hostFile) fileErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return hostErr(op, f.name, err)
}

// Read reads from the file's offset and advances it.
func (f *hostFile) Read(p []byte) (int, error) {
	n, err := f.f.Read(p)
	return n, f.fileErr("read", err)
}

// ReadAt reads from offset off and leaves the file's offset alone.
func (f *hostFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, pathErr("read", f.name, ipc.EINVAL)
	}
	n, err := f.f.ReadAt(p, off)
	return n, f.fileErr("read", err)
}

// Write writes at the file's offset, or at the end with O_APPEND.
func (f *hostFile) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	return n, f.fileErr("write", err)
}

// Seek sets the offset for the next Read or Write.
func (f *hostFile) Seek(offset int64, whence int) (int64, error) {
	off, err := f.f.Seek(offset, whence)
	return off, f.fileErr("seek", err)
}

// Close closes the file.
func (f *hostFile) Close() error {
	return f.fileErr("close", f.f.Close())
}

// Stat describes the open file as it is now.
func (f *hostFile) Stat() (fs.FileInfo, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return nil, f.fileErr("stat", err)
	}
	return renamed(fi, f.name), nil
}

// Truncate changes the size of the file.
func (f *hostFile) Truncate(size int64) error {
	return f.fileErr("truncate", f.f.Truncate(size))
}
