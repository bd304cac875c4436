package builtins

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/pattern"
	"mvdan.cc/sh/v3/syntax"
)

// bash's compound commands and declarations: [[ ]], (( )), for (( )),
// let, and declare, local, export, readonly and typeset.

// runArithm runs (( EXPR )): true when EXPR is not zero.
func (sh *shell) runArithm(c *syntax.ArithmCmd) {
	n, err := expand.Arithm(sh.config(), c.X)
	if err != nil {
		sh.errorf("%v", err)
		sh.status = 1
		return
	}
	if sh.xtrace {
		src := strings.TrimSpace(sh.print(c))
		src = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(src, "(("), "))"))
		sh.write(2, sh.ps4()+"((  "+src+"  ))\n")
	}
	sh.status = boolStatus(n != 0)
}

// boolStatus is the status of a test: 0 for true, 1 for false.
func boolStatus(ok bool) int {
	if ok {
		return 0
	}
	return 1
}

// runLet runs let EXPR...: true when the last EXPR is not zero.
func (sh *shell) runLet(c *syntax.LetClause) {
	if sh.xtrace {
		sh.write(2, sh.ps4()+strings.TrimSpace(sh.print(c))+"\n")
	}
	n := 0
	for _, x := range c.Exprs {
		var err error
		if n, err = expand.Arithm(sh.config(), x); err != nil {
			sh.errorf("let: %v", err)
			sh.status = 1
			return
		}
	}
	sh.status = boolStatus(n != 0)
}

// runTime runs time PIPELINE and reports its real and CPU time on
// standard error, as bash's time keyword does. The CPU time is the shell's
// own: the kernel does not sum its children's.
func (sh *shell) runTime(c *syntax.TimeClause) {
	start, cpu := sh.s.Now(), sh.s.CPUTime()
	if c.Stmt != nil {
		sh.runStmt(c.Stmt)
	}
	real, user := sh.s.Now().Sub(start), sh.s.CPUTime()-cpu
	if c.PosixFormat {
		sh.write(2, fmt.Sprintf("real %.2f\nuser %.2f\nsys 0.00\n", real.Seconds(), user.Seconds()))
		return
	}
	sh.write(2, fmt.Sprintf("\nreal\t%s\nuser\t%s\nsys\t%s\n", minSec(real), minSec(user), minSec(0)))
}

// minSec formats a duration as bash's time does: 0m0.003s.
func minSec(d time.Duration) string {
	m := int(d / time.Minute)
	s := (d % time.Minute).Seconds()
	return fmt.Sprintf("%dm%.3fs", m, s)
}

// runCStyle runs for (( INIT; COND; POST )).
func (sh *shell) runCStyle(f *syntax.ForClause, c *syntax.CStyleLoop) {
	cfg := sh.config()
	if c.Init != nil {
		if _, err := expand.Arithm(cfg, c.Init); err != nil {
			sh.errorf("%v", err)
			sh.status = 1
			return
		}
	}
	sh.loops++
	defer func() { sh.loops-- }()
	status := 0
	for {
		sh.checkpoint()
		if c.Cond != nil {
			n, err := expand.Arithm(sh.config(), c.Cond)
			if err != nil {
				sh.errorf("%v", err)
				status = 1
				break
			}
			if n == 0 {
				break
			}
		}
		sh.runStmts(f.Do)
		status = sh.status
		if sh.loopDone() {
			break
		}
		if c.Post != nil {
			if _, err := expand.Arithm(sh.config(), c.Post); err != nil {
				sh.errorf("%v", err)
				status = 1
				break
			}
		}
	}
	sh.status = status
}

// runTestClause runs [[ EXPR ]].
func (sh *shell) runTestClause(c *syntax.TestClause) {
	if sh.xtrace {
		sh.write(2, sh.ps4()+"[[ "+sh.traceCond(c.X)+" ]]\n")
	}
	ok, err := sh.cond2(c.X)
	if err != nil {
		sh.errorf("%v", err)
		sh.status = 2
		return
	}
	sh.status = boolStatus(ok)
}

// traceCond shows an expression of [[ ]] for xtrace: its words expanded,
// except for patterns, which are shown as written.
func (sh *shell) traceCond(x syntax.TestExpr) string {
	switch x := x.(type) {
	case *syntax.Word:
		s, _ := sh.literal(x)
		return s
	case *syntax.ParenTest:
		return "( " + sh.traceCond(x.X) + " )"
	case *syntax.UnaryTest:
		return x.Op.String() + " " + sh.traceCond(x.X)
	case *syntax.BinaryTest:
		y := sh.traceCond(x.Y)
		switch x.Op {
		case syntax.TsMatch, syntax.TsMatchShort, syntax.TsNoMatch, syntax.TsReMatch:
			if w, ok := x.Y.(*syntax.Word); ok {
				y = sh.print(w)
			}
		}
		return sh.traceCond(x.X) + " " + x.Op.String() + " " + y
	}
	return ""
}

