package vfs

import (
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vproc/vproc/ipc"
)

// MemMaxFileSize is the largest size of a file in a [Mem], 1 GiB. A write or
// a Truncate past it fails with EFBIG, so that a seek far past the end
// cannot make the namespace allocate without bound. Per-process limits on
// output and memory are the kernel's to enforce.
const MemMaxFileSize = 1 << 30

// Mem is an in-memory [FS], the default namespace. It records the
// permission bits it is given (only those; the type bits are its own) but
// enforces none of them, and it has no symbolic links, owners or umask.
// The zero value is not usable; call [NewMem]. A Mem is safe for concurrent
// use.
type Mem struct {
	mu   sync.RWMutex // guards every memNode of the tree and every open file's node
	root *memNode     // immutable pointer
}

var _ FS = (*Mem)(nil)

// memNode is a file, a directory or a FIFO. Its fields other than mode are
// guarded by the owning Mem's mu.
type memNode struct {
	mode     fs.FileMode         // immutable: type bits and permission bits
	modTime  time.Time           // last change of data or, for a directory, of entries
	data     []byte              // the content of a regular file
	children map[string]*memNode // the entries of a directory
}

// NewMem returns an empty in-memory namespace: "/" exists, with mode 0755.
func NewMem() *Mem {
	return &Mem{root: newMemNode(fs.ModeDir | 0o755)}
}

func newMemNode(mode fs.FileMode) *memNode {
	n := &memNode{mode: mode, modTime: time.Now()}
	if mode.IsDir() {
		n.children = make(map[string]*memNode)
	}
	return n
}

// walk returns the node named by the cleaned name. m.mu must be held.
func (m *Mem) walk(name string) (*memNode, ipc.Errno) {
	n := m.root
	if name == "/" {
		return n, 0
	}
	for comp := range strings.SplitSeq(name[1:], "/") {
		if !n.mode.IsDir() {
			return nil, ipc.ENOTDIR
		}
		child, ok := n.children[comp]
		if !ok {
			return nil, ipc.ENOENT
		}
		n = child
	}
	return n, 0
}

// parent returns the directory that holds, or would hold, the cleaned name
// other than "/", and the last component of name. m.mu must be held.
func (m *Mem) parent(name string) (*memNode, string, ipc.Errno) {
	dir, errno := m.walk(path.Dir(name))
	if errno != 0 {
		return nil, "", errno
	}
	if !dir.mode.IsDir() {
		return nil, "", ipc.ENOTDIR
	}
	return dir, path.Base(name), 0
}

// OpenFile opens the named file; see [FS].
func (m *Mem) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	name, flag, err := cleanOpen(name, flag)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.openNode(name, flag, perm)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &memFile{m: m, n: n, name: name, flag: flag}, nil
}

// openNode finds or creates the node that OpenFile opens. m.mu must be
// held for writing.
func (m *Mem) openNode(name string, flag int, perm fs.FileMode) (*memNode, error) {
	var n *memNode
	if name == "/" {
		n = m.root
	} else {
		dir, base, errno := m.parent(name)
		if errno != 0 {
			return nil, errno
		}
		var ok bool
		if n, ok = dir.children[base]; !ok {
			if flag&os.O_CREATE == 0 {
				return nil, ipc.ENOENT
			}
			return dir.add(base, perm&fs.ModePerm), nil
		}
	}
	switch {
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, ipc.EEXIST
	case n.mode.IsDir():
		if writable(flag) || flag&(os.O_CREATE|os.O_TRUNC) != 0 {
			return nil, ipc.EISDIR
		}
	case n.mode.Type() == fs.ModeNamedPipe:
		return nil, ErrFIFO
	case flag&os.O_TRUNC != 0:
		// POSIX leaves O_RDONLY|O_TRUNC unspecified; Linux truncates.
		n.resize(0)
		n.modTime = time.Now()
	}
	return n, nil
}

// resize sets the size of a regular file, filling any new bytes with zeros.
// The owning Mem's mu must be held for writing.
func (n *memNode) resize(size int64) {
	old := int64(len(n.data))
	switch {
	case size == 0:
		n.data = nil
	case size <= old:
		n.data = n.data[:size]
	default:
		n.data = slices.Grow(n.data, int(size-old))[:size]
		clear(n.data[old:])
	}
}

// info describes the node under the given name. The owning Mem's mu must be
// held.
func (n *memNode) info(name string) *memInfo {
	return &memInfo{name: name, size: int64(len(n.data)), mode: n.mode, modTime: n.modTime}
}

