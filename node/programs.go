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

// Resolver finds the program that a command names. The kernel asks its
// Config.Programs for the command of every spawn; a name it does not know
// fails the spawn with ErrUnknownProgram. Lookup may be called from many
// goroutines at once.
type Resolver interface {
	Lookup(name string) (Program, bool)
}

// Resolvers is a Resolver made of several: Lookup asks each in order, and
// the first that knows a name wins. It lets programs from several sources
// (a ProgramTable of Go functions, loaded modules) share one namespace of names.
type Resolvers []Resolver

// Lookup returns the program called name from the first resolver that has it.
func (rs Resolvers) Lookup(name string) (Program, bool) {
	for _, r := range rs {
		if p, ok := r.Lookup(name); ok {
			return p, true
		}
	}
	return nil, false
}

// ProgramTable is the static Resolver: it maps command names to Go functions.
// It is safe for concurrent use, and programs may be registered while the
// kernel runs.
type ProgramTable struct {
	mu    sync.RWMutex
	progs map[string]Program // guarded by mu
}

var (
	_ Resolver = (*ProgramTable)(nil)
	_ Resolver = Resolvers(nil)
)

// NewProgramTable returns an empty program table.
func NewProgramTable() *ProgramTable { return &ProgramTable{progs: make(map[string]Program)} }

// Register adds or replaces the program called name.
func (r *ProgramTable) Register(name string, p Program) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progs[name] = p
}

// Lookup returns the program called name.
func (r *ProgramTable) Lookup(name string) (Program, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.progs[name]
	return p, ok
}

// Names lists the registered programs in order.
func (r *ProgramTable) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.progs))
	for n := range r.progs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
