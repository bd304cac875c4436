package builtins

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/pattern"
	"mvdan.cc/sh/v3/syntax"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Statements: lists, and-or lists, compound commands, background jobs and
// pipelines.

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
	mark := len(sh.procSubs)
	if st.Background {
		sh.background(st)
		sh.endProcSubsts(mark, false)
		return
	}
	defer sh.endProcSubsts(mark, true)
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
	if sh.cond == 0 && !st.Negated && sh.status != 0 && sh.ctl == ctlNone && simpleOrPipeline(st.Cmd) {
		sh.runErrTrap()
		if sh.errexit && sh.ctl == ctlNone {
			sh.exit(sh.status)
		}
	}
	if sh.fgWaited && len(sh.jobs) > 0 {
		// As bash after a foreground command: report the jobs killed by
		// a signal, and forget the jobs that have ended.
		sh.pollJobs()
		sh.cleanJobs()
	}
	sh.fgWaited = false
	sh.runTraps()
}

// simpleOrPipeline reports whether errexit applies to cmd itself rather than
// to the commands inside it.
func simpleOrPipeline(cmd syntax.Command) bool {
	switch cmd := cmd.(type) {
	case *syntax.CallExpr, *syntax.Subshell, *syntax.ArithmCmd, *syntax.TestClause,
		*syntax.DeclClause, *syntax.LetClause, nil:
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
		sh.status = sh.waitFg(sh.forkSource(sh.printStmts(cmd.Stmts), sh.fds), func() string {
			parts := make([]string, len(cmd.Stmts))
			for i, st := range cmd.Stmts {
				parts[i] = strings.TrimSpace(sh.print(st))
			}
			return "( " + strings.Join(parts, "; ") + " )"
		})
		sh.setPipeStatus(sh.status)
	case *syntax.ArithmCmd:
		sh.runArithm(cmd)
	case *syntax.TestClause:
		sh.runTestClause(cmd)
	case *syntax.LetClause:
		sh.runLet(cmd)
	case *syntax.DeclClause:
		sh.runDecl(cmd)
	case *syntax.TimeClause:
		sh.runTime(cmd)
	case *syntax.BinaryCmd:
		switch cmd.Op {
		case syntax.AndStmt, syntax.OrStmt:
			sh.cond++
			sh.runStmt(cmd.X)
			sh.cond--
			if sh.ctl == ctlNone && (sh.status == 0) == (cmd.Op == syntax.AndStmt) {
				sh.runStmt(cmd.Y)
			}
		case syntax.Pipe, syntax.PipeAll:
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
	if f.Select {
		sh.errorf("select: not supported")
		sh.status = 2
		return
	}
	if c, ok := f.Loop.(*syntax.CStyleLoop); ok {
		sh.runCStyle(f, c)
		return
	}
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
	var trace string
	if sh.xtrace {
		words := append([]string{"for", wi.Name.Value, "in"}, items...)
		for i := 3; i < len(words); i++ {
			words[i] = quoteWord(words[i])
		}
		trace = sh.ps4() + strings.Join(words, " ") + "\n"
	}
	for _, it := range items {
		sh.checkpoint()
		if sh.xtrace {
			sh.write(2, trace) // each time round, as bash does
		}
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
	for i := 0; i < len(c.Items); i++ {
		item := c.Items[i]
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
			// ;& runs the next item's commands too, ;;& tests the
			// next items' patterns.
			for item.Op == syntax.Fallthrough && i+1 < len(c.Items) && sh.ctl == ctlNone {
				i++
				item = c.Items[i]
				sh.runStmts(item.Stmts)
			}
			if item.Op == syntax.Resume && sh.ctl == ctlNone {
				status := sh.status
				sh.runCase(&syntax.CaseClause{Word: c.Word, Items: c.Items[i+1:]})
				sh.status = max(sh.status, status)
			}
			return
		}
	}
	sh.status = 0
}

// background starts st without waiting for it and sets $!.
func (sh *shell) background(st *syntax.Stmt) {
	fg := *st
	fg.Background, fg.Semicolon = false, syntax.Pos{}
	saved := sh.async
	sh.async = true
	j := sh.start(&fg, sh.fds)
	sh.async = saved
	if j.pid > 0 {
		sh.lastBg = j.pid
		sh.addJob(j.pid, sh.print(&fg))
	}
	sh.status = 0
}

// pipelineStages flattens the left-nested pipes of a pipeline.
func pipelineStages(out []*syntax.Stmt, cmd *syntax.BinaryCmd) []*syntax.Stmt {
	if cmd.Op == syntax.PipeAll {
		// X |& Y is X 2>&1 | Y.
		x := *cmd.X
		x.Redirs = append(x.Redirs[:len(x.Redirs):len(x.Redirs)], &syntax.Redirect{
			Op: syntax.DplOut, N: &syntax.Lit{Value: "2"}, Word: &syntax.Word{Parts: []syntax.WordPart{&syntax.Lit{Value: "1"}}},
		})
		cmd = &syntax.BinaryCmd{Op: syntax.Pipe, X: &x, Y: cmd.Y}
	}
	for _, st := range []*syntax.Stmt{cmd.X, cmd.Y} {
		if b, ok := st.Cmd.(*syntax.BinaryCmd); ok && (b.Op == syntax.Pipe || b.Op == syntax.PipeAll) &&
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
				sh.errorf("pipe: %s", strerror(err))
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
	statuses := make([]int, len(jobs))
	status := 0
	for i, j := range jobs {
		statuses[i] = sh.wait(j)
		if !sh.pipefail || statuses[i] != 0 {
			status = statuses[i]
		}
	}
	sh.setPipeStatus(statuses...)
	sh.status = status
}

// setPipeStatus sets $PIPESTATUS to the statuses of the last foreground
// pipeline's stages.
func (sh *shell) setPipeStatus(statuses ...int) {
	v := sh.vars["PIPESTATUS"]
	if v == nil || v.kind != expand.Indexed || v.readonly {
		v = &shVar{kind: expand.Indexed}
		sh.vars["PIPESTATUS"] = v
	}
	// Every simple command sets it: the map is reused.
	if v.elems == nil {
		v.elems = make(map[int]string, len(statuses))
	}
	clear(v.elems)
	for i, st := range statuses {
		v.elems[i] = strconv.Itoa(st)
	}
	v.set = true
}

// wait waits for a job and returns its status as $? shows it.
func (sh *shell) wait(j job) int {
	st, _ := sh.waitStatus(j)
	return st
}

// waitFg waits for a foreground command, reporting its death by a signal
// as bash does: cmd is the command as the report shows it.
func (sh *shell) waitFg(j job, cmd func() string) int {
	st, ws := sh.waitStatus(j)
	if j.pid > 0 && ws.Signaled() {
		sh.reportDeath(j.pid, ws, cmd(), false)
	}
	return st
}

// waitStatus waits for a job and returns its status as $? shows it, and
// the wait status itself when there was a child.
func (sh *shell) waitStatus(j job) (int, node.WaitStatus) {
	if j.pid <= 0 {
		return j.status, 0
	}
	sh.fgWaited = true
	for {
		_, ws, err := sh.s.Wait4(j.pid, 0)
		if err == nil {
			return ws.Code(), ws
		}
		if !errors.Is(err, ipc.EINTR) {
			sh.errorf("wait for %d: %s", j.pid, strerror(err))
			return 127, 0
		}
	}
}
