// Package vfs provides the filesystem namespace that the local kernel's
// virtual processes see: the files, directories and FIFO nodes they reach
// through open, stat, readdir, mkdir, remove, rename and mkfifo.
//
// The kernel resolves every path against the calling process's working
// directory itself, and hands this package absolute, slash-separated names.
// [Clean] is the helper it uses for that: it checks a name the way Linux's
// path lookup does (absolute, no NUL byte, components of at most
// [MaxNameLen] bytes, at most [MaxPathLen] bytes in all) and cleans it with
// path.Clean. Every method of an [FS] cleans its names the same way, so a
// trailing slash or a ".." above "/" is harmless: "/.." is "/".
//
// There are two implementations of [FS], both safe for concurrent use:
//
//   - [Mem], the default namespace, keeps everything in memory. It records
//     permission bits but enforces none of them: the kernel has no users of
//     its own yet, so every caller may do everything. It has no symbolic
//     links.
//   - [Host] uses a host directory as "/". Permissions, ownership, the umask
//     and symbolic links are the host's. No name can reach outside that
//     directory: ".." in "/" stays in "/", and following a symbolic link
//     that is absolute or that leads outside fails with an error matching
//     [ErrEscape]. Nothing outside is ever read, created, changed or
//     removed.
//
// FIFOs are created here, as nodes of type fs.ModeNamedPipe, but never
// opened here: the kernel serves their data from its own registry. OpenFile
// on a FIFO fails with an error matching [ErrFIFO], and [Host] never opens a
// real FIFO, device or socket of the host, because doing so can block or have
// side effects.
//
// Errors are *fs.PathError values (*os.LinkError for Rename) whose Err is an
// ipc.Errno with the Linux number, or one of the sentinels above, which
// unwrap to one. So errors.Is(err, ipc.ENOENT) and
// errors.Is(err, fs.ErrNotExist) both hold, and errors.As finds the errno to
// give a process.
package vfs
