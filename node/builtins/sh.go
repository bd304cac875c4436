package builtins

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// The sh program is a shell that speaks bash. mvdan.cc/sh/v3/syntax parses
// the script (bash's grammar) and mvdan.cc/sh/v3/expand performs word
// expansion; everything else is interpreted here on top of Sys, so that
// every command is a kernel process: pipes, signals, process groups and
// limits are the kernel's.
//
// Usage:
//
//	sh -c SCRIPT [ARG0 [ARG...]]   run SCRIPT
//	sh FILE [ARG...]               run the script FILE of the namespace
//	sh [-s] [ARG...]               run the script read from standard input
//
// The options -e (errexit), -u (nounset), -x (xtrace) and -o NAME (those
// three by name, and pipefail) may come first.
//
// A subshell, a command substitution, a background job and a pipeline stage
// that is not a plain program are run by spawning the shell again with -c
// and the source printed back. The child receives the exported variables in
// its environment, and the rest of the shell's state through the private
// option that comes before -c:
//
//	--subshell=STATUS,PID,BGPID,COND,LEVEL,ASYNC PROLOGUE [--jobs=JOBS]
//
// PROLOGUE is a script that sets the other variables (with declare where
// they are arrays or have attributes), the functions, the options and the
// ignored signals; STATUS, PID and BGPID are $?, $$ and $!; COND is 1 when
// the subshell runs in a condition, where errexit is ignored; LEVEL is how
// many +s set -x writes before a command; ASYNC is 1 for an asynchronous
// subshell, which ignores SIGINT and SIGQUIT and has its commands ignore
// them too. JOBS is the
// job table, as jobs, kill and $(jobs -p) see it in a subshell (see
// encodeJobs); those jobs are not the subshell's children.

// registerShell registers the shell as "sh".
func registerShell(r *node.ProgramTable) { r.Register("sh", progSh) }

// Limits of the interpreter.
const (
	maxShDepth = 1000 // nested function calls, eval and . (dot)
	maxShFd    = 1023 // the highest descriptor a redirection may name
)

// control is a pending change of control flow.
type control int

const (
	ctlNone     control = iota
	ctlBreak            // break ctlN loops
	ctlContinue         // continue the ctlN-th enclosing loop
	ctlReturn           // return from a function or a dot script
	ctlExit             // end the shell with exitCode
)

// fdTable maps the descriptors commands see (the shell's view, as changed
// by redirections) to the shell process's own descriptors.
type fdTable map[int]int

func (t fdTable) clone() fdTable {
	c := make(fdTable, len(t)+2)
	for k, v := range t {
		c[k] = v
	}
	return c
}

// files returns the SpawnAttr.Files of a child that sees t.
func (t fdTable) files() []int {
	n := 0
	for fd := range t {
		n = max(n, fd+1)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = -1
	}
	for fd, k := range t {
		out[fd] = k
	}
	return out
}

// job is a command the shell started: a child to wait for (pid > 0), or the
// status of one that could not start.
type job struct {
	pid    int
	status int
}

// shell is the state of one sh process. Its process's goroutine owns it.
type shell struct {
	s      *node.Sys // nil in the offline expansion tests
	name   string
	parser *syntax.Parser

	vars   map[string]*shVar
	frames []frame // one per function call: the variables its locals hid
	funcs  map[string]*syntax.FuncDecl
	arg0   string
	params []string

	status int // $?
	pid    int // $$
	ppid   int
	lastBg int // $!; 0 until a job runs in the background

	fds   fdTable // what commands see
	owned []int   // descriptors exec made permanent, closed when replaced

	errexit, nounset, xtrace, pipefail, errtrace bool

	traps   map[string]string // trap actions: EXIT, ERR and signal names without SIG
	caught  []ipc.Signal      // trapped signals that arrived, not yet handled (the handler runs on this goroutine, in a system call)
	inTrap  bool              // a trap action runs: traps don't nest
	exiting bool              // the EXIT trap has run or runs

	optInd, optPos int // getopts: the OPTIND it last set, and its place in that argument

	funcNames []string // the functions being called, innermost last: $FUNCNAME

	fgWaited    bool        // a foreground child was waited for in this statement
	jobs        []*shJob    // background jobs, by job number
	reaped      map[int]int // status of background children already reaped, by pid
	reapedOrder []int       // the keys of reaped, oldest first

	cond     int // > 0 while a condition runs: errexit is off
	loops    int // enclosing loops
	funcs0   int // enclosing function calls and dot scripts, for return
	depth    int // enclosing function calls, eval and dot scripts
	ctl      control
	ctlN     int
	exitCode int

	substStatus int       // status of the last command substitution, -1 if none
	builtinName string    // the builtin that runs, for its diagnostics
	inSubst     bool      // a command substitution starts: its shell does not get errexit
	traceLevel  int       // the +s of set -x: 1, and one more in each command substitution
	async       bool      // commands start asynchronously: they ignore SIGINT and SIGQUIT
	hdocSeq     int       // numbers the files of large here-documents
	procSubs    []procSub // the process substitutions of the statements that run
	started     time.Time // when the shell started, for $SECONDS
}

