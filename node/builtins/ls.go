package builtins

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// progLs lists directories of the namespace, as ls(1) does when its output
// is not a terminal: one name a line, sorted, dot files only with -a, and
// with -l each entry's mode and size before its name. A file operand lists
// itself. A missing operand is reported and makes the exit status 2.
func progLs(s *node.Sys) int {
	var all, long bool
	var names []string
	for i, a := range s.Args() {
		if a == "--" {
			names = append(names, s.Args()[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			names = append(names, a)
			continue
		}
		for _, f := range a[1:] {
			switch f {
			case 'a':
				all = true
			case 'l':
				long = true
			case '1':
			default:
				s.Errorf("invalid option -- '%c'", f)
				return 2
			}
		}
	}
	if len(names) == 0 {
		names = []string{"."}
	}
	status := 0
	w := s.Stdout()
	line := func(name string, fi fs.FileInfo) error {
		var b strings.Builder
		if long {
			b.WriteString(modeText(fi.Mode()))
			b.WriteString(" ")
			b.WriteString(itoaPad(fi.Size(), 8))
			b.WriteString(" ")
		}
		b.WriteString(name)
		b.WriteString("\n")
		_, err := w.Write([]byte(b.String()))
		return err
	}
	for i, name := range names {
		fi, err := s.Stat(name)
		if err != nil {
			s.Errorf("cannot access '%s': %s", name, errnoText(err))
			status = 2
			continue
		}
		if !fi.IsDir() {
			if err := line(name, fi); err != nil {
				return exitOnWriteErr(s, err)
			}
			continue
		}
		ents, err := s.ReadDir(name)
		if err != nil {
			s.Errorf("cannot open directory '%s': %s", name, errnoText(err))
			status = 2
			continue
		}
		if len(names) > 1 {
			if i > 0 {
				w.Write([]byte("\n"))
			}
			w.Write([]byte(name + ":\n"))
		}
		for _, e := range ents {
			if !all && strings.HasPrefix(e.Name(), ".") {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue // removed since the listing
			}
			if err := line(e.Name(), info); err != nil {
				return exitOnWriteErr(s, err)
			}
		}
	}
	return status
}

// errnoText is the strerror text of err's errno, or err's own text.
func errnoText(err error) string {
	var e ipc.Errno
	if errors.As(err, &e) {
		t := e.Error()
		return strings.ToUpper(t[:1]) + t[1:]
	}
	return err.Error()
}

// itoaPad formats n right-aligned in width columns.
func itoaPad(n int64, width int) string {
	v := strconv.FormatInt(n, 10)
	if len(v) >= width {
		return v
	}
	return strings.Repeat(" ", width-len(v)) + v
}

// modeText writes a file mode as ls -l does: the type letter, then the
// permission bits.
func modeText(m fs.FileMode) string {
	t := "-"
	switch {
	case m.IsDir():
		t = "d"
	case m&fs.ModeCharDevice != 0:
		t = "c"
	case m&fs.ModeDevice != 0:
		t = "b"
	case m&fs.ModeNamedPipe != 0:
		t = "p"
	case m&fs.ModeSymlink != 0:
		t = "l"
	case m&fs.ModeSocket != 0:
		t = "s"
	}
	return t + m.Perm().String()[1:]
}
