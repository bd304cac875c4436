package node

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/pattern"
	"mvdan.cc/sh/v3/syntax"

	"github.com/vproc/vproc/ipc"
)

// The sh program is a small POSIX shell. mvdan.cc/sh/v3/syntax parses the
// script and mvdan.cc/sh/v3/expand performs word expansion; everything else
// is interpreted here on top of Sys, so that every command is a kernel
// process: pipes, signals, process groups and limits are the kernel's.
//
// Usage:
//
//	sh -c SCRIPT [ARG0 [ARG...]]   run SCRIPT
//	sh FILE [ARG...]               run the script FILE of the namespace
//	sh [-s] [ARG...]               run the script read from standard input
//
// The options -e (errexit), -u (nounset) and -x (xtrace) may come first.
//
// A subshell, a command substitution, a background job and a pipeline stage
// that is not a plain program are run by spawning the shell again with -c
// and the source printed back. The child receives the exported variables in
// its environment, and the rest of the shell's state through the private
// option that comes before -c:
//
//	--subshell=STATUS,PID,BGPID PROLOGUE
//
// PROLOGUE is a script that sets the other variables, the functions and the
// options; STATUS, PID and BGPID are $?, $$ and $!.

// registerShell registers the shell as "sh".
func registerShell(r *Registry) { r.Register("sh", progSh) }

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

// shVar is a shell variable.
type shVar struct {
	value    string
	set      bool // false: declared by export but never given a value
	exported bool
}

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
	s      *Sys // nil in the offline expansion tests
	name   string
	parser *syntax.Parser

	vars   map[string]*shVar
	funcs  map[string]*syntax.FuncDecl
	arg0   string
	params []string

	status int // $?
	pid    int // $$
	ppid   int
	lastBg int // $!; 0 until a job runs in the background

	fds   fdTable // what commands see
	owned []int   // descriptors exec made permanent, closed when replaced

	errexit, nounset, xtrace bool

	cond     int // > 0 while a condition runs: errexit is off
	loops    int // enclosing loops
	funcs0   int // enclosing function calls and dot scripts, for return
	depth    int // enclosing function calls, eval and dot scripts
	ctl      control
	ctlN     int
	exitCode int

	substStatus int // status of the last command substitution, -1 if none
}

// newShell makes the shell of the process behind s: its environment becomes
// exported variables, and commands see the descriptors it has.
func newShell(s *Sys) *shell {
	sh := &shell{
		s:      s,
		name:   s.Command(),
		parser: syntax.NewParser(syntax.Variant(syntax.LangPOSIX)),
		vars:   make(map[string]*shVar),
		funcs:  make(map[string]*syntax.FuncDecl),
		pid:    s.Getpid(),
		ppid:   s.Getppid(),
		fds:    make(fdTable),
	}
	sh.arg0 = sh.name
	for _, kv := range s.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			sh.vars[k] = &shVar{value: v, set: true, exported: true}
		}
	}
	if v := sh.vars["PWD"]; v != nil {
		v.value = s.Getcwd()
	} else {
		sh.vars["PWD"] = &shVar{value: s.Getcwd(), set: true}
	}
	for _, fd := range s.Fds() {
		sh.fds[fd] = fd
	}
	return sh
}