// newShell makes the shell of the process behind s: its environment becomes
// exported variables, and commands see the descriptors it has.
func newShell(s *node.Sys) *shell {
	sh := &shell{
		s:       s,
		name:    s.Command(),
		parser:  syntax.NewParser(syntax.Variant(syntax.LangBash)),
		vars:    make(map[string]*shVar),
		funcs:   make(map[string]*syntax.FuncDecl),
		traps:   make(map[string]string),
		reaped:  make(map[int]int),
		pid:     s.Getpid(),
		started: s.Now(),
		ppid:    s.Getppid(),
		fds:     make(fdTable),
	}
	sh.arg0 = sh.name
	for _, kv := range s.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			sh.vars[k] = &shVar{kind: expand.String, value: v, set: true, exported: true}
		}
	}
	if v := sh.vars["PWD"]; v != nil {
		v.kind, v.value = expand.String, s.Getcwd()
	} else {
		sh.vars["PWD"] = &shVar{kind: expand.String, value: s.Getcwd(), set: true}
	}
	for _, fd := range s.Fds() {
		sh.fds[fd] = fd
	}
	return sh
}

// asyncExec is the private first argument of an sh that only sets SIGINT
// and SIGQUIT ignored and execs the rest of its arguments: how the shell
// starts an asynchronous command, whose signals the kernel's spawn would
// otherwise reset.
//
//	sh --async-exec COMMAND [ARG...]
const asyncExec = "--async-exec"

// ignoreAsync ignores SIGINT and SIGQUIT, as an asynchronous command does.
func (sh *shell) ignoreAsync() {
	for _, sig := range []ipc.Signal{ipc.SIGINT, ipc.SIGQUIT} {
		sh.s.Sigaction(sig, &node.SigAction{Ignore: true})
	}
}

// progSh is the sh program.
func progSh(s *node.Sys) int {
	if a := s.Args(); len(a) > 1 && a[0] == asyncExec {
		sh := newShell(s)
		sh.ignoreAsync()
		err := s.Exec(node.ExecAttr{Command: a[1], Args: a[2:]})
		// Exec returns only when the command could not start.
		if errors.Is(err, node.ErrUnknownProgram) {
			sh.errorf("%s: command not found", a[1])
			return 127
		}
		sh.errorf("%s: %s", a[1], strerror(err))
		return 126
	}
	sh := newShell(s)
	src, name, code := sh.setup(s.Args())
	if code >= 0 {
		return code
	}
	f, err := sh.parser.Parse(strings.NewReader(src), name)
	if err != nil {
		sh.errorf("%v", err)
		return 2
	}
	sh.runStmts(f.Stmts)
	return sh.finish()
}

// finish runs the EXIT trap and returns the shell's exit code.
func (sh *shell) finish() int {
	code := sh.status
	if sh.ctl == ctlExit {
		code = sh.exitCode
	}
	sh.runExitTrap(code)
	if sh.ctl == ctlExit {
		code = sh.exitCode
	}
	return code
}

