package builtins

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// Word expansion through mvdan.cc/sh/v3/expand, with the shell's variables,
// special parameters and command substitution.

// shellEnv shows the shell's variables and special parameters to expand.
type shellEnv struct{ sh *shell }

var _ expand.WriteEnviron = shellEnv{}

// strVar is a set string variable.
func strVar(s string) expand.Variable {
	return expand.Variable{Set: true, Kind: expand.String, Str: s}
}

// Get returns a variable or a special parameter.
func (e shellEnv) Get(name string) expand.Variable {
	sh := e.sh
	switch name {
	case "@", "*":
		return expand.Variable{Set: true, Kind: expand.Indexed, List: sh.params}
	case "#":
		return strVar(strconv.Itoa(len(sh.params)))
	case "?":
		return strVar(strconv.Itoa(sh.status))
	case "$":
		return strVar(strconv.Itoa(sh.pid))
	case "!":
		if sh.lastBg == 0 {
			return expand.Variable{}
		}
		return strVar(strconv.Itoa(sh.lastBg))
	case "-":
		return strVar(sh.optionFlags())
	case "0":
		return strVar(sh.arg0)
	case "PPID":
		return strVar(strconv.Itoa(sh.ppid))
	case "FUNCNAME":
		if len(sh.funcNames) == 0 {
			return expand.Variable{}
		}
		list := make([]string, len(sh.funcNames))
		for i, n := range sh.funcNames {
			list[len(list)-1-i] = n
		}
		return expand.Variable{Set: true, Kind: expand.Indexed, List: list}
	case "RANDOM":
		return strVar(strconv.Itoa(rand.IntN(32768)))
	case "SECONDS":
		if sh.s == nil {
			return strVar("0")
		}
		return strVar(strconv.Itoa(int(sh.s.Now().Sub(sh.started).Seconds())))
	case "BASHPID":
		if sh.s == nil {
			return strVar(strconv.Itoa(sh.pid))
		}
		return strVar(strconv.Itoa(sh.s.Getpid()))
	}
	if name != "" && strings.Trim(name, "0123456789") == "" {
		n, err := strconv.Atoi(name)
		if err != nil || n < 1 || n > len(sh.params) {
			return expand.Variable{}
		}
		return strVar(sh.params[n-1])
	}
	if user, ok := strings.CutPrefix(name, "HOME "); ok {
		// ~user: the namespace has no user database, so the word stays
		// as it is, as POSIX says for an unknown user.
		return strVar("~" + user)
	}
	v := sh.vars[name]
	if v == nil {
		return expand.Variable{}
	}
	return v.variable()
}

// Each calls fn for every variable, in name order, until it returns false.
func (e shellEnv) Each(fn func(name string, vr expand.Variable) bool) {
	for _, name := range sortedKeys(e.sh.vars) {
		if !fn(name, e.Get(name)) {
			return
		}
	}
}

// Set assigns or unsets a variable, for ${NAME=word} and arithmetic.
func (e shellEnv) Set(name string, vr expand.Variable) error {
	switch {
	case vr.Kind == expand.KeepValue:
		return nil
	case !vr.IsSet():
		delete(e.sh.vars, name)
		return nil
	case vr.Kind == expand.Indexed:
		e.sh.setArray(name, vr.List)
		return nil
	case vr.Kind != expand.String:
		return fmt.Errorf("%s: cannot assign this kind of value", name)
	}
	return e.sh.setVar(name, vr.Str)
}

// config is the expansion configuration of the shell as it is now.
func (sh *shell) config() *expand.Config {
	cfg := &expand.Config{
		Env:       shellEnv{sh},
		CmdSubst:  sh.cmdSubst,
		ProcSubst: sh.procSubst,
		NoUnset:   sh.nounset,
	}
	if sh.s != nil {
		cfg.ReadDir2 = sh.readDir
	}
	return cfg
}

// procSub is a process substitution of the statement that runs: the
// shell's end of its pipe, and its command.
type procSub struct {
	fd  int
	job job
}

