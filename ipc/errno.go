package ipc

import (
	"io/fs"
	"strconv"
)

// Errno is an errno-style error number. The values are Linux's, so that a
// status or a log line reads the same as it would on a Linux machine. Errno
// values are comparable and work with errors.Is, also when wrapped with %w.
type Errno int

// The error numbers used by vproc, with their Linux values.
const (
	EPERM        Errno = 1
	ENOENT       Errno = 2
	ESRCH        Errno = 3
	EINTR        Errno = 4
	EIO          Errno = 5
	ENXIO        Errno = 6
	E2BIG        Errno = 7
	ENOEXEC      Errno = 8
	EBADF        Errno = 9
	ECHILD       Errno = 10
	EAGAIN       Errno = 11
	ENOMEM       Errno = 12
	EACCES       Errno = 13
	EFAULT       Errno = 14
	EBUSY        Errno = 16
	EEXIST       Errno = 17
	EXDEV        Errno = 18
	ENODEV       Errno = 19
	ENOTDIR      Errno = 20
	EISDIR       Errno = 21
	EINVAL       Errno = 22
	ENFILE       Errno = 23
	EMFILE       Errno = 24
	ENOTTY       Errno = 25
	EFBIG        Errno = 27
	ENOSPC       Errno = 28
	ESPIPE       Errno = 29
	EROFS        Errno = 30
	EPIPE        Errno = 32
	ERANGE       Errno = 34
	EDEADLK      Errno = 35
	ENAMETOOLONG Errno = 36
	ENOSYS       Errno = 38
	ENOTEMPTY    Errno = 39
	ELOOP        Errno = 40
	ENOLINK      Errno = 67
	EMSGSIZE     Errno = 90
	ENOTSUP      Errno = 95
	ETIMEDOUT    Errno = 110
	ECANCELED    Errno = 125
)

var errnoNames = map[Errno][2]string{
	EPERM:        {"EPERM", "operation not permitted"},
	ENOENT:       {"ENOENT", "no such file or directory"},
	ESRCH:        {"ESRCH", "no such process"},
	EINTR:        {"EINTR", "interrupted system call"},
	EIO:          {"EIO", "input/output error"},
	ENXIO:        {"ENXIO", "no such device or address"},
	E2BIG:        {"E2BIG", "argument list too long"},
	ENOEXEC:      {"ENOEXEC", "exec format error"},
	EBADF:        {"EBADF", "bad file descriptor"},
	ECHILD:       {"ECHILD", "no child processes"},
	EAGAIN:       {"EAGAIN", "resource temporarily unavailable"},
	ENOMEM:       {"ENOMEM", "cannot allocate memory"},
	EACCES:       {"EACCES", "permission denied"},
	EFAULT:       {"EFAULT", "bad address"},
	EBUSY:        {"EBUSY", "device or resource busy"},
	EEXIST:       {"EEXIST", "file exists"},
	EXDEV:        {"EXDEV", "invalid cross-device link"},
	ENODEV:       {"ENODEV", "no such device"},
	ENOTDIR:      {"ENOTDIR", "not a directory"},
	EISDIR:       {"EISDIR", "is a directory"},
	EINVAL:       {"EINVAL", "invalid argument"},
	ENFILE:       {"ENFILE", "too many open files in system"},
	EMFILE:       {"EMFILE", "too many open files"},
	ENOTTY:       {"ENOTTY", "inappropriate ioctl for device"},
	EFBIG:        {"EFBIG", "file too large"},
	ENOSPC:       {"ENOSPC", "no space left on device"},
	ESPIPE:       {"ESPIPE", "illegal seek"},
	EROFS:        {"EROFS", "read-only file system"},
	EPIPE:        {"EPIPE", "broken pipe"},
	ERANGE:       {"ERANGE", "numerical result out of range"},
	EDEADLK:      {"EDEADLK", "resource deadlock avoided"},
	ENAMETOOLONG: {"ENAMETOOLONG", "file name too long"},
	ENOSYS:       {"ENOSYS", "function not implemented"},
	ENOTEMPTY:    {"ENOTEMPTY", "directory not empty"},
	ELOOP:        {"ELOOP", "too many levels of symbolic links"},
	ENOLINK:      {"ENOLINK", "link has been severed"},
	EMSGSIZE:     {"EMSGSIZE", "message too long"},
	ENOTSUP:      {"ENOTSUP", "operation not supported"},
	ETIMEDOUT:    {"ETIMEDOUT", "connection timed out"},
	ECANCELED:    {"ECANCELED", "operation canceled"},
}

// Error returns the lowercase description Linux's strerror gives.
func (e Errno) Error() string {
	if n, ok := errnoNames[e]; ok {
		return n[1]
	}
	return "errno " + strconv.Itoa(int(e))
}

// Name returns the symbolic name, such as "EAGAIN". It is stable and is used
// as an error code in APIs.
func (e Errno) Name() string {
	if n, ok := errnoNames[e]; ok {
		return n[0]
	}
	return "E" + strconv.Itoa(int(e))
}

// ErrnoByName returns the Errno whose Name is name.
func ErrnoByName(name string) (Errno, bool) {
	for e, n := range errnoNames {
		if n[0] == name {
			return e, true
		}
	}
	return 0, false
}

// Temporary reports whether retrying the same call later may succeed.
func (e Errno) Temporary() bool { return e == EAGAIN || e == EINTR || e == ETIMEDOUT }

// Is makes errors.Is(err, fs.ErrNotExist) and its kin hold for the matching
// errno, as syscall.Errno does.
func (e Errno) Is(target error) bool {
	switch target {
	case fs.ErrPermission:
		return e == EACCES || e == EPERM
	case fs.ErrExist:
		return e == EEXIST || e == ENOTEMPTY
	case fs.ErrNotExist:
		return e == ENOENT
	}
	return false
}
