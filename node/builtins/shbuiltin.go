package builtins

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// The shell's own builtins: the special ones (exit, return, break, continue,
// export, unset, set, shift, eval, .) and the regular ones (cd, read, wait,
// test). They run inside the shell process and change its state.

// isSpecialBuiltin reports whether name is one of POSIX's special builtins
// the shell has: their prefix assignments last.
func isSpecialBuiltin(name string) bool {
	switch name {
	case ":", ".", "break", "continue", "eval", "exit", "export", "return", "set", "shift", "trap", "unset":
		return true
	}
	return false
}

// isBuiltin reports whether name is one of the shell's regular builtins.
func isBuiltin(name string) bool {
	switch name {
	case "cd", "read", "wait", "test", "[", "echo", "printf", "true", "false",
		"kill", "jobs", "fg", "bg", "getopts", "mapfile", "readarray", "builtin", "pledge", "unveil":
		return true
	}
	return false
}

// builtin runs a builtin and returns its status.
func (sh *shell) builtin(name string, args []string) int {
	saved := sh.builtinName
	sh.builtinName = name
	defer func() { sh.builtinName = saved }()
	switch name {
	case ":":
		return 0
	case ".":
		return sh.builtinDot(args)
	case "break", "continue":
		return sh.builtinLoop(name, args)
	case "eval":
		return sh.eval(strings.Join(args, " "), "")
	case "exit":
		return sh.builtinExit(args)
	case "export":
		return sh.builtinExport(args)
	case "return":
		return sh.builtinReturn(args)
	case "set":
		return sh.builtinSet(args)
	case "shift":
		return sh.builtinShift(args)
	case "unset":
		return sh.builtinUnset(args)
	case "cd":
		return sh.builtinCd(args)
	case "read":
		return sh.builtinRead(args)
	case "wait":
		return sh.builtinWait(args)
	case "test", "[":
		return sh.builtinTest(name, args)
	case "trap":
		return sh.builtinTrap(args)
	case "echo":
		return sh.builtinEcho(args)
	case "printf":
		return sh.builtinPrintf(args)
	case "true":
		return 0
	case "false":
		return 1
	case "kill":
		return sh.builtinKill(args)
	case "jobs":
		return sh.builtinJobs(args)
	case "fg", "bg":
		return sh.builtinFgBg(name, args)
	case "getopts":
		return sh.builtinGetopts(args)
	case "builtin":
		// builtin NAME [ARG...] runs the builtin NAME, even where a
		// function of that name hides it.
		if len(args) == 0 {
			return 0
		}
		if !isSpecialBuiltin(args[0]) && !isBuiltin(args[0]) {
			sh.errorf("builtin: %s: not a shell builtin", args[0])
			return 1
		}
		return sh.builtin(args[0], args[1:])
	case "mapfile", "readarray":
		return sh.builtinMapfile(name, args)
	case "pledge":
		return sh.builtinPledge(args)
	case "unveil":
		return sh.builtinUnveil(args)
	}
	sh.errorf("%s: not a builtin", name)
	return 2
}

// count parses the optional count argument of exit, return, break, etc.
func (sh *shell) count(name string, args []string, def int) (int, bool) {
	if len(args) == 0 {
		return def, true
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || (n < 0 && name != "exit" && name != "return") {
		sh.errorf("%s: %s: numeric argument required", name, args[0])
		return 0, false
	}
	return n, true
}

// builtinExit is exit [N].
func (sh *shell) builtinExit(args []string) int {
	n, ok := sh.count("exit", args, sh.status)
	if !ok {
		n = 2
	}
	sh.exit(n & 0xff)
	return n & 0xff
}

// builtinReturn is return [N].
func (sh *shell) builtinReturn(args []string) int {
	n, ok := sh.count("return", args, sh.status)
	if !ok {
		return 2
	}
	if sh.funcs0 == 0 {
		sh.errorf("return: can only `return' from a function or sourced script")
		return 2
	}
	sh.ctl = ctlReturn
	return n & 0xff
}

// builtinLoop is break [N] and continue [N].
func (sh *shell) builtinLoop(name string, args []string) int {
	n, ok := sh.count(name, args, 1)
	if !ok || n == 0 {
		if ok {
			sh.errorf("%s: 0: loop count out of range", name)
		}
		return 1
	}
	if sh.loops == 0 {
		sh.errorf("%s: only meaningful in a `for', `while', or `until' loop", name)
		return 0
	}
	sh.ctl, sh.ctlN = ctlBreak, min(n, sh.loops)
	if name == "continue" {
		sh.ctl = ctlContinue
	}
	return 0
}

// builtinExport is export [-p] [NAME[=VALUE]...].
func (sh *shell) builtinExport(args []string) int {
	if len(args) == 0 || (len(args) == 1 && args[0] == "-p") {
		var b strings.Builder
		for _, name := range sortedKeys(sh.vars) {
			v := sh.vars[name]
			switch {
			case !v.exported || !syntax.ValidName(name):
			case v.set:
				b.WriteString("declare -x " + name + "=" + dquote(v.str()) + "\n")
			default:
				b.WriteString("declare -x " + name + "\n")
			}
		}
		return sh.output(b.String())
	}
	status := 0
	for _, a := range args {
		name, value, hasValue := strings.Cut(a, "=")
		if !syntax.ValidName(name) {
			sh.errorf("export: %s: bad variable name", name)
			status = 1
			continue
		}
		v := sh.vars[name]
		if v == nil {
			v = &shVar{}
			sh.vars[name] = v
		}
		if hasValue {
			if err := sh.setVar(name, value); err != nil {
				sh.errorf("%v", err)
				status = 1
				continue
			}
		}
		v.exported = true
	}
	return status
}

// output writes a builtin's output to standard output; a failed write is
// its status.
func (sh *shell) output(str string) int {
	if str == "" {
		return 0
	}
	if err := sh.write(1, str); err != nil {
		sh.errorf("%s: write error: %s", sh.builtinName, strerror(err))
		return 1
	}
	return 0
}

// builtinUnset is unset [-f|-v] NAME...
func (sh *shell) builtinUnset(args []string) int {
	funcs := false
	if len(args) > 0 && (args[0] == "-f" || args[0] == "-v") {
		funcs, args = args[0] == "-f", args[1:]
	}
	status := 0
	for _, name := range args {
		if funcs {
			delete(sh.funcs, name)
		} else if err := sh.unsetVar(name); err != nil {
			sh.errorf("unset: %v", err)
			status = 1
		}
	}
	return status
}

// builtinSet is set [-eux|+eux] [--] [ARG...]; alone it lists variables.
func (sh *shell) builtinSet(args []string) int {
	if len(args) == 0 {
		var b strings.Builder
		for _, name := range sortedKeys(sh.vars) {
			if v := sh.vars[name]; v.set && syntax.ValidName(name) && v.kind == expand.String {
				b.WriteString(name + "=" + quoteWord(v.value) + "\n")
			}
		}
		return sh.output(b.String())
	}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			sh.params = slices.Clone(args[1:])
			return 0
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		if strings.HasSuffix(a, "o") && len(a) > 2 {
			// -eo NAME: the letters, then -o NAME.
			for _, c := range a[1 : len(a)-1] {
				if !sh.setOption(c, a[0] == '-') {
					sh.errorf("set: %c%c: invalid option", a[0], c)
					return 2
				}
			}
			a = a[:1] + "o"
		}
		if a[1:] == "o" {
			if len(args) < 2 {
				sh.listOptions(a[0] == '-')
				args = args[1:]
				continue
			}
			if !sh.setLongOption(args[1], a[0] == '-') {
				sh.errorf("set: %s: invalid option name", args[1])
				return 2
			}
			args = args[2:]
			continue
		}
		for _, c := range a[1:] {
			if !sh.setOption(c, a[0] == '-') {
				sh.errorf("set: %c%c: invalid option", a[0], c)
				return 2
			}
		}
		args = args[1:]
	}
	if len(args) > 0 {
		sh.params = slices.Clone(args)
	}
	return 0
}

