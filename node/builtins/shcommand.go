package builtins

import (
	"errors"
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/vproc/vproc/node"
)

// Simple commands: builtins, functions and children, which get the
// exported variables and the descriptors of the shell as redirected.

// runCall runs a simple command in the foreground.
func (sh *shell) runCall(st *syntax.Stmt, call *syntax.CallExpr) {
	sh.substStatus = -1
	fields, err := sh.commandFields(call.Args)
	if err != nil {
		sh.expandFailed(err)
		return
	}
	if len(fields) == 0 {
		sh.runAssignments(st, call)
		return
	}
	tbl, opened, err := sh.redirect(sh.fds, st.Redirs)
	if err != nil {
		sh.errorf("%v", err)
		sh.status = 1
		return
	}
	name := fields[0]
	if name == "exec" {
		sh.exec(call, fields[1:], tbl, opened)
		return
	}
	defer sh.closeAll(opened)
	special := isSpecialBuiltin(name)
	if special {
		for _, a := range call.Assigns {
			if !sh.assign(a) {
				return
			}
		}
	} else {
		restore, err := sh.tempAssign(call.Assigns)
		if err != nil {
			sh.expandFailed(err)
			return
		}
		defer restore()
	}
	sh.trace(call.Assigns, fields)
	// A function hides a regular builtin, not a special one.
	if fn := sh.funcs[name]; fn != nil && !special {
		saved := sh.fds
		sh.fds = tbl
		sh.callFunc(fn, fields[1:])
		sh.fds = saved
		sh.setPipeStatus(sh.status)
		return
	}
	if special || isBuiltin(name) {
		saved := sh.fds
		sh.fds = tbl
		sh.status = sh.builtin(name, fields[1:])
		sh.fds = saved
		sh.setPipeStatus(sh.status)
		return
	}
	sh.status = sh.waitFg(sh.spawn(fields, tbl), func() string { return strings.TrimSpace(sh.print(call)) })
	sh.setPipeStatus(sh.status)
}

// runAssignments runs a command line that has no command: its assignments
// change the shell's variables, and its redirections are made and undone.
func (sh *shell) runAssignments(st *syntax.Stmt, call *syntax.CallExpr) {
	for _, a := range call.Assigns {
		if !sh.assign(a) {
			return
		}
	}
	sh.trace(call.Assigns, nil)
	_, opened, err := sh.redirect(sh.fds, st.Redirs)
	if err != nil {
		sh.errorf("%v", err)
		sh.status = 1
		return
	}
	sh.closeAll(opened)
	sh.status = max(sh.substStatus, 0)
}

// assign performs one assignment in the shell; false means it failed.
func (sh *shell) assign(a *syntax.Assign) bool {
	if err := sh.assignTo(a); err != nil {
		sh.expandFailed(err)
		return false
	}
	return true
}

// ps4 is the prefix of a traced command: a + for each level of command
// substitution the command runs in, and a space.
func (sh *shell) ps4() string {
	n := max(sh.traceLevel, 1)
	if sh.inSubst {
		n++
	}
	return strings.Repeat("+", n) + " "
}

// trace writes a command to standard error when xtrace is on.
func (sh *shell) trace(assigns []*syntax.Assign, fields []string) {
	if !sh.xtrace {
		return
	}
	words := make([]string, 0, len(assigns)+len(fields))
	for _, a := range assigns {
		if a.Name != nil {
			v, _ := sh.lookup(a.Name.Value)
			words = append(words, a.Name.Value+"="+quoteWord(v))
		}
	}
	for _, f := range fields {
		words = append(words, quoteWord(f))
	}
	sh.write(2, sh.ps4()+strings.Join(words, " ")+"\n")
}

// spawn starts the program fields[0] with the environment of the current
// variables and the descriptors of tbl. A name with a slash is a script of
// the namespace, run by a new shell.
func (sh *shell) spawn(fields []string, tbl fdTable) job {
	name, args := fields[0], fields[1:]
	if strings.Contains(name, "/") {
		fi, err := sh.s.Stat(name)
		if err != nil {
			sh.errorTo(tbl, "%s: %s", name, strerror(err))
			return job{status: 127}
		}
		if fi.IsDir() {
			sh.errorTo(tbl, "%s: Is a directory", name)
			return job{status: 126}
		}
		name, args = sh.name, fields
	}
	if sh.async {
		// An asynchronous command ignores SIGINT and SIGQUIT, as POSIX
		// asks of a shell without job control: sh sets them so and
		// execs the command, which keeps them ignored.
		name, args = sh.name, append([]string{asyncExec, name}, args...)
	}
	pid, err := sh.s.Spawn(node.SpawnAttr{Command: name, Args: args, Env: sh.environ(), Files: tbl.files()})
	switch {
	case err == nil:
		return job{pid: pid}
	case errors.Is(err, node.ErrUnknownProgram):
		sh.errorTo(tbl, "%s: command not found", fields[0])
		return job{status: 127}
	default:
		sh.errorTo(tbl, "%s: %s", fields[0], strerror(err))
		return job{status: 126}
	}
}