// progSh is the sh program.
func progSh(s *Sys) int {
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
	if sh.ctl == ctlExit {
		return sh.exitCode
	}
	return sh.status
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
		if state, ok := strings.CutPrefix(a, "--subshell="); ok && len(args) > 1 {
			prologue = args[1]
			status = sh.inherit(state)
			args = args[2:]
			continue
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
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
			sh.errorf("%s: %s", name, errText(err))
			return "", "", 127
		}
		src, sh.arg0 = string(b), name
	default:
		b, err := sh.readAll(0)
		if err != nil {
			sh.errorf("reading the script: %s", errText(err))
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

// inherit takes a parent shell's $$ and $! from --subshell, and returns its
// $?, which holds once the prologue has run.
func (sh *shell) inherit(state string) (status int) {
	f := strings.Split(state, ",")
	if len(f) != 3 {
		return 0
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
	default:
		return false
	}
	return true
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
	fd, err := sh.s.Open(name, O_RDONLY, 0)
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

// Variables.

// lookup returns the value of a variable and whether it is set.
func (sh *shell) lookup(name string) (string, bool) {
	v := sh.vars[name]
	if v == nil || !v.set {
		return "", false
	}
	return v.value, true
}

// setVar assigns a variable, keeping its export attribute.
func (sh *shell) setVar(name, value string) error {
	if !syntax.ValidName(name) {
		return fmt.Errorf("%s: bad variable name", name)
	}
	if v := sh.vars[name]; v != nil {
		v.value, v.set = value, true
		return nil
	}
	sh.vars[name] = &shVar{value: value, set: true}
	return nil
}

// environ is the environment of a child: the exported variables that are set.
func (sh *shell) environ() []string {
	env := make([]string, 0, len(sh.vars))
	for _, name := range sortedKeys(sh.vars) {
		if v := sh.vars[name]; v.exported && v.set {
			env = append(env, name+"="+v.value)
		}
	}
	return env
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tempAssign performs the assignments of a command's prefix as exported
// variables; restore undoes them.
func (sh *shell) tempAssign(assigns []*syntax.Assign) (restore func(), err error) {
	type saved struct {
		name string
		old  *shVar
	}
	var undo []saved
	restore = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			if undo[i].old == nil {
				delete(sh.vars, undo[i].name)
			} else {
				sh.vars[undo[i].name] = undo[i].old
			}
		}
	}
	for _, a := range assigns {
		value, err := sh.assignValue(a)
		if err != nil {
			restore()
			return func() {}, err
		}
		name := a.Name.Value
		var old *shVar
		if v := sh.vars[name]; v != nil {
			c := *v
			old = &c
		}
		undo = append(undo, saved{name, old})
		sh.vars[name] = &shVar{value: value, set: true, exported: true}
	}
	return restore, nil
}

// assignValue expands the value of an assignment.
func (sh *shell) assignValue(a *syntax.Assign) (string, error) {
	if a.Name == nil || a.Append || a.Array != nil || a.Index != nil || a.Naked {
		return "", errors.New("unsupported assignment")
	}
	if !syntax.ValidName(a.Name.Value) {
		return "", fmt.Errorf("%s: bad variable name", a.Name.Value)
	}
	return sh.literal(a.Value)
}

// Expansion.

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
	if !v.set {
		return expand.Variable{Exported: v.exported}
	}
	vr := strVar(v.value)
	vr.Exported = v.exported
	return vr
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
	case vr.Kind != expand.String:
		return fmt.Errorf("%s: arrays are not supported", name)
	}
	return e.sh.setVar(name, vr.Str)
}

// config is the expansion configuration of the shell as it is now.
func (sh *shell) config() *expand.Config {
	cfg := &expand.Config{
		Env:      shellEnv{sh},
		CmdSubst: sh.cmdSubst,
		NoUnset:  sh.nounset,
	}
	if sh.s != nil {
		cfg.ReadDir2 = sh.readDir
	}
	return cfg
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
	sh.errorf("%v", err)
	sh.status = 1
	sh.exit(1)
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
		return fmt.Errorf("command substitution: %s", errText(err))
	}
	tbl := sh.fds.clone()
	tbl[1] = wfd
	j := sh.startList(cs.Stmts, tbl)
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
			rerr = fmt.Errorf("command substitution: %s", errText(err))
			break
		}
	}
	sh.s.Close(r)
	sh.status = sh.wait(j)
	sh.substStatus = sh.status
	return rerr
}

// Redirections.

// redirect applies redirs, left to right, to a copy of base. opened lists
// the descriptors it opened, which the caller closes once the command has
// started (or finished, for a builtin).
func (sh *shell) redirect(base fdTable, redirs []*syntax.Redirect) (tbl fdTable, opened []int, err error) {
	if len(redirs) == 0 {
		return base, nil, nil
	}
	tbl = base.clone()
	for _, rd := range redirs {
		if err := sh.redirectOne(tbl, rd, &opened); err != nil {
			sh.closeAll(opened)
			return nil, nil, err
		}
	}
	return tbl, opened, nil
}

