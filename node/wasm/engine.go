package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Source is where an Engine finds modules: the consumer's view of the
// cluster's program table and program store.
type Source interface {
	// Lookup returns the sha256 (lowercase hex) of the module called name.
	Lookup(name string) (hash string, ok bool)
	// Bytes returns the bytes of the module with that hash, fetching them
	// if this node does not hold them. The Engine checks the hash itself.
	Bytes(ctx context.Context, hash string) ([]byte, error)
}

// Config configures an Engine.
type Config struct {
	// CacheDir is the directory of the on-disk compilation cache; empty
	// means compiled code is kept in memory only.
	CacheDir string
	// Source resolves command names to modules. Nil means the Engine knows
	// no names; Program still runs modules given by hash.
	Source Source
}

// DefaultConfig returns a configuration with no cache directory and no
// source.
func DefaultConfig() Config { return Config{} }

// Validate checks the configuration.
func (c Config) Validate() error { return nil }

// Errors of loading a module.
var (
	// ErrHashMismatch is the error of bytes whose sha256 is not the hash
	// they were asked for: a corrupted or substituted blob.
	ErrHashMismatch = errors.New("module content does not match its hash")
	// ErrBadHash is the error of a hash that is not 64 lowercase hex digits.
	ErrBadHash = errors.New("malformed module hash")
	// ErrClosed is the error of an Engine that has been closed.
	ErrClosed = errors.New("wasm engine closed")
)

// Exit codes of a module that could not be started, as a shell reports a
// program it cannot execute.
const (
	ExitCannotExecute = 126
)

// Engine compiles and runs modules. It is a node.Resolver. It is safe for
// concurrent use.
type Engine struct {
	rt    wazero.Runtime // immutable
	cache wazero.CompilationCache
	src   Source // immutable

	mu       sync.Mutex
	compiled map[string]*compiled // guarded by mu: by hash
	closed   bool                 // guarded by mu
}

// compiled is one module compiled once: done is closed when cm or err is set.
type compiled struct {
	done chan struct{}
	cm   wazero.CompiledModule
	err  error
}

var _ node.Resolver = (*Engine)(nil)

// New returns an Engine with the host module defined.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache: %w", err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithCompilationCache(cache)
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if err := instantiateHost(ctx, rt); err != nil {
		rt.Close(ctx)
		cache.Close(ctx)
		return nil, fmt.Errorf("wasm: host module: %w", err)
	}
	return &Engine{rt: rt, cache: cache, src: cfg.Source, compiled: make(map[string]*compiled)}, nil
}

// Close releases the runtime and the compiled modules. Modules still
// running are closed too.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	ctx := context.Background()
	err := e.rt.Close(ctx)
	if cerr := e.cache.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// Lookup implements node.Resolver: the program of the module the source
// names name.
func (e *Engine) Lookup(name string) (node.Program, bool) {
	if e.src == nil {
		return nil, false
	}
	hash, ok := e.src.Lookup(name)
	if !ok {
		return nil, false
	}
	return e.Program(hash), true
}

// Program returns the program that runs the module with hash. Its bytes
// are loaded and compiled when it first runs on this node, with the
// process's CPU slot given up (node.Sys.Blocking); a module that cannot be
// loaded ends the process with ExitCannotExecute and a line on its
// standard error.
func (e *Engine) Program(hash string) node.Program {
	return func(s *node.Sys) int {
		var cm wazero.CompiledModule
		var err error
		ctx := s.Context()
		s.Blocking(func() { cm, err = e.Load(ctx, hash) })
		if err != nil {
			s.Errorf("%v", err)
			return ExitCannotExecute
		}
		return e.run(s, cm)
	}
}

// Hash returns the hash Engine uses for bin: its sha256 in lowercase hex.
func Hash(bin []byte) string {
	sum := sha256.Sum256(bin)
	return hex.EncodeToString(sum[:])
}

// ValidHash reports whether h is 64 lowercase hex digits.
func ValidHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Load returns the compiled module with hash, compiling it (from the
// on-disk cache when it is there) on first use. Concurrent loads of one
// hash compile once.
func (e *Engine) Load(ctx context.Context, hash string) (wazero.CompiledModule, error) {
	if !ValidHash(hash) {
		return nil, fmt.Errorf("wasm: %q: %w", hash, ErrBadHash)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	c, ok := e.compiled[hash]
	if ok {
		e.mu.Unlock()
		select {
		case <-c.done:
			return c.cm, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c = &compiled{done: make(chan struct{})}
	e.compiled[hash] = c
	e.mu.Unlock()

	c.cm, c.err = e.compile(ctx, hash)
	if c.err != nil {
		e.mu.Lock()
		delete(e.compiled, hash) // a later spawn tries again
		e.mu.Unlock()
	}
	close(c.done)
	return c.cm, c.err
}

func (e *Engine) compile(ctx context.Context, hash string) (wazero.CompiledModule, error) {
	if e.src == nil {
		return nil, fmt.Errorf("wasm: module %.12s: no source of modules", hash)
	}
	bin, err := e.src.Bytes(ctx, hash)
	if err != nil {
		return nil, fmt.Errorf("wasm: module %.12s: %w", hash, err)
	}
	return e.Compile(hash, bin)
}

// Compile compiles bin, which must have hash, and keeps it for Program.
func (e *Engine) Compile(hash string, bin []byte) (wazero.CompiledModule, error) {
	if Hash(bin) != hash {
		return nil, fmt.Errorf("wasm: module %.12s: %w", hash, ErrHashMismatch)
	}
	cm, err := e.rt.CompileModule(context.Background(), bin)
	if err != nil {
		return nil, fmt.Errorf("wasm: module %.12s: %w", hash, err)
	}
	for _, f := range cm.ImportedFunctions() {
		if mod, _, _ := f.Import(); mod != ModuleName {
			cm.Close(context.Background())
			return nil, fmt.Errorf("wasm: module %.12s imports from %q: only %s is provided", hash, mod, ModuleName)
		}
	}
	return cm, nil
}

// run instantiates cm in process s and runs its _start.
func (e *Engine) run(s *node.Sys, cm wazero.CompiledModule) int {
	p := newProc(s)
	ctx := context.WithValue(s.Context(), procKey{}, p)
	if lim, err := s.Getrlimit(node.RMem); err == nil && lim.Soft != node.Infinity {
		for _, md := range cm.ExportedMemories() {
			if uint64(md.Min())*65536 > lim.Soft {
				s.Errorf("initial memory of %d KiB exceeds the memory limit: %v", uint64(md.Min())*64, ipc.ENOMEM)
				return ExitCannotExecute
			}
		}
		ctx = experimental.WithMemoryAllocator(ctx, cappedAllocator(lim.Soft))
	}
	mod, err := e.rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return e.failed(s, err)
	}
	defer mod.Close(context.Background())
	start := mod.ExportedFunction("_start")
	if start == nil {
		s.Errorf("module has no _start: %v", ipc.ENOEXEC)
		return ExitCannotExecute
	}
	if _, err := start.Call(ctx); err != nil {
		return e.failed(s, err)
	}
	return 0
}

// failed ends a module whose start or instantiation failed: a kill the
// kernel decided is completed at the next system call; a trap is a death
// by SIGABRT, with the trap on standard error, as wasmtime reports one.
func (e *Engine) failed(s *node.Sys, err error) int {
	s.Yield() // a pending kill (the reason the context was cancelled) ends the process here
	s.Errorf("%v", err)
	if kerr := s.Kill(s.Getpid(), ipc.SIGABRT); kerr == nil {
		s.Yield()
	}
	return 128 + int(ipc.SIGABRT)
}
