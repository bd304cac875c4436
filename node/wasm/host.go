package wasm

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// ModuleName is the name of the host module modules import.
const ModuleName = "wasi_snapshot_preview1"

// procKey is the context key of the *proc a host call serves.
type procKey struct{}

// hostFunc is one WASI function: it reads its parameters from stack and
// returns the errno, which the wrapper stores as the single result.
type hostFunc func(p *proc, m api.Memory, stack []uint64) uint32

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFuncs are the functions of wasi_snapshot_preview1, each with its
// parameter types. All return an errno, except proc_exit.
var hostFuncs = []struct {
	name   string
	params []api.ValueType
	fn     hostFunc
}{
	{"args_get", []api.ValueType{i32, i32}, argsGet},
	{"args_sizes_get", []api.ValueType{i32, i32}, argsSizesGet},
	{"environ_get", []api.ValueType{i32, i32}, environGet},
	{"environ_sizes_get", []api.ValueType{i32, i32}, environSizesGet},
	{"clock_res_get", []api.ValueType{i32, i32}, clockResGet},
	{"clock_time_get", []api.ValueType{i32, i64, i32}, clockTimeGet},
	{"fd_advise", []api.ValueType{i32, i64, i64, i32}, fdCheck},
	{"fd_allocate", []api.ValueType{i32, i64, i64}, fdAllocate},
	{"fd_close", []api.ValueType{i32}, fdClose},
	{"fd_datasync", []api.ValueType{i32}, fdCheck},
	{"fd_fdstat_get", []api.ValueType{i32, i32}, fdFdstatGet},
	{"fd_fdstat_set_flags", []api.ValueType{i32, i32}, fdFdstatSetFlags},
	{"fd_fdstat_set_rights", []api.ValueType{i32, i64, i64}, fdCheck},
	{"fd_filestat_get", []api.ValueType{i32, i32}, fdFilestatGet},
	{"fd_filestat_set_size", []api.ValueType{i32, i64}, fdFilestatSetSize},
	{"fd_filestat_set_times", []api.ValueType{i32, i64, i64, i32}, fdNotsup},
	{"fd_pread", []api.ValueType{i32, i32, i32, i64, i32}, fdPread},
	{"fd_prestat_get", []api.ValueType{i32, i32}, fdPrestatGet},
	{"fd_prestat_dir_name", []api.ValueType{i32, i32, i32}, fdPrestatDirName},
	{"fd_pwrite", []api.ValueType{i32, i32, i32, i64, i32}, fdPwrite},
	{"fd_read", []api.ValueType{i32, i32, i32, i32}, fdRead},
	{"fd_readdir", []api.ValueType{i32, i32, i32, i64, i32}, fdReaddir},
	{"fd_renumber", []api.ValueType{i32, i32}, fdRenumber},
	{"fd_seek", []api.ValueType{i32, i64, i32, i32}, fdSeek},
	{"fd_sync", []api.ValueType{i32}, fdCheck},
	{"fd_tell", []api.ValueType{i32, i32}, fdTell},
	{"fd_write", []api.ValueType{i32, i32, i32, i32}, fdWrite},
	{"path_create_directory", []api.ValueType{i32, i32, i32}, pathCreateDirectory},
	{"path_filestat_get", []api.ValueType{i32, i32, i32, i32, i32}, pathFilestatGet},
	{"path_filestat_set_times", []api.ValueType{i32, i32, i32, i32, i64, i64, i32}, fdNotsup},
	{"path_link", []api.ValueType{i32, i32, i32, i32, i32, i32, i32}, pathNoLinks},
	{"path_open", []api.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32}, pathOpen},
	{"path_readlink", []api.ValueType{i32, i32, i32, i32, i32, i32}, pathReadlink},
	{"path_remove_directory", []api.ValueType{i32, i32, i32}, pathRemoveDirectory},
	{"path_rename", []api.ValueType{i32, i32, i32, i32, i32, i32}, pathRename},
	{"path_symlink", []api.ValueType{i32, i32, i32, i32, i32}, pathNoLinks},
	{"path_unlink_file", []api.ValueType{i32, i32, i32}, pathUnlinkFile},
	{"poll_oneoff", []api.ValueType{i32, i32, i32, i32}, pollOneoff},
	{"proc_raise", []api.ValueType{i32}, procRaise},
	{"sched_yield", nil, schedYield},
	{"random_get", []api.ValueType{i32, i32}, randomGet},
	{"sock_accept", []api.ValueType{i32, i32, i32}, sockNotsock},
	{"sock_recv", []api.ValueType{i32, i32, i32, i32, i32, i32}, sockNotsock},
	{"sock_send", []api.ValueType{i32, i32, i32, i32, i32}, sockNotsock},
	{"sock_shutdown", []api.ValueType{i32, i32}, sockNotsock},
}

