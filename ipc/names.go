package ipc

import (
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
)

// NameMax is the longest a POSIX IPC name may be after its leading '/'
// (NAME_MAX). A longer name is ENAMETOOLONG.
const NameMax = 255

// CleanName resolves a name that is a path, as path_resolution(7) does,
// before it is looked up or registered: repeated slashes collapse, "."
// components go, and ".." removes the component before it; a ".." at the
// top stays at "/", as it does at the root directory. So "/x/../c",
// "//c" and "/../c" all name "/c". It is the one normalisation of vproc's
// IPC names: FIFO paths (through the namespace's Clean) and message-queue
// and shared-memory names (mq_overview(7)) alike. A name that does not
// start with '/' is returned as it is, for the caller's check to refuse.
func CleanName(name string) string {
	if name == "" || name[0] != '/' {
		return name
	}
	return path.Clean(name)
}

// checkName applies the rules mq_open(3) and shm_open(3) give for a portable
// name: it starts with '/', has no other '/', names something (neither empty
// nor "." or ".."), holds no NUL byte and is at most NameMax bytes after the
// slash.
func checkName(name string) error {
	if len(name) < 2 || name[0] != '/' {
		return EINVAL
	}
	rest := name[1:]
	if strings.IndexByte(rest, '/') >= 0 || strings.IndexByte(rest, 0) >= 0 || rest == "." || rest == ".." {
		return EINVAL
	}
	if len(rest) > NameMax {
		return ENAMETOOLONG
	}
	return nil
}

// namedObject is what a nameTable holds: a message queue or a shared-memory
// segment, described by an I.
type namedObject[I any] interface {
	// checkOpen checks that owner may open the existing object with flags.
	checkOpen(owner string, flags OpenFlag) error
	// opened counts a new handle on the object, which existed before the
	// open or was just created. The table's lock is held.
	opened(flags OpenFlag, existed bool)
	// unlink records that no name refers to the object any more. The
	// table's lock is held.
	unlink()
	// info describes the object.
	info() I
}

// nameTable maps POSIX IPC names to the objects they refer to: what
// MQNamespace and ShmNamespace have in common. It is safe for concurrent use,
// and its zero value is an empty table.
type nameTable[T namedObject[I], I any] struct {
	mu   sync.Mutex
	objs map[string]T // guarded by mu
}

// open implements mq_open and shm_open up to the handle: it checks the name
// and the access mode, finds the object called name, or with O_CREAT makes
// one with create, and counts the new handle on it before the lock is
// released, so that no Unlink comes between the lookup and the count.
//
// Without O_CREAT a missing object is ENOENT; with O_CREAT|O_EXCL an existing
// one is EEXIST; an existing one must pass its checkOpen; an access mode of
// O_ACCMODE is EINVAL.
func (t *nameTable[T, I]) open(name string, flags OpenFlag, owner string, create func() (T, error)) (T, error) {
	var zero T
	name = CleanName(name)
	if err := checkName(name); err != nil {
		return zero, err
	}
	if flags&O_ACCMODE == O_ACCMODE {
		return zero, EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, existed := t.objs[name]
	switch {
	case existed && flags&(O_CREAT|O_EXCL) == O_CREAT|O_EXCL:
		return zero, EEXIST
	case existed:
		if err := o.checkOpen(owner, flags); err != nil {
			return zero, err
		}
	case flags&O_CREAT == 0:
		return zero, ENOENT
	default:
		var err error
		if o, err = create(); err != nil {
			return zero, err
		}
		if t.objs == nil {
			t.objs = make(map[string]T)
		}
		t.objs[name] = o
	}
	o.opened(flags, existed)
	return o, nil
}

// unlink removes name (mq_unlink, shm_unlink). A missing name is ENOENT.
func (t *nameTable[T, I]) unlink(name string) error {
	name = CleanName(name)
	if err := checkName(name); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.objs[name]
	if !ok {
		return ENOENT
	}
	delete(t.objs, name)
	o.unlink()
	return nil
}

// lookup describes the object called name, or returns false if there is
// none.
func (t *nameTable[T, I]) lookup(name string) (I, bool) {
	name = CleanName(name)
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.objs[name]
	if !ok {
		var zero I
		return zero, false
	}
	return o.info(), true
}

// list describes every named object, sorted by name.
func (t *nameTable[T, I]) list() []I {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := slices.Sorted(maps.Keys(t.objs))
	out := make([]I, len(names))
	for i, name := range names {
		out[i] = t.objs[name].info()
	}
	return out
}

// CheckName checks a queue or segment name, once cleaned (CleanName), as
// mq_open and shm_open do: EINVAL for a malformed name, ENAMETOOLONG for a
// long one.
func CheckName(name string) error { return checkName(CleanName(name)) }