// procSubst runs a process substitution, <(LIST) or >(LIST): LIST runs
// with its output (or input) on a pipe, and the word becomes /dev/fd/N, N
// being the shell's end of that pipe, which the statement's commands get
// at the same number. The statement's end closes it and waits for LIST.
func (sh *shell) procSubst(ps *syntax.ProcSubst) (string, error) {
	if sh.s == nil {
		return "", errors.New("process substitution: no kernel")
	}
	r, w, err := sh.s.Pipe()
	if err != nil {
		return "", fmt.Errorf("process substitution: %s", strerror(err))
	}
	tbl := sh.fds.clone()
	keep, give := r, w
	if ps.Op == syntax.CmdIn {
		tbl[1] = w
	} else {
		tbl[0] = r
		keep, give = w, r
	}
	j := sh.startList(ps.Stmts, tbl)
	sh.s.Close(give)
	if j.pid > 0 {
		sh.lastBg = j.pid
	}
	sh.fds[keep] = keep
	sh.procSubs = append(sh.procSubs, procSub{fd: keep, job: j})
	return "/dev/fd/" + strconv.Itoa(keep), nil
}

// endProcSubsts closes the process substitutions made since the first
// mark ones, and waits for their commands unless the statement runs in
// the background (a later wait reaps them).
func (sh *shell) endProcSubsts(mark int, wait bool) {
	if len(sh.procSubs) <= mark {
		return
	}
	for _, p := range sh.procSubs[mark:] {
		if sh.fds[p.fd] == p.fd {
			delete(sh.fds, p.fd)
		}
		sh.s.Close(p.fd)
	}
	for _, p := range sh.procSubs[mark:] {
		if wait {
			sh.wait(p.job)
		}
	}
	sh.procSubs = sh.procSubs[:mark]
}

// readDir lists a directory for globbing; "" is the working directory.
func (sh *shell) readDir(name string) ([]fs.DirEntry, error) {
	if name == "" {
		name = "."
	}
	return sh.s.ReadDir(name)
}

// fields expands words into the fields of a command line.
func (sh *shell) fields(words ...*syntax.Word) ([]string, error) {
	return expand.Fields(sh.config(), words...)
}

// commandFields expands a command line. The NAME=value arguments of export
// are expanded as assignments, without field splitting.
func (sh *shell) commandFields(words []*syntax.Word) ([]string, error) {
	if len(words) == 0 || words[0].Lit() != "export" {
		return sh.fields(words...)
	}
	out := []string{"export"}
	for _, w := range words[1:] {
		if lit, ok := w.Parts[0].(*syntax.Lit); ok {
			if name, _, ok := strings.Cut(lit.Value, "="); ok && syntax.ValidName(name) {
				v, err := sh.literal(w)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
				continue
			}
		}
		f, err := sh.fields(w)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// literal expands a word into one string, without splitting or globbing.
func (sh *shell) literal(w *syntax.Word) (string, error) {
	return expand.Literal(sh.config(), w)
}

// expandFailed handles an expansion error: a non-interactive shell exits.
func (sh *shell) expandFailed(err error) {
	code := 1
	var unset expand.UnsetParameterError
	if errors.As(err, &unset) {
		code = 127 // as bash: ${X?} and set -u
	}
	sh.status = code
	if unset.Node != nil && unset.Node.Param != nil && allDigitsStr(unset.Node.Param.Value) && unset.Message == "unbound variable" {
		err = fmt.Errorf("$%v", err) // set -u names a positional parameter with its $
	}
	sh.errorf("%v", err)
	sh.exit(code)
}

// exit makes the shell end with code once control unwinds.
func (sh *shell) exit(code int) {
	sh.ctl, sh.exitCode = ctlExit, code
}

// cmdSubst runs a command substitution and copies its output to w.
func (sh *shell) cmdSubst(w io.Writer, cs *syntax.CmdSubst) error {
	if sh.s == nil || len(cs.Stmts) == 0 {
		return nil
	}
	r, wfd, err := sh.s.Pipe()
	if err != nil {
		return fmt.Errorf("command substitution: %s", strerror(err))
	}
	tbl := sh.fds.clone()
	tbl[1] = wfd
	saved := sh.inSubst
	sh.inSubst = true
	j := sh.startList(cs.Stmts, tbl)
	sh.inSubst = saved
	sh.s.Close(wfd)
	buf := make([]byte, 32<<10)
	var rerr error
	for {
		n, err := sh.s.Read(r, buf)
		w.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = fmt.Errorf("command substitution: %s", strerror(err))
			break
		}
	}
	sh.s.Close(r)
	sh.status = sh.wait(j)
	sh.substStatus = sh.status
	return rerr
}