// setup reads the command line: options, then the script and its
// arguments. It returns the script's source and name, or an exit code >= 0.
func (sh *shell) setup(args []string) (src, name string, code int) {
	cmd, stdin := false, false
	prologue, status := "", 0
	for len(args) > 0 {
		a := args[0]
		if a == "--" || a == "-" {
			args = args[1:]
			break
		}
		if list, ok := strings.CutPrefix(a, "--jobs="); ok {
			sh.decodeJobs(list)
			args = args[1:]
			continue
		}
		if state, ok := strings.CutPrefix(a, "--subshell="); ok && len(args) > 1 {
			prologue = args[1]
			status = sh.inherit(state)
			args = args[2:]
			continue
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		if a[1:] == "o" && len(args) > 1 {
			if !sh.setLongOption(args[1], a[0] == '-') {
				sh.errorf("%s: invalid option name", args[1])
				return "", "", 2
			}
			args = args[2:]
			continue
		}
		for _, c := range a[1:] {
			switch c {
			case 'c':
				cmd = true
			case 's':
				stdin = true
			default:
				if !sh.setOption(c, a[0] == '-') {
					sh.errorf("%c%c: invalid option", a[0], c)
					return "", "", 2
				}
			}
		}
		args = args[1:]
	}
	switch {
	case cmd:
		if len(args) == 0 {
			sh.errorf("-c: option requires an argument")
			return "", "", 2
		}
		src, args = args[0], args[1:]
		if len(args) > 0 {
			sh.arg0, args = args[0], args[1:]
		}
	case !stdin && len(args) > 0:
		name, args = args[0], args[1:]
		b, err := sh.readFile(name)
		if err != nil {
			sh.errorf("%s: %s", name, strerror(err))
			return "", "", 127
		}
		src, sh.arg0 = string(b), name
	default:
		b, err := sh.readAll(0)
		if err != nil {
			sh.errorf("reading the script: %s", strerror(err))
			return "", "", 2
		}
		src = string(b)
	}
	sh.params = args
	if prologue != "" {
		f, err := sh.parser.Parse(strings.NewReader(prologue), "")
		if err != nil {
			sh.errorf("subshell prologue: %v", err)
			return "", "", 2
		}
		sh.runStmts(f.Stmts)
		if sh.ctl == ctlExit {
			return "", "", sh.exitCode
		}
	}
	sh.status = status
	return src, name, -1
}

// inherit takes a parent shell's $$ and $! from --subshell, and whether it
// runs the subshell where errexit is ignored (a condition), and returns its
// $?, which holds once the prologue has run.
func (sh *shell) inherit(state string) (status int) {
	f := strings.Split(state, ",")
	if len(f) != 6 {
		return 0
	}
	if f[5] == "1" {
		sh.async = true
		sh.ignoreAsync()
	}
	if v, err := strconv.Atoi(f[4]); err == nil && v > 0 {
		sh.traceLevel = v
	}
	if f[3] == "1" {
		sh.cond = 1 // for the whole subshell, even if it sets -e again
	}
	if v, err := strconv.Atoi(f[1]); err == nil && v > 0 {
		sh.pid = v
	}
	if v, err := strconv.Atoi(f[2]); err == nil && v >= 0 {
		sh.lastBg = v
	}
	status, _ = strconv.Atoi(f[0])
	return status
}

// setOption turns option c on or off; false means there is no such option.
func (sh *shell) setOption(c rune, on bool) bool {
	switch c {
	case 'e':
		sh.errexit = on
	case 'u':
		sh.nounset = on
	case 'x':
		sh.xtrace = on
	case 'E':
		sh.errtrace = on
	default:
		return false
	}
	return true
}

// shOptions are the options of set -o, in the order set -o lists them.
var shOptions = []string{"errexit", "errtrace", "nounset", "pipefail", "xtrace"}

// setLongOption turns a set -o option on or off; false means there is no
// such option.
func (sh *shell) setLongOption(name string, on bool) bool {
	switch name {
	case "errexit":
		sh.errexit = on
	case "nounset":
		sh.nounset = on
	case "xtrace":
		sh.xtrace = on
	case "pipefail":
		sh.pipefail = on
	case "errtrace":
		sh.errtrace = on
	default:
		return false
	}
	return true
}

// longOption reports whether a set -o option is on.
func (sh *shell) longOption(name string) bool {
	switch name {
	case "errexit":
		return sh.errexit
	case "nounset":
		return sh.nounset
	case "xtrace":
		return sh.xtrace
	case "pipefail":
		return sh.pipefail
	case "errtrace":
		return sh.errtrace
	}
	return false
}

// optionFlags is $-: the letters of the options that are on.
func (sh *shell) optionFlags() string {
	var b strings.Builder
	if sh.errexit {
		b.WriteByte('e')
	}
	if sh.nounset {
		b.WriteByte('u')
	}
	if sh.xtrace {
		b.WriteByte('x')
	}
	if sh.errtrace {
		b.WriteByte('E')
	}
	return b.String()
}

// Output.

// write writes str to the shell's descriptor fd, as redirected.
func (sh *shell) write(fd int, str string) error {
	kfd, ok := sh.fds[fd]
	if !ok {
		return ipc.EBADF
	}
	_, err := sh.s.File(kfd).Write([]byte(str))
	return err
}

// errorf writes a diagnostic line to the shell's standard error.
func (sh *shell) errorf(format string, args ...any) {
	sh.errorTo(sh.fds, format, args...)
}

// errorTo writes a diagnostic line to the standard error of tbl.
func (sh *shell) errorTo(tbl fdTable, format string, args ...any) {
	kfd, ok := tbl[2]
	if !ok || sh.s == nil {
		return
	}
	msg := sh.name + ": " + fmt.Sprintf(format, args...) + "\n"
	sh.s.File(kfd).Write([]byte(msg))
}

// errText is the short description of err that diagnostics show.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var en ipc.Errno
	if errors.As(err, &en) {
		return en.Error()
	}
	return err.Error()
}

// readFile reads a whole file of the namespace.
func (sh *shell) readFile(name string) ([]byte, error) {
	fd, err := sh.s.Open(name, node.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer sh.s.Close(fd)
	return sh.readAll(fd)
}

// readAll reads the shell's own descriptor fd to its end.
func (sh *shell) readAll(fd int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := sh.s.Read(fd, buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// closeAll closes descriptors of the shell process.
func (sh *shell) closeAll(fds []int) {
	for _, fd := range fds {
		sh.s.Close(fd)
	}
}

// checkpoint is a system call, and so a yield point, for loops made only of
// shell builtins: without it they would hold the CPU slot and could be
// neither preempted nor killed.
func (sh *shell) checkpoint() {
	if sh.s != nil {
		sh.s.Getpid()
	}
}