// forkSource starts a copy of the shell that runs src with the descriptors
// of tbl: a subshell. The copy gets the variables, functions, options and
// positional parameters of this shell.
func (sh *shell) forkSource(src string, tbl fdTable) job {
	return sh.fork(src, tbl, false)
}

// fork is forkSource; withJobs also gives the copy the job table, as bash
// does for a simple command run in a pipeline stage or a command
// substitution (so that jobs -p | wc -l and $(jobs -p) see the jobs).
func (sh *shell) fork(src string, tbl fdTable, withJobs bool) job {
	var b strings.Builder
	for _, name := range sortedKeys(sh.vars) {
		v := sh.vars[name]
		switch {
		case !syntax.ValidName(name):
		case v.set && (v.kind != expand.String || v.readonly || v.integer || v.lower || v.upper):
			b.WriteString(quoteVar(name, v) + "\n")
		case v.set && !v.exported:
			b.WriteString(name + "=" + quoteWord(v.value) + "\n")
		case !v.set && v.exported:
			b.WriteString("export " + name + "\n")
		}
	}
	for _, name := range sortedKeys(sh.funcs) {
		b.WriteString(sh.print(sh.funcs[name]) + "\n")
	}
	f := sh.optionFlags()
	if sh.inSubst {
		// bash's command substitutions do not inherit errexit.
		f = strings.ReplaceAll(f, "e", "")
	}
	if f != "" {
		b.WriteString("set -" + f + "\n")
	}
	if sh.pipefail {
		b.WriteString("set -o pipefail\n")
	}
	// Ignored signals stay ignored in a subshell; other traps are reset.
	for _, name := range sortedTrapNames(sh.traps) {
		if sh.traps[name] == "" && name != "EXIT" && name != "ERR" {
			b.WriteString("trap '' " + name + "\n")
		}
	}
	cond := 0
	if sh.cond > 0 {
		cond = 1
	}
	async := 0
	if sh.async {
		async = 1
	}
	level := max(sh.traceLevel, 1)
	if sh.inSubst {
		level++
	}
	args := []string{fmt.Sprintf("--subshell=%d,%d,%d,%d,%d,%d", sh.status, sh.pid, sh.lastBg, cond, level, async), b.String()}
	if withJobs && len(sh.jobs) > 0 {
		args = append(args, "--jobs="+sh.encodeJobs())
	}
	args = append(args, "-c", src, sh.arg0)
	args = append(args, sh.params...)
	pid, err := sh.s.Spawn(node.SpawnAttr{Command: sh.name, Args: args, Env: sh.environ(), Files: tbl.files()})
	if err != nil {
		sh.errorTo(tbl, "cannot start a subshell: %s", strerror(err))
		return job{status: 126}
	}
	return job{pid: pid}
}

// print returns the source of a node.
func (sh *shell) print(n syntax.Node) string {
	var b strings.Builder
	if err := syntax.NewPrinter().Print(&b, n); err != nil {
		return ""
	}
	return b.String()
}

// printStmts returns the source of a list of statements.
func (sh *shell) printStmts(stmts []*syntax.Stmt) string {
	return sh.print(&syntax.File{Stmts: stmts})
}

// start starts st as a child process with the descriptors of tbl, without
// waiting for it: a pipeline stage or a background job. A simple command
// that names a program is spawned directly; anything else runs in a
// subshell.
func (sh *shell) start(st *syntax.Stmt, tbl fdTable) job {
	if call, ok := st.Cmd.(*syntax.CallExpr); ok && !st.Negated && len(call.Args) > 0 {
		lit := call.Args[0].Lit()
		if lit == "" || sh.external(lit) {
			fields, err := sh.commandFields(call.Args)
			if err != nil {
				sh.errorTo(tbl, "%v", err)
				return job{status: 1}
			}
			if len(fields) > 0 && sh.external(fields[0]) {
				return sh.startExternal(st, call, fields, tbl)
			}
			// The name expanded to a builtin or a function: the
			// subshell expands the words again.
		}
	}
	if sub, ok := st.Cmd.(*syntax.Subshell); ok && !st.Negated && len(st.Redirs) == 0 {
		return sh.forkSource(sh.printStmts(sub.Stmts), tbl)
	}
	_, simple := st.Cmd.(*syntax.CallExpr)
	return sh.fork(sh.print(st), tbl, simple)
}