// cond2 evaluates an expression of [[ ]]: words are not split or globbed,
// the right side of == and != is a pattern, and =~ a regular expression.
func (sh *shell) cond2(x syntax.TestExpr) (bool, error) {
	switch x := x.(type) {
	case *syntax.Word:
		s, err := sh.literal(x)
		return s != "", err
	case *syntax.ParenTest:
		return sh.cond2(x.X)
	case *syntax.UnaryTest:
		return sh.unary2(x)
	case *syntax.BinaryTest:
		return sh.binary2(x)
	}
	return false, errors.New("unsupported test expression")
}

func (sh *shell) unary2(x *syntax.UnaryTest) (bool, error) {
	if x.Op == syntax.TsNot {
		ok, err := sh.cond2(x.X)
		return !ok, err
	}
	w, _ := x.X.(*syntax.Word)
	if w == nil {
		return false, fmt.Errorf("%s: unexpected operand", x.Op)
	}
	s, err := sh.literal(w)
	if err != nil {
		return false, err
	}
	switch x.Op {
	case syntax.TsVarSet:
		if base, sub, ok := strings.Cut(s, "["); ok && strings.HasSuffix(sub, "]") {
			v := sh.vars[base]
			if v == nil || !v.set {
				return false, nil
			}
			key := strings.TrimSuffix(sub, "]")
			switch v.kind {
			case expand.Associative:
				_, ok := v.assoc[key]
				return ok, nil
			default:
				n, err := sh.arith(key)
				if err != nil {
					return false, err
				}
				if v.kind == expand.String {
					return n == 0, nil
				}
				_, ok := v.elems[n]
				return ok, nil
			}
		}
		_, ok := sh.lookup(s)
		if v := sh.vars[s]; v != nil && v.set && v.kind != expand.String {
			ok = true
		}
		return ok, nil
	case syntax.TsOptSet:
		return sh.longOption(s), nil
	}
	t := testExpr{sh: sh}
	return t.unary(x.Op.String(), s)
}

func (sh *shell) binary2(x *syntax.BinaryTest) (bool, error) {
	switch x.Op {
	case syntax.AndTest, syntax.OrTest:
		ok, err := sh.cond2(x.X)
		if err != nil || ok == (x.Op == syntax.OrTest) {
			return ok, err
		}
		return sh.cond2(x.Y)
	}
	lw, _ := x.X.(*syntax.Word)
	rw, _ := x.Y.(*syntax.Word)
	if lw == nil || rw == nil {
		return false, fmt.Errorf("%s: unexpected operand", x.Op)
	}
	l, err := sh.literal(lw)
	if err != nil {
		return false, err
	}
	switch x.Op {
	case syntax.TsMatch, syntax.TsMatchShort, syntax.TsNoMatch:
		pat, err := expand.Pattern(sh.config(), rw)
		if err != nil {
			return false, err
		}
		expr, err := pattern.Regexp(pat, pattern.EntireString)
		if err != nil {
			return false, err
		}
		rx, err := regexp.Compile(expr)
		if err != nil {
			return false, err
		}
		return rx.MatchString(l) == (x.Op != syntax.TsNoMatch), nil
	case syntax.TsReMatch:
		return sh.reMatch(l, rw)
	}
	r, err := sh.literal(rw)
	if err != nil {
		return false, err
	}
	switch x.Op {
	case syntax.TsBefore:
		return l < r, nil
	case syntax.TsAfter:
		return l > r, nil
	case syntax.TsEql, syntax.TsNeq, syntax.TsLeq, syntax.TsGeq, syntax.TsLss, syntax.TsGtr:
		a, err := sh.arith(l)
		if err != nil {
			return false, err
		}
		b, err := sh.arith(r)
		if err != nil {
			return false, err
		}
		switch x.Op {
		case syntax.TsEql:
			return a == b, nil
		case syntax.TsNeq:
			return a != b, nil
		case syntax.TsLeq:
			return a <= b, nil
		case syntax.TsGeq:
			return a >= b, nil
		case syntax.TsLss:
			return a < b, nil
		}
		return a > b, nil
	case syntax.TsNewer, syntax.TsOlder:
		fa, erra := sh.s.Stat(l)
		fb, errb := sh.s.Stat(r)
		if x.Op == syntax.TsNewer {
			return erra == nil && (errb != nil || fa.ModTime().After(fb.ModTime())), nil
		}
		return errb == nil && (erra != nil || fa.ModTime().Before(fb.ModTime())), nil
	}
	return false, fmt.Errorf("%s: unsupported operator", x.Op)
}

