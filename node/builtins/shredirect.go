package builtins

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Redirections and here-documents, applied to a copy of the descriptor
// table a command will see.

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
	case syntax.RdrIn, syntax.RdrInOut, syntax.DplIn, syntax.Hdoc, syntax.DashHdoc, syntax.WordHdoc:
		n = 0
	}
	if rd.N != nil {
		v, err := strconv.Atoi(rd.N.Value)
		if err != nil || v < 0 || v > maxShFd {
			return fmt.Errorf("%s: %s", rd.N.Value, strerror(ipc.EBADF))
		}
		n = v
	}
	var flags int
	switch rd.Op {
	case syntax.RdrIn:
		flags = node.O_RDONLY
	case syntax.RdrOut, syntax.RdrClob:
		flags = node.O_WRONLY | node.O_CREAT | node.O_TRUNC
	case syntax.AppOut:
		flags = node.O_WRONLY | node.O_CREAT | node.O_APPEND
	case syntax.RdrInOut:
		flags = node.O_RDWR | node.O_CREAT
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
			return fmt.Errorf("%d: %s", m, strerror(ipc.EBADF))
		}
		tbl[n] = fd
		return nil
	case syntax.Hdoc, syntax.DashHdoc, syntax.WordHdoc:
		body, err := sh.heredocBody(rd)
		if err != nil {
			return err
		}
		fd, err := sh.heredoc(body)
		if err != nil {
			return err
		}
		*opened = append(*opened, fd)
		tbl[n] = fd
		return nil
	case syntax.RdrAll, syntax.AppAll:
		// &>FILE and &>>FILE send both outputs to FILE.
		flags = node.O_WRONLY | node.O_CREAT | node.O_TRUNC
		if rd.Op == syntax.AppAll {
			flags = node.O_WRONLY | node.O_CREAT | node.O_APPEND
		}
		name, err := sh.literal(rd.Word)
		if err != nil {
			return err
		}
		fd, err := sh.s.Open(name, flags, 0o644)
		if err != nil {
			return fmt.Errorf("%s: %s", name, strerror(err))
		}
		*opened = append(*opened, fd)
		tbl[1], tbl[2] = fd, fd
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
		return fmt.Errorf("%s: %s", name, strerror(err))
	}
	*opened = append(*opened, fd)
	tbl[n] = fd
	return nil
}

// heredoc returns a descriptor to read a here-document's body from: the
// read end of a pipe when the body fits in the pipe's buffer, else a
// temporary file of the namespace, removed at once and so gone when the
// last descriptor to it is closed. Either way the body is in place before
// the command starts, and nothing is left to write while it reads.
func (sh *shell) heredoc(body string) (int, error) {
	r, w, err := sh.s.Pipe2(node.O_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("here-document: %s", strerror(err))
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
		return sh.heredocFile(body)
	}
	if err := sh.s.SetNonblock(r, false); err != nil {
		sh.s.Close(r)
		return -1, fmt.Errorf("here-document: %s", strerror(err))
	}
	return r, nil
}

// heredocDir is where the shell makes the files of large here-documents.
const heredocDir = "/tmp"

// heredocFile writes body to a new temporary file, removes its name, and
// returns a descriptor open to read it from the start.
func (sh *shell) heredocFile(body string) (int, error) {
	if fi, err := sh.s.Stat(heredocDir); err != nil || !fi.IsDir() {
		if err := sh.s.Mkdir(heredocDir, 0o1777); err != nil && !errors.Is(err, ipc.EEXIST) {
			return -1, fmt.Errorf("here-document: %s: %s", heredocDir, strerror(err))
		}
	}
	var name string
	fd := -1
	for i := 0; fd < 0; i++ {
		name = fmt.Sprintf("%s/sh-thd.%d.%d", heredocDir, sh.pid, sh.hdocSeq)
		sh.hdocSeq++
		var err error
		fd, err = sh.s.Open(name, node.O_WRONLY|node.O_CREAT|node.O_EXCL, 0o600)
		if err != nil && (!errors.Is(err, ipc.EEXIST) || i > 100) {
			return -1, fmt.Errorf("here-document: %s", strerror(err))
		}
	}
	defer sh.s.Close(fd)
	r, err := sh.s.Open(name, node.O_RDONLY, 0)
	sh.s.Remove(name)
	if err != nil {
		return -1, fmt.Errorf("here-document: %s", strerror(err))
	}
	if _, err := sh.s.File(fd).Write([]byte(body)); err != nil {
		sh.s.Close(r)
		return -1, fmt.Errorf("here-document: %s", strerror(err))
	}
	return r, nil
}

// heredocBody expands a here-document: literally when its delimiter is
// quoted, as a double-quoted string otherwise; <<- strips leading tabs.
func (sh *shell) heredocBody(rd *syntax.Redirect) (string, error) {
	if rd.Op == syntax.WordHdoc {
		s, err := sh.literal(rd.Word)
		return s + "\n", err
	}
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
