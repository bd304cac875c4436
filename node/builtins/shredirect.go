package builtins

import (
	"fmt"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

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
	r, w, err := sh.s.Pipe2(node.O_NONBLOCK)
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