// reMatch is =~: the right side is an extended regular expression, with
// quoted parts matched literally; BASH_REMATCH gets the match and groups.
func (sh *shell) reMatch(s string, w *syntax.Word) (bool, error) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p.(type) {
		case *syntax.SglQuoted, *syntax.DblQuoted:
			v, err := sh.literal(&syntax.Word{Parts: []syntax.WordPart{p}})
			if err != nil {
				return false, err
			}
			b.WriteString(regexp.QuoteMeta(v))
		default:
			v, err := sh.literal(&syntax.Word{Parts: []syntax.WordPart{p}})
			if err != nil {
				return false, err
			}
			b.WriteString(v)
		}
	}
	rx, err := regexp.Compile(b.String())
	if err != nil {
		return false, nil
	}
	m := rx.FindStringSubmatch(s)
	if m == nil {
		sh.setArray("BASH_REMATCH", nil)
		return false, nil
	}
	sh.setArray("BASH_REMATCH", m)
	return true, nil
}

// runDecl runs declare, typeset, local, export and readonly.
func (sh *shell) runDecl(d *syntax.DeclClause) {
	name := d.Variant.Value
	local := (name == "declare" || name == "typeset") && len(sh.frames) > 0
	if name == "local" {
		if len(sh.frames) == 0 {
			sh.errorf("local: can only be used in a function")
			sh.status = 1
			return
		}
		local = true
	}
	kind, export, print := expand.String, name == "export", false
	unexport := false
	var integer, lower, upper, readonly bool
	readonly = name == "readonly"
	status := 0
	var names []*syntax.Assign
	var opts []string // as written, for xtrace
	for _, a := range d.Args {
		if a.Name != nil {
			names = append(names, a)
			continue
		}
		fields, err := sh.fields(a.Value)
		if err != nil {
			sh.expandFailed(err)
			return
		}
		for _, f := range fields {
			if len(f) > 1 && (f[0] == '-' || f[0] == '+') && len(names) == 0 {
				opts = append(opts, f)
				for _, c := range f[1:] {
					switch c {
					case 'a':
						kind = expand.Indexed
					case 'A':
						kind = expand.Associative
					case 'x':
						export, unexport = f[0] == '-', f[0] == '+'
					case 'n':
						if name != "export" {
							sh.errorf("%s: -n: namerefs are not supported", name)
							sh.status = 2
							return
						}
						export, unexport = false, f[0] == '-'
					case 'g':
						local = false
					case 'p':
						print = true
					case 'i':
						integer = f[0] == '-'
					case 'l':
						lower, upper = f[0] == '-', false
					case 'u':
						upper, lower = f[0] == '-', false
					case 'r':
						readonly = true
					case 't':
						// trace: there is no DEBUG trap to trace
					case 'f', 'F':
						if name != "export" {
							break
						}
						fallthrough
					default:
						sh.errorf("%s: -%c: invalid option", name, c)
						sh.status = 2
						return
					}
				}
				continue
			}
			n, v, hasValue := strings.Cut(f, "=")
			a := &syntax.Assign{Name: &syntax.Lit{Value: n}, Naked: !hasValue}
			if hasValue {
				a.Value = &syntax.Word{Parts: []syntax.WordPart{&syntax.SglQuoted{Value: v}}}
			}
			names = append(names, a)
		}
	}
	if name == "export" && len(names) == 0 {
		sh.status = sh.builtinExport(nil)
		return
	}
	if print || (len(names) == 0 && name != "local") {
		sh.status = sh.declPrint(names)
		return
	}
	for _, a := range names {
		n := a.Name.Value
		if !syntax.ValidName(n) {
			sh.errorf("%s: `%s': not a valid identifier", name, sh.print(a))
			status = 1
			continue
		}
		if local {
			if err := sh.writable(n); err != nil {
				sh.errorf("%s: %v", name, err)
				status = 1
				continue
			}
			sh.makeLocal(n)
		}
		v := sh.vars[n]
		if v == nil {
			v = &shVar{}
			sh.vars[n] = v
		}
		if kind != expand.String && v.kind != kind {
			v.kind, v.value = kind, ""
			v.elems, v.assoc = map[int]string{}, map[string]string{}
		}
		if export {
			v.exported = true
		}
		if unexport {
			v.exported = false
		}
		v.integer = v.integer || integer
		if lower || upper {
			v.lower, v.upper = lower, upper
		}
		if !a.Naked {
			if err := sh.assignTo(a); err != nil {
				if errors.Is(err, errReadonly) && name != "declare" && name != "typeset" && name != "local" {
					sh.errorf("%v", err)
				} else {
					sh.errorf("%s: %v", name, err)
				}
				status = 1
				continue
			}
		}
		if readonly {
			sh.vars[n].readonly = true
		}
	}
	if sh.xtrace {
		sh.traceDecl(name, opts, names)
	}
	sh.status = status
}