// instantiateHost defines the host module in r.
func instantiateHost(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(ModuleName)
	for _, h := range hostFuncs {
		fn := h.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				p := ctx.Value(procKey{}).(*proc)
				stack[0] = uint64(fn(p, mod.Memory(), stack))
			}), h.params, []api.ValueType{i32}).
			WithParameterNames().
			Export(h.name)
	}
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(procExit), []api.ValueType{i32}, nil).
		Export("proc_exit")
	_, err := b.Instantiate(ctx)
	return err
}

// procExit ends the process with the module's exit code, as _exit(2).
func procExit(ctx context.Context, _ api.Module, stack []uint64) {
	p := ctx.Value(procKey{}).(*proc)
	p.s.Exit(int(uint32(stack[0])))
}

// Memory helpers. A pointer outside the memory is EFAULT.

func putU32(m api.Memory, off uint32, v uint32) bool { return m.WriteUint32Le(off, v) }
func putU64(m api.Memory, off uint32, v uint64) bool { return m.WriteUint64Le(off, v) }

func fault(ok bool) uint32 {
	if ok {
		return errnoSuccess
	}
	return errnoFault
}

func readString(m api.Memory, off, n uint32) (string, bool) {
	b, ok := m.Read(off, n)
	if !ok {
		return "", false
	}
	return string(b), true
}

// Arguments and environment.

func vectorGet(m api.Memory, vec []string, ptrs, buf uint32) uint32 {
	for _, v := range vec {
		if !putU32(m, ptrs, buf) {
			return errnoFault
		}
		ptrs += 4
		b, ok := m.Read(buf, uint32(len(v)+1))
		if !ok {
			return errnoFault
		}
		copy(b, v)
		b[len(v)] = 0
		buf += uint32(len(v) + 1)
	}
	return errnoSuccess
}

func vectorSizes(m api.Memory, vec []string, countPtr, sizePtr uint32) uint32 {
	size := 0
	for _, v := range vec {
		size += len(v) + 1
	}
	return fault(putU32(m, countPtr, uint32(len(vec))) && putU32(m, sizePtr, uint32(size)))
}

func argsGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	return vectorGet(m, p.args, uint32(st[0]), uint32(st[1]))
}

func argsSizesGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	return vectorSizes(m, p.args, uint32(st[0]), uint32(st[1]))
}

func environGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	return vectorGet(m, p.env, uint32(st[0]), uint32(st[1]))
}

func environSizesGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	return vectorSizes(m, p.env, uint32(st[0]), uint32(st[1]))
}

// Clocks.

// WASI clock IDs.
const (
	clockRealtime  = 0
	clockMonotonic = 1
	clockProcess   = 2
	clockThread    = 3
)

// epoch is the origin of the monotonic clock modules read.
var epoch = time.Now()

func clockResGet(p *proc, m api.Memory, st []uint64) uint32 {
	p.s.Getpid()
	if uint32(st[0]) > clockThread {
		return errnoInval
	}
	return fault(putU64(m, uint32(st[1]), 1))
}

func clockTimeGet(p *proc, m api.Memory, st []uint64) uint32 {
	var ns uint64
	switch uint32(st[0]) {
	case clockRealtime:
		ns = uint64(p.s.Now().UnixNano())
	case clockMonotonic:
		ns = uint64(p.s.Now().Sub(epoch))
	case clockProcess, clockThread:
		ns = uint64(p.s.CPUTime())
	default:
		return errnoInval
	}
	return fault(putU64(m, uint32(st[2]), ns))
}

// Descriptors.
