package wasm

import (
	"errors"
	"io"

	"github.com/vproc/vproc/ipc"
)

// WASI errno values (wasi_snapshot_preview1, the errno enum).
const (
	errnoSuccess     uint32 = 0
	errno2big        uint32 = 1
	errnoAcces       uint32 = 2
	errnoAgain       uint32 = 6
	errnoBadf        uint32 = 8
	errnoBusy        uint32 = 10
	errnoCanceled    uint32 = 11
	errnoChild       uint32 = 12
	errnoDeadlk      uint32 = 16
	errnoExist       uint32 = 20
	errnoFault       uint32 = 21
	errnoFbig        uint32 = 22
	errnoIntr        uint32 = 27
	errnoInval       uint32 = 28
	errnoIO          uint32 = 29
	errnoIsdir       uint32 = 31
	errnoLoop        uint32 = 32
	errnoMfile       uint32 = 33
	errnoMsgsize     uint32 = 35
	errnoNametoolong uint32 = 37
	errnoNfile       uint32 = 41
	errnoNodev       uint32 = 43
	errnoNoent       uint32 = 44
	errnoNoexec      uint32 = 45
	errnoNolink      uint32 = 47
	errnoNomem       uint32 = 48
	errnoNospc       uint32 = 51
	errnoNosys       uint32 = 52
	errnoNotdir      uint32 = 54
	errnoNotempty    uint32 = 55
	errnoNotsock     uint32 = 57
	errnoNotsup      uint32 = 58
	errnoNotty       uint32 = 59
	errnoNxio        uint32 = 60
	errnoPerm        uint32 = 63
	errnoPipe        uint32 = 64
	errnoRange       uint32 = 65
	errnoRofs        uint32 = 66
	errnoSpipe       uint32 = 67
	errnoSrch        uint32 = 68
	errnoTimedout    uint32 = 70
	errnoXdev        uint32 = 72
)

// wasiErrno maps the kernel's errno values (Linux's numbers) to WASI's.
var wasiErrno = map[ipc.Errno]uint32{
	ipc.EPERM: errnoPerm, ipc.ENOENT: errnoNoent, ipc.ESRCH: errnoSrch,
	ipc.EINTR: errnoIntr, ipc.EIO: errnoIO, ipc.ENXIO: errnoNxio,
	ipc.E2BIG: errno2big, ipc.ENOEXEC: errnoNoexec, ipc.EBADF: errnoBadf,
	ipc.ECHILD: errnoChild, ipc.EAGAIN: errnoAgain, ipc.ENOMEM: errnoNomem,
	ipc.EACCES: errnoAcces, ipc.EFAULT: errnoFault, ipc.EBUSY: errnoBusy,
	ipc.EEXIST: errnoExist, ipc.EXDEV: errnoXdev, ipc.ENODEV: errnoNodev,
	ipc.ENOTDIR: errnoNotdir, ipc.EISDIR: errnoIsdir, ipc.EINVAL: errnoInval,
	ipc.ENFILE: errnoNfile, ipc.EMFILE: errnoMfile, ipc.ENOTTY: errnoNotty,
	ipc.EFBIG: errnoFbig, ipc.ENOSPC: errnoNospc, ipc.ESPIPE: errnoSpipe,
	ipc.EROFS: errnoRofs, ipc.EPIPE: errnoPipe, ipc.ERANGE: errnoRange,
	ipc.EDEADLK: errnoDeadlk, ipc.ENAMETOOLONG: errnoNametoolong,
	ipc.ENOSYS: errnoNosys, ipc.ENOTEMPTY: errnoNotempty, ipc.ELOOP: errnoLoop,
	ipc.ENOLINK: errnoNolink, ipc.EMSGSIZE: errnoMsgsize, ipc.ENOTSUP: errnoNotsup,
	ipc.ETIMEDOUT: errnoTimedout, ipc.ECANCELED: errnoCanceled,
}

// errnoOf is the WASI errno of a kernel error: nil and io.EOF are success
// (a read at end of file reads 0 bytes), an unknown error is EIO.
func errnoOf(err error) uint32 {
	if err == nil || errors.Is(err, io.EOF) {
		return errnoSuccess
	}
	var e ipc.Errno
	if errors.As(err, &e) {
		if w, ok := wasiErrno[e]; ok {
			return w
		}
	}
	return errnoIO
}