// redirectOne applies one redirection to tbl.
func (sh *shell) redirectOne(tbl fdTable, rd *syntax.Redirect, opened *[]int) error {
	n := 1
	switch rd.Op {
	case syntax.RdrIn, syntax.RdrInOut, syntax.DplIn, syntax.Hdoc, syntax.DashHdoc:
		n = 0
	}
	if rd.N != nil {
		v, err := strconv.Atoi(rd.N.Value)
		if err != nil || v < 0 || v > maxShFd {
			return fmt.Errorf("%s: bad file descriptor", rd.N.Value)
		}
		n = v
	}
	var flags int
	switch rd.Op {
	case syntax.RdrIn:
		flags = O_RDONLY
	case syntax.RdrOut, syntax.ClbOut:
		flags = O_WRONLY | O_CREAT | O_TRUNC
	case syntax.AppOut:
		flags = O_WRONLY | O_CREAT | O_APPEND
	case syntax.RdrInOut:
		flags = O_RDWR | O_CREAT
	case syntax.DplIn, syntax.DplOut:
		w, err := sh.literal(rd.Word)
		if err != nil {
			return err
		}
		if w == "-" {
			delete(tbl, n)
			return nil
		}
		m, err := strconv.Atoi(w)
		if err != nil || m < 0 {
			return fmt.Errorf("%s: ambiguous redirect", w)
		}
		fd, ok := tbl[m]
		if !ok {
			return fmt.Errorf("%d: bad file descriptor", m)
		}
		tbl[n] = fd
		return nil
	case syntax.Hdoc, syntax.DashHdoc:
		fd, err := sh.heredoc(rd)
		if err != nil {
			return err
		}
		*opened = append(*opened, fd)
		tbl[n] = fd
		return nil
	default:
		return fmt.Errorf("%s: unsupported redirection", rd.Op)
	}
	name, err := sh.literal(rd.Word)
	if err != nil {
		return err
	}
	fd, err := sh.s.Open(name, flags, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %s", name, errText(err))
	}
	*opened = append(*opened, fd)
	tbl[n] = fd
	return nil
}

// heredoc returns the read end of a pipe holding the here-document's body.
// The body is written before the command starts, so it must fit in the
// pipe's buffer.
func (sh *shell) heredoc(rd *syntax.Redirect) (int, error) {
	body, err := sh.heredocBody(rd)
	if err != nil {
		return -1, err
	}
	r, w, err := sh.s.Pipe2(O_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("here-document: %s", errText(err))
	}
	b := []byte(body)
	for len(b) > 0 {
		n, err := sh.s.Write(w, b)
		b = b[n:]
		if err != nil {
			break
		}
	}
	sh.s.Close(w)
	if len(b) > 0 {
		sh.s.Close(r)
		return -1, fmt.Errorf("here-document of %d bytes does not fit in a pipe", len(body))
	}
	if err := sh.s.SetNonblock(r, false); err != nil {
		sh.s.Close(r)
		return -1, fmt.Errorf("here-document: %s", errText(err))
	}
	return r, nil
}

// heredocBody expands a here-document: literally when its delimiter is
// quoted, as a double-quoted string otherwise; <<- strips leading tabs.
func (sh *shell) heredocBody(rd *syntax.Redirect) (string, error) {
	if rd.Hdoc == nil {
		return "", nil
	}
	parts := rd.Hdoc.Parts
	if rd.Op == syntax.DashHdoc {
		parts = stripTabs(parts)
	}
	if quotedDelim(rd.Word) {
		var b strings.Builder
		for _, p := range parts {
			if lit, ok := p.(*syntax.Lit); ok {
				b.WriteString(lit.Value)
			}
		}
		return b.String(), nil
	}
	return expand.Document(sh.config(), &syntax.Word{Parts: parts})
}