// startExternal spawns the program of an expanded simple command, with its
// prefix assignments and redirections.
func (sh *shell) startExternal(st *syntax.Stmt, call *syntax.CallExpr, fields []string, tbl fdTable) job {
	restore, err := sh.tempAssign(call.Assigns)
	if err != nil {
		sh.errorTo(tbl, "%v", err)
		return job{status: 1}
	}
	defer restore()
	ctbl, opened, err := sh.redirect(tbl, st.Redirs)
	if err != nil {
		sh.errorTo(tbl, "%v", err)
		return job{status: 1}
	}
	defer sh.closeAll(opened)
	sh.trace(call.Assigns, fields)
	return sh.spawn(fields, ctbl)
}

// startList starts a list of statements, as a command substitution has.
func (sh *shell) startList(stmts []*syntax.Stmt, tbl fdTable) job {
	if len(stmts) == 1 && !stmts[0].Background {
		return sh.start(stmts[0], tbl)
	}
	return sh.forkSource(sh.printStmts(stmts), tbl)
}

// external reports whether name runs a program rather than a builtin or a
// function of the shell.
func (sh *shell) external(name string) bool {
	return !isSpecialBuiltin(name) && !isBuiltin(name) && name != "exec" && sh.funcs[name] == nil
}

// callFunc runs a function with args as its positional parameters.
func (sh *shell) callFunc(fn *syntax.FuncDecl, args []string) {
	if sh.depth >= maxShDepth {
		sh.errorf("%s: functions nested too deeply", fn.Name.Value)
		sh.status = 2
		sh.exit(2)
		return
	}
	sh.checkpoint()
	saved := sh.params
	sh.params = args
	sh.depth++
	sh.funcs0++
	sh.frames = append(sh.frames, frame{})
	sh.funcNames = append(sh.funcNames, fn.Name.Value)
	sh.runStmt(fn.Body)
	sh.funcNames = sh.funcNames[:len(sh.funcNames)-1]
	sh.popFrame()
	sh.funcs0--
	sh.depth--
	sh.params = saved
	if sh.ctl == ctlReturn {
		sh.ctl = ctlNone
	}
}

// exec replaces the shell with a command, through the kernel's exec: the
// process keeps its PID, group and session, and the command gets the
// descriptors of tbl and the exported variables. With no command, it makes
// its redirections permanent. A command that can't run ends the shell (127
// when there is no such program, 126 otherwise), as in bash.
func (sh *shell) exec(call *syntax.CallExpr, args []string, tbl fdTable, opened []int) {
	if len(args) == 0 {
		sh.closeUnused(tbl, opened)
		sh.fds = tbl
		sh.status = max(sh.substStatus, 0)
		return
	}
	defer sh.closeAll(opened)
	restore, err := sh.tempAssign(call.Assigns)
	if err != nil {
		sh.expandFailed(err)
		return
	}
	defer restore()
	sh.trace(call.Assigns, args)
	name, argv := args[0], args[1:]
	if strings.Contains(name, "/") {
		// A script of the namespace: sh runs it, in place.
		fi, err := sh.s.Stat(name)
		switch {
		case err != nil:
			sh.errorTo(tbl, "exec: %s: %s", name, strerror(err))
			sh.status = 127
		case fi.IsDir():
			sh.errorTo(tbl, "exec: %s: Is a directory", name)
			sh.status = 126
		}
		if err != nil || fi.IsDir() {
			sh.exit(sh.status)
			return
		}
		name, argv = sh.name, args
	}
	err = sh.s.Exec(node.ExecAttr{Command: name, Args: argv, Env: sh.environ(), Files: tbl.files()})
	// Exec returns only when the command could not replace the shell.
	sh.status = 126
	if errors.Is(err, node.ErrUnknownProgram) {
		sh.errorTo(tbl, "exec: %s: not found", args[0])
		sh.status = 127
	} else {
		sh.errorTo(tbl, "exec: %s: %s", args[0], strerror(err))
	}
	sh.exit(sh.status)
}

// closeUnused closes the descriptors earlier execs opened that tbl no longer
// uses, and records opened as owned.
func (sh *shell) closeUnused(tbl fdTable, opened []int) {
	inUse := make(map[int]bool, len(tbl))
	for _, k := range tbl {
		inUse[k] = true
	}
	var keep []int
	for _, fd := range append(sh.owned, opened...) {
		if inUse[fd] {
			keep = append(keep, fd)
		} else {
			sh.s.Close(fd)
		}
	}
	sh.owned = keep
}

// quoteWord quotes s for the shell when it needs quoting.
func quoteWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
