// Package wasm runs WebAssembly modules that target WASI
// (wasi_snapshot_preview1) as the programs of virtual processes.
//
// An Engine is a node.Resolver: it looks a command name up in a Source (the
// cluster's table of programs), loads the module's bytes by their sha256,
// checks them, compiles them once per node (an on-disk compilation cache
// keyed by content, and the compiled module kept in memory) and runs each
// spawn as a node.Program on the process's own goroutine.
//
// The host module is written on node.Sys, not on wazero's own WASI, so that
// a module sees vproc's descriptors and namespace and every host call is a
// system call of its process: a yield point where the process may be
// switched out, stopped, frozen or killed and where signals are delivered.
//
// # Descriptors
//
// A module's WASI descriptors are numbered as Go's wasip1 runtime and
// wasmtime expect:
//
//	0, 1, 2   the process's descriptors 0, 1 and 2
//	3         the pre-opened directory "/", the root of the namespace
//	4, 5, …   every other descriptor the process inherited, in the order
//	          of their kernel numbers (pipes, FIFOs, files)
//
// Descriptors the module opens later take the lowest free number above 3.
// Directories are descriptors of the module alone; files, pipes and FIFOs
// are kernel descriptors of the process. The environment is the process's;
// PWD is added, set to the working directory, when it is missing, so that a
// module resolves relative paths from the process's working directory.
//
// # Cooperation and death
//
// A module runs without calling the kernel between two host calls. Signals,
// stops and the switch to another process happen at host calls, as for
// every program. Death does not wait: SIGKILL, a fatal signal, the wall-time
// limit and the CPU hard limit cancel the process's context
// (node.Sys.Context), and wazero closes the module at its next function
// call or loop back-edge. mem= caps the module's linear memory: a
// memory.grow past the soft limit fails, as mmap past RLIMIT_AS does.
package wasm
