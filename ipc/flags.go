package ipc

import "sync/atomic"

// OpenFlag holds open(2)-style flags for mq_open and shm_open, with Linux's
// values. The access mode (O_RDONLY, O_WRONLY or O_RDWR) is in the bits
// O_ACCMODE selects.
type OpenFlag int

// The open flags understood by this package.
const (
	O_RDONLY   OpenFlag = 0x0
	O_WRONLY   OpenFlag = 0x1
	O_RDWR     OpenFlag = 0x2
	O_ACCMODE  OpenFlag = 0x3
	O_CREAT    OpenFlag = 0x40
	O_EXCL     OpenFlag = 0x80
	O_TRUNC    OpenFlag = 0x200
	O_NONBLOCK OpenFlag = 0x800
)

// readable reports whether the access mode allows reading.
func (f OpenFlag) readable() bool { a := f & O_ACCMODE; return a == O_RDONLY || a == O_RDWR }

// writable reports whether the access mode allows writing.
func (f OpenFlag) writable() bool { a := f & O_ACCMODE; return a == O_WRONLY || a == O_RDWR }

// checkAccess checks that a caller named owner may open an object with the
// given mode and owner for the access flags asks for. The owner's permission
// bits apply when the caller owns the object, the others' bits otherwise.
func checkAccess(mode uint32, objOwner, owner string, flags OpenFlag) error {
	bits := mode & 0o7
	if owner == objOwner {
		bits = mode >> 6 & 0o7
	}
	if flags.readable() && bits&0o4 == 0 {
		return EACCES
	}
	if flags.writable() && bits&0o2 == 0 {
		return EACCES
	}
	return nil
}

// lastID numbers every pipe, FIFO, message queue and segment this package
// creates, so that ID values are unique across kinds within a process.
var lastID atomic.Uint64

func nextID() uint64 { return lastID.Add(1) }
