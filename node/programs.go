package node

import (
	"sort"
	"sync"
)

// Program is the code of a virtual process: a Go function that receives the
// process's system-call surface and returns its exit code. A program is
// cooperative: it can be switched out, signalled, limited or killed only at
// its next call into s.
type Program func(s *Sys) int

// Registry maps command names to programs. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	progs map[string]Program // guarded by mu
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{progs: make(map[string]Program)} }

// Register adds or replaces the program called name.
func (r *Registry) Register(name string, p Program) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progs[name] = p
}

// Lookup returns the program called name.
func (r *Registry) Lookup(name string) (Program, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.progs[name]
	return p, ok
}

// Names lists the registered programs in order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.progs))
	for n := range r.progs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