// traceDecl shows a declaration for xtrace, once made: the values are the
// variables' own, so that nothing is expanded twice.
func (sh *shell) traceDecl(name string, opts []string, names []*syntax.Assign) {
	words := append([]string{name}, opts...)
	for _, a := range names {
		n := a.Name.Value
		v := sh.vars[n]
		if a.Naked || v == nil || v.kind != expand.String {
			words = append(words, n)
			continue
		}
		words = append(words, n+"="+quoteWord(v.value))
	}
	sh.write(2, sh.ps4()+strings.Join(words, " ")+"\n")
}

// declPrint is declare -p [NAME...].
func (sh *shell) declPrint(names []*syntax.Assign) int {
	var b strings.Builder
	status := 0
	list := sortedKeys(sh.vars)
	if len(names) > 0 {
		list = list[:0]
		for _, a := range names {
			list = append(list, a.Name.Value)
		}
	}
	for _, n := range list {
		v := sh.vars[n]
		if v == nil {
			sh.errorf("declare: %s: not found", n)
			status = 1
			continue
		}
		if syntax.ValidName(n) {
			b.WriteString(quoteVar(n, v) + "\n")
		}
	}
	if st := sh.output(b.String()); st != 0 {
		return st
	}
	return status
}

// builtinPrintf is printf [-v VAR] FORMAT [ARG...]: the format is reused
// until the arguments are used up.
func (sh *shell) builtinPrintf(args []string) int {
	varName := ""
	if len(args) > 1 && args[0] == "-v" {
		varName, args = args[1], args[2:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		sh.errorf("printf: usage: printf [-v var] format [arguments]")
		return 2
	}
	format, rest := args[0], args[1:]
	var b strings.Builder
	status := 0
	for {
		out, n, bad, stop := printfFormat(format, rest)
		b.WriteString(out)
		for _, msg := range bad {
			sh.errorf("printf: %s", msg)
			status = 1
		}
		if stop || n == 0 || n >= len(rest) {
			break
		}
		rest = rest[n:]
	}
	if varName != "" {
		if err := sh.setVar(varName, b.String()); err != nil {
			sh.errorf("%v", err)
			return 1
		}
		return status
	}
	if st := sh.output(b.String()); st != 0 {
		return st
	}
	return status
}

// builtinEcho is echo [-neE] [ARG...].
func (sh *shell) builtinEcho(args []string) int {
	nl, esc := true, false
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && strings.Trim(args[0][1:], "neE") == "" {
		for _, c := range args[0][1:] {
			switch c {
			case 'n':
				nl = false
			case 'e':
				esc = true
			case 'E':
				esc = false
			}
		}
		args = args[1:]
	}
	out := strings.Join(args, " ")
	if esc {
		var stop bool
		out, stop = echoEscapes(out)
		if stop {
			nl = false
		}
	}
	if nl {
		out += "\n"
	}
	return sh.output(out)
}

// echoEscapes expands the backslash escapes of echo -e; \c stops the
// output.
func echoEscapes(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case 'e', 'E':
			b.WriteByte(0x1b)
		case '\\':
			b.WriteByte('\\')
		case 'c':
			return b.String(), true
		case '0':
			n, j := 0, i+1
			for ; j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '7'; j++ {
				n = n*8 + int(s[j]-'0')
			}
			b.WriteByte(byte(n))
			i = j - 1
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && strings.IndexByte("0123456789abcdefABCDEF", s[j]) >= 0 {
				j++
			}
			if j == i+1 {
				b.WriteString(`\x`)
				continue
			}
			n, _ := strconv.ParseUint(s[i+1:j], 16, 8)
			b.WriteByte(byte(n))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String(), false
}