// Stat describes the named file; see [FS].
func (m *Mem) Stat(name string) (fs.FileInfo, error) {
	const op = "stat"
	name, err := clean(op, name)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, errno := m.walk(name)
	if errno != 0 {
		return nil, pathErr(op, name, errno)
	}
	return n.info(path.Base(name)), nil
}

// ReadDir lists the named directory, sorted by name; see [FS]. The entries'
// Info is a snapshot taken by ReadDir.
func (m *Mem) ReadDir(name string) ([]fs.DirEntry, error) {
	const op = "readdirent"
	name, err := clean(op, name)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, errno := m.walk(name)
	if errno == 0 && !n.mode.IsDir() {
		errno = ipc.ENOTDIR
	}
	if errno != 0 {
		return nil, pathErr(op, name, errno)
	}
	entries := make([]fs.DirEntry, 0, len(n.children))
	for base, child := range n.children {
		entries = append(entries, fs.FileInfoToDirEntry(child.info(base)))
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Mkdir creates a directory; see [FS].
func (m *Mem) Mkdir(name string, perm fs.FileMode) error {
	return m.mknod("mkdir", name, fs.ModeDir|perm&fs.ModePerm)
}

// Mkfifo creates a FIFO node; see [FS].
func (m *Mem) Mkfifo(name string, perm fs.FileMode) error {
	return m.mknod("mkfifo", name, fs.ModeNamedPipe|perm&fs.ModePerm)
}

// mknod creates a node of the given mode under a name that must not exist.
func (m *Mem) mknod(op, name string, mode fs.FileMode) error {
	name, err := cleanNode(op, name, ipc.EEXIST)
	if err != nil {
		return err
	}
	return m.inDir(op, name, func(dir *memNode, base string) ipc.Errno {
		if _, ok := dir.children[base]; ok {
			return ipc.EEXIST
		}
		dir.add(base, mode)
		return 0
	})
}

// Remove removes a file, a FIFO or an empty directory; see [FS].
func (m *Mem) Remove(name string) error {
	const op = "remove"
	name, err := cleanNode(op, name, ipc.EBUSY)
	if err != nil {
		return err
	}
	return m.inDir(op, name, func(dir *memNode, base string) ipc.Errno {
		n, ok := dir.children[base]
		switch {
		case !ok:
			return ipc.ENOENT
		case n.mode.IsDir() && len(n.children) > 0:
			return ipc.ENOTEMPTY
		}
		delete(dir.children, base)
		dir.modTime = time.Now()
		return 0
	})
}

// inDir runs fn, with m.mu held for writing, on the directory that holds,
// or would hold, the cleaned name other than "/" and on the last component
// of name, and turns the errno of either into the error of op.
func (m *Mem) inDir(op, name string, fn func(dir *memNode, base string) ipc.Errno) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, errno := m.parent(name)
	if errno == 0 {
		errno = fn(dir, base)
	}
	if errno != 0 {
		return pathErr(op, name, errno)
	}
	return nil
}

// add makes a node of the given mode, the entry base of directory n. The
// owning Mem's mu must be held for writing.
func (n *memNode) add(base string, mode fs.FileMode) *memNode {
	c := newMemNode(mode)
	n.children[base] = c
	n.modTime = c.modTime
	return c
}

// Rename renames oldname to newname as rename(2) does; see [FS].
func (m *Mem) Rename(oldname, newname string) error {
	oldname, newname, err := cleanRename(oldname, newname)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.rename(oldname, newname); errno != 0 {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errno}
	}
	return nil
}

// rename does Rename on cleaned names other than "/". m.mu must be held for
// writing. The checks come in the order Linux makes them.
func (m *Mem) rename(oldname, newname string) ipc.Errno {
	odir, obase, errno := m.parent(oldname)
	if errno != 0 {
		return errno
	}
	n, ok := odir.children[obase]
	if !ok {
		return ipc.ENOENT
	}
	ndir, nbase, errno := m.parent(newname)
	if errno != 0 {
		return errno
	}
	switch {
	case strings.HasPrefix(newname, oldname+"/"):
		return ipc.EINVAL // into itself
	case strings.HasPrefix(oldname, newname+"/"):
		return ipc.ENOTEMPTY // onto its own ancestor
	}
	target, exists := ndir.children[nbase]
	if exists {
		switch {
		case target == n:
			return 0
		case n.mode.IsDir() && !target.mode.IsDir():
			return ipc.ENOTDIR
		case !n.mode.IsDir() && target.mode.IsDir():
			return ipc.EISDIR
		case target.mode.IsDir() && len(target.children) > 0:
			return ipc.ENOTEMPTY
		}
	}
	delete(odir.children, obase)
	ndir.children[nbase] = n
	now := time.Now()
	odir.modTime, ndir.modTime = now, now
	return 0
}

