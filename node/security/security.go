package security

import (
	"errors"
	"sort"
	"strings"
)

// Promise is a set of pledge(2) promises. The zero value is "no restriction
// declared", which the kernel treats as every promise held.
type Promise uint64

// The promises, named as pledge(2) names them where vproc has the same group
// of calls.
const (
	PromiseStdio  Promise = 1 << iota // read, write, close, dup, pipe, yield, sleep, getpid...
	PromiseRpath                      // open for reading, stat, readdir, chdir
	PromiseWpath                      // open for writing
	PromiseCpath                      // mkdir, remove, rename, mkfifo
	PromiseProc                       // spawn, kill of another process, setpgid, setsid, wait, setrlimit
	PromiseSignal                     // sigaction, sigprocmask (handlers for its own signals)
	PromiseIPC                        // message queues and shared memory
	PromiseUnveil                     // unveil more paths
	PromiseExec                       // run a program: spawn, exec

	promiseEnd
)

// PromiseAll holds every promise.
const PromiseAll = promiseEnd - 1

var promiseNames = []struct {
	p    Promise
	name string
}{
	{PromiseStdio, "stdio"}, {PromiseRpath, "rpath"}, {PromiseWpath, "wpath"},
	{PromiseCpath, "cpath"}, {PromiseProc, "proc"}, {PromiseSignal, "signal"},
	{PromiseIPC, "ipc"}, {PromiseUnveil, "unveil"}, {PromiseExec, "exec"},
}

// ErrBadPromise is returned by ParsePromises for an unknown promise name.
var ErrBadPromise = errors.New("unknown promise")

// ParsePromises parses a space- or comma-separated list such as
// "stdio rpath proc". An empty string gives the zero Promise.
func ParsePromises(s string) (Promise, error) {
	var p Promise
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		found := false
		for _, n := range promiseNames {
			if n.name == f {
				p |= n.p
				found = true
				break
			}
		}
		if !found {
			return 0, errors.Join(ErrBadPromise, errors.New(f))
		}
	}
	return p, nil
}

// Effective returns the promises actually held: the zero value means all.
func (p Promise) Effective() Promise {
	if p == 0 {
		return PromiseAll
	}
	return p
}

// Has reports whether every promise in q is held.
func (p Promise) Has(q Promise) bool { return p.Effective()&q == q }

// Narrow returns the promises that remain after a pledge of q: a pledge can
// only take promises away, never add them. It reports false if q asks for a
// promise that p does not hold.
func (p Promise) Narrow(q Promise) (Promise, bool) {
	eff := p.Effective()
	if q&^eff != 0 {
		return p, false
	}
	return q, true
}

// String formats p as pledge(2) would take it, such as "stdio rpath".
func (p Promise) String() string {
	if p == 0 {
		return ""
	}
	var out []string
	for _, n := range promiseNames {
		if p&n.p != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, " ")
}

// UnveilPath makes Path (and everything below it) visible with Perms, a
// subset of "rwxc" as unveil(2) takes them.
type UnveilPath struct {
	Path  string
	Perms string
}

// ErrBadUnveil is returned by ParseUnveil for a malformed entry.
var ErrBadUnveil = errors.New("bad unveil entry")

// ParseUnveil parses "PATH:PERMS". PATH must be absolute and PERMS a subset
// of "rwxc".
func ParseUnveil(s string) (UnveilPath, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return UnveilPath{}, ErrBadUnveil
	}
	u := UnveilPath{Path: s[:i], Perms: s[i+1:]}
	if !strings.HasPrefix(u.Path, "/") {
		return UnveilPath{}, ErrBadUnveil
	}
	for _, r := range u.Perms {
		if !strings.ContainsRune("rwxc", r) {
			return UnveilPath{}, ErrBadUnveil
		}
	}
	b := []byte(u.Perms)
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	u.Perms = string(b)
	return u, nil
}