// quotedDelim reports whether a here-document's delimiter has any quoting.
func quotedDelim(w *syntax.Word) bool {
	if w == nil {
		return false
	}
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.SglQuoted, *syntax.DblQuoted:
			return true
		case *syntax.Lit:
			if strings.Contains(p.Value, `\`) {
				return true
			}
		}
	}
	return false
}

// stripTabs removes the tabs that start each line of literal text.
func stripTabs(parts []syntax.WordPart) []syntax.WordPart {
	out := make([]syntax.WordPart, 0, len(parts))
	lineStart := true
	for _, p := range parts {
		lit, ok := p.(*syntax.Lit)
		if !ok {
			out = append(out, p)
			lineStart = false
			continue
		}
		var b strings.Builder
		for i := 0; i < len(lit.Value); i++ {
			c := lit.Value[i]
			if lineStart && c == '\t' {
				continue
			}
			lineStart = c == '\n'
			b.WriteByte(c)
		}
		out = append(out, &syntax.Lit{ValuePos: lit.ValuePos, ValueEnd: lit.ValueEnd, Value: b.String()})
	}
	return out
}

// Statements.

// runStmts runs a list of statements until control flow changes.
func (sh *shell) runStmts(stmts []*syntax.Stmt) {
	for _, st := range stmts {
		if sh.ctl != ctlNone {
			return
		}
		sh.runStmt(st)
	}
}

// runStmt runs one statement in the foreground (or starts it in the
// background) and sets $?.
func (sh *shell) runStmt(st *syntax.Stmt) {
	if sh.ctl != ctlNone {
		return
	}
	if st.Background {
		sh.background(st)
		return
	}
	if st.Negated {
		sh.cond++
	}
	switch cmd := st.Cmd.(type) {
	case *syntax.CallExpr:
		sh.runCall(st, cmd)
	case nil:
		sh.runCall(st, &syntax.CallExpr{})
	default:
		tbl, opened, err := sh.redirect(sh.fds, st.Redirs)
		if err != nil {
			sh.errorf("%v", err)
			sh.status = 1
			break
		}
		saved := sh.fds
		sh.fds = tbl
		sh.runCommand(cmd)
		sh.fds = saved
		sh.closeAll(opened)
	}
	if st.Negated {
		sh.cond--
		if sh.status == 0 {
			sh.status = 1
		} else {
			sh.status = 0
		}
	}
	if sh.errexit && sh.cond == 0 && !st.Negated && sh.status != 0 && sh.ctl == ctlNone && simpleOrPipeline(st.Cmd) {
		sh.exit(sh.status)
	}
}

// simpleOrPipeline reports whether errexit applies to cmd itself rather than
// to the commands inside it.
func simpleOrPipeline(cmd syntax.Command) bool {
	switch cmd := cmd.(type) {
	case *syntax.CallExpr, *syntax.Subshell, nil:
		return true
	case *syntax.BinaryCmd:
		return cmd.Op == syntax.Pipe || cmd.Op == syntax.PipeAll
	}
	return false
}

// runCommand runs a compound command, its redirections already made.
func (sh *shell) runCommand(cmd syntax.Command) {
	switch cmd := cmd.(type) {
	case *syntax.Block:
		sh.runStmts(cmd.Stmts)
	case *syntax.Subshell:
		sh.status = sh.wait(sh.forkSource(sh.printStmts(cmd.Stmts), sh.fds))
	case *syntax.BinaryCmd:
		switch cmd.Op {
		case syntax.AndStmt, syntax.OrStmt:
			sh.cond++
			sh.runStmt(cmd.X)
			sh.cond--
			if sh.ctl == ctlNone && (sh.status == 0) == (cmd.Op == syntax.AndStmt) {
				sh.runStmt(cmd.Y)
			}
		case syntax.Pipe:
			sh.runPipeline(pipelineStages(nil, cmd))
		default:
			sh.errorf("%s: unsupported operator", cmd.Op)
			sh.status = 2
		}
	case *syntax.IfClause:
		sh.runIf(cmd)
	case *syntax.WhileClause:
		sh.runWhile(cmd)
	case *syntax.ForClause:
		sh.runFor(cmd)
	case *syntax.CaseClause:
		sh.runCase(cmd)
	case *syntax.FuncDecl:
		if cmd.Name == nil {
			sh.errorf("function without a name")
			sh.status = 2
			return
		}
		sh.funcs[cmd.Name.Value] = cmd
		sh.status = 0
	default:
		sh.errorf("unsupported command")
		sh.status = 2
	}
}

// runIf runs if/elif/else.
func (sh *shell) runIf(c *syntax.IfClause) {
	for ; c != nil; c = c.Else {
		if !c.ThenPos.IsValid() { // else
			sh.runStmts(c.Then)
			return
		}
		sh.cond++
		sh.runStmts(c.Cond)
		sh.cond--
		if sh.ctl != ctlNone {
			return
		}
		if sh.status == 0 {
			sh.runStmts(c.Then)
			return
		}
	}
	sh.status = 0
}

// loopDone consumes a break or continue aimed at the innermost loop and
// reports whether that loop must stop.
func (sh *shell) loopDone() bool {
	switch sh.ctl {
	case ctlNone:
		return false
	case ctlBreak:
		if sh.ctlN--; sh.ctlN <= 0 {
			sh.ctl = ctlNone
		}
		return true
	case ctlContinue:
		if sh.ctlN--; sh.ctlN <= 0 {
			sh.ctl = ctlNone
			return false
		}
		return true
	}
	return true
}

// runWhile runs a while or until loop.
func (sh *shell) runWhile(w *syntax.WhileClause) {
	sh.loops++
	defer func() { sh.loops-- }()
	status := 0
	for {
		sh.checkpoint()
		sh.cond++
		sh.runStmts(w.Cond)
		sh.cond--
		if sh.ctl == ctlContinue && sh.ctlN == 1 {
			sh.ctl = ctlNone
			continue
		}
		if sh.loopDone() || (sh.status == 0) == w.Until {
			break
		}
		sh.runStmts(w.Do)
		status = sh.status
		if sh.loopDone() {
			break
		}
	}
	sh.status = status
}

// runFor runs a for loop over words, or over "$@" without "in".
func (sh *shell) runFor(f *syntax.ForClause) {
	wi, ok := f.Loop.(*syntax.WordIter)
	if !ok {
		sh.errorf("unsupported for loop")
		sh.status = 2
		return
	}
	items := slices.Clone(sh.params)
	if wi.InPos.IsValid() {
		var err error
		if items, err = sh.fields(wi.Items...); err != nil {
			sh.expandFailed(err)
			return
		}
	}
	sh.loops++
	defer func() { sh.loops-- }()
	status := 0
	for _, it := range items {
		sh.checkpoint()
		if err := sh.setVar(wi.Name.Value, it); err != nil {
			sh.errorf("%v", err)
			sh.status = 1
			return
		}
		sh.runStmts(f.Do)
		status = sh.status
		if sh.loopDone() {
			break
		}
	}
	sh.status = status
}

// runCase runs the first item of a case whose pattern matches.
func (sh *shell) runCase(c *syntax.CaseClause) {
	word, err := sh.literal(c.Word)
	if err != nil {
		sh.expandFailed(err)
		return
	}
	for _, item := range c.Items {
		for _, pw := range item.Patterns {
			pat, err := expand.Pattern(sh.config(), pw)
			if err != nil {
				sh.expandFailed(err)
				return
			}
			expr, err := pattern.Regexp(pat, pattern.EntireString)
			if err != nil {
				continue
			}
			rx, err := regexp.Compile(expr)
			if err != nil || !rx.MatchString(word) {
				continue
			}
			sh.status = 0
			sh.runStmts(item.Stmts)
			return
		}
	}
	sh.status = 0
}

// background starts st without waiting for it and sets $!.
func (sh *shell) background(st *syntax.Stmt) {
	fg := *st
	fg.Background, fg.Semicolon = false, syntax.Pos{}
	j := sh.start(&fg, sh.fds)
	if j.pid > 0 {
		sh.lastBg = j.pid
	}
	sh.status = 0
}

// pipelineStages flattens the left-nested pipes of a pipeline.
func pipelineStages(out []*syntax.Stmt, cmd *syntax.BinaryCmd) []*syntax.Stmt {
	for _, st := range []*syntax.Stmt{cmd.X, cmd.Y} {
		if b, ok := st.Cmd.(*syntax.BinaryCmd); ok && b.Op == syntax.Pipe &&
			!st.Negated && !st.Background && len(st.Redirs) == 0 {
			out = pipelineStages(out, b)
			continue
		}
		out = append(out, st)
	}
	return out
}

// runPipeline starts every stage with a pipe between neighbours, then waits
// for all of them; the status is the last stage's. The shell closes its
// copies of the pipe ends as soon as the stage that uses them has started,
// and each stage gets only its own ends, so that a reader sees end of file
// and a writer SIGPIPE when their peers are gone.
func (sh *shell) runPipeline(stages []*syntax.Stmt) {
	jobs := make([]job, 0, len(stages))
	in := -1
	for i, st := range stages {
		tbl := sh.fds.clone()
		if in >= 0 {
			tbl[0] = in
		}
		out, next := -1, -1
		if i < len(stages)-1 {
			r, w, err := sh.s.Pipe()
			if err != nil {
				sh.errorf("pipe: %s", errText(err))
				jobs = append(jobs, job{status: 1})
				break
			}
			tbl[1], out, next = w, w, r
		}
		jobs = append(jobs, sh.start(st, tbl))
		if in >= 0 {
			sh.s.Close(in)
		}
		if out >= 0 {
			sh.s.Close(out)
		}
		in = next
	}
	if in >= 0 {
		sh.s.Close(in)
	}
	status := 0
	for _, j := range jobs {
		status = sh.wait(j)
	}
	sh.status = status
}

// wait waits for a job and returns its status as $? shows it.
func (sh *shell) wait(j job) int {
	if j.pid <= 0 {
		return j.status
	}
	for {
		_, ws, err := sh.s.Wait4(j.pid, 0)
		if err == nil {
			return ws.Code()
		}
		if !errors.Is(err, ipc.EINTR) {
			sh.errorf("wait for %d: %s", j.pid, errText(err))
			return 127
		}
	}
}

// Commands.

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
	if special || isBuiltin(name) {
		saved := sh.fds
		sh.fds = tbl
		sh.status = sh.builtin(name, fields[1:])
		sh.fds = saved
		return
	}
	if fn := sh.funcs[name]; fn != nil {
		saved := sh.fds
		sh.fds = tbl
		sh.callFunc(fn, fields[1:])
		sh.fds = saved
		return
	}
	sh.status = sh.wait(sh.spawn(fields, tbl))
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
	v, err := sh.assignValue(a)
	if err == nil {
		err = sh.setVar(a.Name.Value, v)
	}
	if err != nil {
		sh.expandFailed(err)
		return false
	}
	return true
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
	sh.write(2, "+ "+strings.Join(words, " ")+"\n")
}

// spawn starts the program fields[0] with the environment of the current
// variables and the descriptors of tbl. A name with a slash is a script of
// the namespace, run by a new shell.
func (sh *shell) spawn(fields []string, tbl fdTable) job {
	name, args := fields[0], fields[1:]
	if strings.Contains(name, "/") {
		fi, err := sh.s.Stat(name)
		if err != nil {
			sh.errorTo(tbl, "%s: %s", name, errText(err))
			return job{status: 127}
		}
		if fi.IsDir() {
			sh.errorTo(tbl, "%s: is a directory", name)
			return job{status: 126}
		}
		name, args = sh.name, fields
	}
	pid, err := sh.s.Spawn(SpawnAttr{Command: name, Args: args, Env: sh.environ(), Files: tbl.files()})
	switch {
	case err == nil:
		return job{pid: pid}
	case errors.Is(err, ErrUnknownProgram):
		sh.errorTo(tbl, "%s: command not found", fields[0])
		return job{status: 127}
	default:
		sh.errorTo(tbl, "%s: %s", fields[0], errText(err))
		return job{status: 126}
	}
}

// forkSource starts a copy of the shell that runs src with the descriptors
// of tbl: a subshell. The copy gets the variables, functions, options and
// positional parameters of this shell.
func (sh *shell) forkSource(src string, tbl fdTable) job {
	var b strings.Builder
	for _, name := range sortedKeys(sh.vars) {
		v := sh.vars[name]
		switch {
		case !syntax.ValidName(name):
		case v.set && !v.exported:
			b.WriteString(name + "=" + quoteWord(v.value) + "\n")
		case !v.set && v.exported:
			b.WriteString("export " + name + "\n")
		}
	}
	for _, name := range sortedKeys(sh.funcs) {
		b.WriteString(sh.print(sh.funcs[name]) + "\n")
	}
	if f := sh.optionFlags(); f != "" {
		b.WriteString("set -" + f + "\n")
	}
	args := []string{
		fmt.Sprintf("--subshell=%d,%d,%d", sh.status, sh.pid, sh.lastBg), b.String(),
		"-c", src, sh.arg0,
	}
	args = append(args, sh.params...)
	pid, err := sh.s.Spawn(SpawnAttr{Command: sh.name, Args: args, Env: sh.environ(), Files: tbl.files()})
	if err != nil {
		sh.errorTo(tbl, "cannot start a subshell: %s", errText(err))
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
	return sh.forkSource(sh.print(st), tbl)
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
	sh.runStmt(fn.Body)
	sh.funcs0--
	sh.depth--
	sh.params = saved
	if sh.ctl == ctlReturn {
		sh.ctl = ctlNone
	}
}

// exec runs a command in place of the shell (emulated: the shell runs it and
// exits with its status), or with no command makes its redirections
// permanent.
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
	sh.status = sh.wait(sh.spawn(args, tbl))
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

// Builtins.

// isSpecialBuiltin reports whether name is one of POSIX's special builtins
// the shell has: their prefix assignments last.
func isSpecialBuiltin(name string) bool {
	switch name {
	case ":", ".", "break", "continue", "eval", "exit", "export", "return", "set", "shift", "unset":
		return true
	}
	return false
}

// isBuiltin reports whether name is one of the shell's regular builtins.
func isBuiltin(name string) bool {
	switch name {
	case "cd", "read", "wait", "test", "[":
		return true
	}
	return false
}

// builtin runs a builtin and returns its status.
func (sh *shell) builtin(name string, args []string) int {
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
	if err != nil || n < 0 {
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
		sh.errorf("return: not in a function or a dot script")
		return 1
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
				b.WriteString("export " + name + "=" + quoteWord(v.value) + "\n")
			default:
				b.WriteString("export " + name + "\n")
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
		v.exported = true
		if hasValue {
			v.value, v.set = value, true
		}
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
		sh.errorf("write error: %s", errText(err))
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
	for _, name := range args {
		if funcs {
			delete(sh.funcs, name)
		} else {
			delete(sh.vars, name)
		}
	}
	return 0
}

// builtinSet is set [-eux|+eux] [--] [ARG...]; alone it lists variables.
func (sh *shell) builtinSet(args []string) int {
	if len(args) == 0 {
		var b strings.Builder
		for _, name := range sortedKeys(sh.vars) {
			if v := sh.vars[name]; v.set && syntax.ValidName(name) {
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

// builtinShift is shift [N].
func (sh *shell) builtinShift(args []string) int {
	n, ok := sh.count("shift", args, 1)
	if !ok {
		return 2
	}
	if n > len(sh.params) {
		sh.errorf("shift: %d: shift count out of range", n)
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
		sh.errorf("cd: %s: %s", dir, errText(err))
		return 1
	}
	sh.setVar("OLDPWD", old)
	sh.setVar("PWD", sh.s.Getcwd())
	if len(args) > 0 && args[0] == "-" {
		return sh.output(sh.s.Getcwd() + "\n")
	}
	return 0
}

// builtinRead reads one line of standard input, a byte at a time so as to
// leave the rest to the commands that follow, and splits it into variables.
func (sh *shell) builtinRead(args []string) int {
	raw := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		if args[0] == "--" {
			args = args[1:]
			break
		}
		if args[0] != "-r" {
			sh.errorf("read: %s: invalid option", args[0])
			return 2
		}
		raw, args = true, args[1:]
	}
	names := args
	if len(names) == 0 {
		names = []string{"REPLY"}
	}
	for _, n := range names {
		if !syntax.ValidName(n) {
			sh.errorf("read: %s: bad variable name", n)
			return 2
		}
	}
	kfd, ok := sh.fds[0]
	if !ok {
		sh.errorf("read: %s", ipc.EBADF)
		return 1
	}
	var line []byte
	eof := false
	var b [1]byte
	for {
		n, err := sh.s.Read(kfd, b[:])
		if n == 1 {
			if b[0] == '\n' {
				if !raw && len(line) > 0 && line[len(line)-1] == '\\' {
					line = line[:len(line)-1] // a continued line
					continue
				}
				break
			}
			line = append(line, b[0])
		}
		if err == io.EOF {
			eof = true
			break
		}
		if err != nil {
			sh.errorf("read: %s", errText(err))
			return 1
		}
	}
	fields := expand.ReadFields(sh.config(), string(line), len(names), raw)
	for i, n := range names {
		v := ""
		if i < len(fields) {
			v = fields[i]
		}
		sh.setVar(n, v)
	}
	if eof {
		return 1
	}
	return 0
}

// builtinWait is wait [PID...]: with no PID it waits for every child.
func (sh *shell) builtinWait(args []string) int {
	if len(args) == 0 {
		for {
			if _, _, err := sh.s.Wait4(-1, 0); err != nil && !errors.Is(err, ipc.EINTR) {
				return 0
			}
		}
	}
	status := 0
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err != nil || pid <= 0 {
			sh.errorf("wait: %s: not a pid", a)
			status = 2
			continue
		}
		_, ws, err := sh.s.Wait4(pid, 0)
		if err != nil {
			status = 127
			continue
		}
		status = ws.Code()
	}
	return status
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
		sh.errorf(".: %s: %s", args[0], errText(err))
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

// builtinTest is test(1), also spelled [.
func (sh *shell) builtinTest(name string, args []string) int {
	if name == "[" {
		if len(args) == 0 || args[len(args)-1] != "]" {
			sh.errorf("[: missing ]")
			return 2
		}
		args = args[:len(args)-1]
	}
	t := testExpr{sh: sh, args: args}
	ok, err := t.eval()
	if err != nil {
		sh.errorf("%s: %v", name, err)
		return 2
	}
	if ok {
		return 0
	}
	return 1
}

// testExpr evaluates the operands of test.
type testExpr struct {
	sh   *shell
	args []string
	i    int
}

// eval evaluates the whole expression. With one operand, test is true when
// it is not empty, whatever it looks like.
func (t *testExpr) eval() (bool, error) {
	switch len(t.args) {
	case 0:
		return false, nil
	case 1:
		return t.args[0] != "", nil
	}
	v, err := t.or()
	if err == nil && t.i < len(t.args) {
		err = fmt.Errorf("%s: unexpected operand", t.args[t.i])
	}
	return v, err
}

func (t *testExpr) or() (bool, error) {
	v, err := t.and()
	for err == nil && t.i < len(t.args) && t.args[t.i] == "-o" {
		t.i++
		var w bool
		w, err = t.and()
		v = v || w
	}
	return v, err
}

func (t *testExpr) and() (bool, error) {
	v, err := t.not()
	for err == nil && t.i < len(t.args) && t.args[t.i] == "-a" {
		t.i++
		var w bool
		w, err = t.not()
		v = v && w
	}
	return v, err
}

func (t *testExpr) not() (bool, error) {
	if t.i+1 < len(t.args) && t.args[t.i] == "!" &&
		(t.i+2 >= len(t.args) || !testBinary(t.args[t.i+1])) {
		t.i++
		v, err := t.not()
		return !v, err
	}
	return t.primary()
}

func (t *testExpr) primary() (bool, error) {
	if t.i >= len(t.args) {
		return false, errors.New("argument expected")
	}
	a := t.args[t.i]
	if t.i+2 < len(t.args) && testBinary(t.args[t.i+1]) {
		t.i += 3
		return t.binary(a, t.args[t.i-2], t.args[t.i-1])
	}
	if a == "(" && t.i+1 < len(t.args) {
		t.i++
		v, err := t.or()
		if err != nil {
			return false, err
		}
		if t.i >= len(t.args) || t.args[t.i] != ")" {
			return false, errors.New("missing )")
		}
		t.i++
		return v, nil
	}
	if len(a) == 2 && a[0] == '-' && t.i+1 < len(t.args) {
		t.i += 2
		return t.unary(a, t.args[t.i-1])
	}
	t.i++
	return a != "", nil
}

// testBinary reports whether op is a binary operator of test.
func testBinary(op string) bool {
	switch op {
	case "=", "!=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge":
		return true
	}
	return false
}

func (t *testExpr) binary(x, op, y string) (bool, error) {
	switch op {
	case "=":
		return x == y, nil
	case "!=":
		return x != y, nil
	}
	a, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	if err != nil {
		return false, fmt.Errorf("%s: integer expression expected", x)
	}
	b, err := strconv.ParseInt(strings.TrimSpace(y), 10, 64)
	if err != nil {
		return false, fmt.Errorf("%s: integer expression expected", y)
	}
	switch op {
	case "-eq":
		return a == b, nil
	case "-ne":
		return a != b, nil
	case "-lt":
		return a < b, nil
	case "-le":
		return a <= b, nil
	case "-gt":
		return a > b, nil
	default:
		return a >= b, nil
	}
}

func (t *testExpr) unary(op, x string) (bool, error) {
	switch op {
	case "-n":
		return x != "", nil
	case "-z":
		return x == "", nil
	case "-t":
		return false, nil
	}
	if t.sh.s == nil {
		return false, nil
	}
	fi, err := t.sh.s.Stat(x)
	switch op {
	case "-e", "-f", "-d", "-s", "-p", "-r", "-w", "-x":
		if err != nil {
			return false, nil
		}
	default:
		return false, fmt.Errorf("%s: unknown operator", op)
	}
	switch op {
	case "-f":
		return fi.Mode().IsRegular(), nil
	case "-d":
		return fi.IsDir(), nil
	case "-s":
		return fi.Size() > 0, nil
	case "-p":
		return fi.Mode()&fs.ModeNamedPipe != 0, nil
	case "-r":
		return fi.Mode().Perm()&0o444 != 0, nil
	case "-w":
		return fi.Mode().Perm()&0o222 != 0, nil
	case "-x":
		return fi.Mode().Perm()&0o111 != 0, nil
	}
	return true, nil
}