// memInfo is a snapshot of a memNode; it implements fs.FileInfo.
type memInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i *memInfo) Name() string       { return i.name }
func (i *memInfo) Size() int64        { return i.size }
func (i *memInfo) Mode() fs.FileMode  { return i.mode }
func (i *memInfo) ModTime() time.Time { return i.modTime }
func (i *memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *memInfo) Sys() any           { return nil }

// memFile is an open file of a Mem. Lock order: mu, then m.mu.
type memFile struct {
	m    *Mem     // immutable
	n    *memNode // immutable pointer; its fields are guarded by m.mu
	name string   // immutable: the cleaned name it was opened by
	flag int      // immutable: the open flags

	mu     sync.Mutex // guards off and closed
	off    int64      // the offset of the next Read or Write
	closed bool       // Close was called
}

var _ File = (*memFile)(nil)

// check returns the errno, if any, of an operation on f. f.mu must be held.
func (f *memFile) check(read, write bool) ipc.Errno {
	switch {
	case f.closed:
		return ipc.EBADF
	case read && !readable(f.flag), write && !writable(f.flag):
		return ipc.EBADF
	case f.n.mode.IsDir():
		return ipc.EISDIR
	}
	return 0
}

// Read reads from the file's offset and advances it.
func (f *memFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := f.check(true, false); errno != 0 {
		return 0, pathErr("read", f.name, errno)
	}
	n, err := f.readAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && len(p) > 0 && n > 0 {
		err = nil // Read, unlike ReadAt, reports EOF only when it reads nothing
	}
	return n, err
}

// ReadAt reads from offset off and leaves the file's offset alone.
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := f.check(true, false); errno != 0 {
		return 0, pathErr("read", f.name, errno)
	}
	if off < 0 {
		return 0, pathErr("read", f.name, ipc.EINVAL)
	}
	return f.readAt(p, off)
}

// readAt copies from off; it returns io.EOF if it fills less than p.
// f.mu must be held.
func (f *memFile) readAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	f.m.mu.RLock()
	defer f.m.mu.RUnlock()
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Write writes at the file's offset, or at the end if the file was opened
// with O_APPEND, and advances the offset past what it wrote.
func (f *memFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := f.check(false, true); errno != 0 {
		return 0, pathErr("write", f.name, errno)
	}
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.flag&os.O_APPEND != 0 {
		f.off = int64(len(f.n.data))
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := f.off + int64(len(p))
	if end > MemMaxFileSize {
		return 0, pathErr("write", f.name, ipc.EFBIG)
	}
	if end > int64(len(f.n.data)) {
		f.n.resize(end)
	}
	copy(f.n.data[f.off:], p)
	f.n.modTime = time.Now()
	f.off = end
	return len(p), nil
}

// Seek sets the offset for the next Read or Write, as lseek(2) does. It
// fails with EINVAL for a bad whence or a negative result.
func (f *memFile) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, pathErr("seek", f.name, ipc.EBADF)
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		f.m.mu.RLock()
		base = int64(len(f.n.data))
		f.m.mu.RUnlock()
	default:
		return 0, pathErr("seek", f.name, ipc.EINVAL)
	}
	off := base + offset
	if off < 0 || (offset > 0 && off < base) {
		return 0, pathErr("seek", f.name, ipc.EINVAL)
	}
	f.off = off
	return off, nil
}

// Close closes the file. A second Close fails with EBADF.
func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, ipc.EBADF)
	}
	f.closed = true
	return nil
}

// Stat describes the open file as it is now, also after it was removed.
func (f *memFile) Stat() (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, pathErr("stat", f.name, ipc.EBADF)
	}
	f.m.mu.RLock()
	defer f.m.mu.RUnlock()
	return f.n.info(path.Base(f.name)), nil
}

// Truncate changes the size of the file; see [File].
func (f *memFile) Truncate(size int64) error {
	const op = "truncate"
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return pathErr(op, f.name, ipc.EBADF)
	case !writable(f.flag) || !f.n.mode.IsRegular() || size < 0:
		return pathErr(op, f.name, ipc.EINVAL)
	case size > MemMaxFileSize:
		return pathErr(op, f.name, ipc.EFBIG)
	}
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.n.resize(size)
	f.n.modTime = time.Now()
	return nil
}