// listOptions is set -o (a table) and set +o (commands that restore the
// options).
func (sh *shell) listOptions(table bool) {
	var b strings.Builder
	for _, name := range shOptions {
		on := sh.longOption(name)
		switch {
		case table && on:
			fmt.Fprintf(&b, "%-15s\ton\n", name)
		case table:
			fmt.Fprintf(&b, "%-15s\toff\n", name)
		case on:
			b.WriteString("set -o " + name + "\n")
		default:
			b.WriteString("set +o " + name + "\n")
		}
	}
	sh.output(b.String())
}

// builtinShift is shift [N].
func (sh *shell) builtinShift(args []string) int {
	n, ok := sh.count("shift", args, 1)
	if !ok {
		return 2
	}
	if n > len(sh.params) {
		return 1
	}
	sh.params = sh.params[n:]
	return 0
}

// builtinCd is cd [DIR|-].
func (sh *shell) builtinCd(args []string) int {
	var dir string
	switch {
	case len(args) == 0:
		home, ok := sh.lookup("HOME")
		if !ok {
			sh.errorf("cd: HOME not set")
			return 1
		}
		dir = home
	case args[0] == "-":
		old, ok := sh.lookup("OLDPWD")
		if !ok {
			sh.errorf("cd: OLDPWD not set")
			return 1
		}
		dir = old
	default:
		dir = args[0]
	}
	old := sh.s.Getcwd()
	if err := sh.s.Chdir(dir); err != nil {
		sh.errorf("cd: %s: %s", dir, strerror(err))
		return 1
	}
	sh.setVar("OLDPWD", old)
	sh.setVar("PWD", sh.s.Getcwd())
	if len(args) > 0 && args[0] == "-" {
		return sh.output(sh.s.Getcwd() + "\n")
	}
	return 0
}

// eval parses src and runs it in the shell.
func (sh *shell) eval(src, name string) int {
	if sh.depth >= maxShDepth {
		sh.errorf("eval nested too deeply")
		sh.exit(2)
		return 2
	}
	f, err := sh.parser.Parse(strings.NewReader(src), name)
	if err != nil {
		sh.errorf("%v", err)
		return 2
	}
	if len(f.Stmts) == 0 {
		return 0
	}
	sh.depth++
	sh.runStmts(f.Stmts)
	sh.depth--
	return sh.status
}

// builtinDot is . FILE [ARG...]: it runs FILE in the shell.
func (sh *shell) builtinDot(args []string) int {
	if len(args) == 0 {
		sh.errorf(".: filename argument required")
		return 2
	}
	b, err := sh.readFile(args[0])
	if err != nil {
		sh.errorf(".: %s: %s", args[0], strerror(err))
		return 1
	}
	saved := sh.params
	if len(args) > 1 {
		sh.params = args[1:]
	}
	sh.funcs0++
	status := sh.eval(string(b), args[0])
	sh.funcs0--
	if len(args) > 1 {
		sh.params = saved
	}
	if sh.ctl == ctlReturn {
		sh.ctl = ctlNone
	}
	return status
}
