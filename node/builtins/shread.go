package builtins

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/vproc/vproc/ipc"
)

// readOpts are the options of read.
type readOpts struct {
	raw     bool          // -r: a backslash is an ordinary character
	n       int           // -n N: stop after N characters; 0: no limit
	delim   byte          // -d D: the line's end
	timeout time.Duration // -t T: give up after T; 0: wait for ever
	timed   bool
	array   string // -a NAME: the fields go to an indexed array
}

// readPoll is how often read -t looks at its input again.
const readPoll = 5 * time.Millisecond

// builtinRead is read [-r] [-a NAME] [-d DELIM] [-n N] [-t SECONDS]
// [NAME...]. It reads a byte at a time, so as to leave the rest of the
// input to the commands that follow, and splits the line at $IFS.
func (sh *shell) builtinRead(args []string) int {
	o := readOpts{delim: '\n'}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		for i := 1; i < len(a); i++ {
			c := a[i]
			if c == 'r' {
				o.raw = true
				continue
			}
			if !strings.ContainsRune("andtp", rune(c)) {
				sh.errorf("read: -%c: invalid option", c)
				return 2
			}
			val := a[i+1:]
			if val == "" {
				if len(args) == 0 {
					sh.errorf("read: -%c: option requires an argument", c)
					return 2
				}
				val, args = args[0], args[1:]
			}
			i = len(a)
			switch c {
			case 'a':
				o.array = val
			case 'd':
				o.delim = 0
				if val != "" {
					o.delim = val[0]
				}
			case 'n':
				n, err := strconv.Atoi(val)
				if err != nil || n < 0 {
					sh.errorf("read: %s: invalid number", val)
					return 2
				}
				o.n = n
			case 't':
				d, ok := parseSeconds(val)
				if !ok {
					sh.errorf("read: %s: invalid timeout specification", val)
					return 2
				}
				o.timeout, o.timed = d, true
			case 'p':
				// The prompt is shown only when input is a terminal.
			}
		}
	}
	names := args
	if len(names) == 0 && o.array == "" {
		names = []string{"REPLY"}
	}
	for _, n := range append(names[:len(names):len(names)], o.array) {
		if n != "" && !syntax.ValidName(n) {
			sh.errorf("read: `%s': not a valid identifier", n)
			return 1
		}
	}
	kfd, ok := sh.fds[0]
	if !ok {
		sh.errorf("read: read error: 0: %s", strerror(ipc.EBADF))
		return 1
	}
	line, status := sh.readLine(kfd, o)
	if status == 2 {
		return status
	}
	if o.array != "" {
		if err := sh.writable(o.array); err != nil {
			sh.errorf("%v", err)
			return 1
		}
		sh.setArray(o.array, expand.ReadFields(sh.config(), line, -1, o.raw))
		return status
	}
	if len(names) == 1 && names[0] == "REPLY" && len(args) == 0 {
		// REPLY gets the line as it is, blanks and all.
		if !o.raw {
			line = unescapeRead(line)
		}
		if err := sh.setVar("REPLY", line); err != nil {
			sh.errorf("%v", err)
			return 1
		}
		return status
	}
	fields := expand.ReadFields(sh.config(), line, len(names), o.raw)
	for i, n := range names {
		v := ""
		if i < len(fields) {
			v = fields[i]
		}
		if err := sh.setVar(n, v); err != nil {
			sh.errorf("%v", err)
			return 1
		}
	}
	return status
}

// unescapeRead removes the backslashes of a line read without -r.
func unescapeRead(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readLine reads up to the delimiter (or n characters, or end of file, or
// the timeout). Its status is read's: 0, 1 at end of file, 142 (128+SIGALRM,
// as bash) on timeout, 2 or more on error.
func (sh *shell) readLine(kfd int, o readOpts) (string, int) {
	var line []byte
	var b [1]byte
	var deadline time.Time
	if o.timed {
		deadline = time.Now().Add(o.timeout)
		if err := sh.s.SetNonblock(kfd, true); err != nil {
			sh.errorf("read: %s", strerror(err))
			return "", 2
		}
		defer sh.s.SetNonblock(kfd, false)
	}
	count := 0
	for o.n == 0 || count < o.n {
		n, err := sh.s.Read(kfd, b[:])
		if errors.Is(err, ipc.EAGAIN) {
			if !time.Now().Before(deadline) {
				return string(line), 142
			}
			sh.s.Sleep(readPoll)
			continue
		}
		if n == 1 {
			c := b[0]
			if c == o.delim {
				if !o.raw && len(line) > 0 && line[len(line)-1] == '\\' {
					line = line[:len(line)-1] // a continued line
					continue
				}
				return string(line), 0
			}
			line = append(line, c)
			if c != '\\' || o.raw {
				count++
			}
		}
		if err == io.EOF {
			return string(line), 1
		}
		if errors.Is(err, ipc.EINTR) && len(sh.caught) > 0 {
			// As in bash, the trap's action runs at once and read
			// goes on, unless the action ends the shell.
			sh.runTraps()
			if sh.ctl == ctlExit {
				return string(line), sh.exitCode
			}
			continue
		}
		if err != nil && !errors.Is(err, ipc.EINTR) {
			sh.errorf("read: read error: 0: %s", strerror(err))
			return string(line), 2
		}
	}
	return string(line), 0
}

// builtinMapfile is mapfile (readarray) [-t] [-n COUNT] [-d DELIM] [ARRAY]:
// it reads lines of standard input into an indexed array, MAPFILE by
// default.
func (sh *shell) builtinMapfile(name string, args []string) int {
	trim, count, delim := false, 0, byte('\n')
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		a := args[0]
		args = args[1:]
		switch a {
		case "-t":
			trim = true
			continue
		case "--":
		case "-n", "-d":
			if len(args) == 0 {
				sh.errorf("%s: %s: option requires an argument", name, a)
				return 2
			}
			v := args[0]
			args = args[1:]
			if a == "-d" {
				delim = 0
				if v != "" {
					delim = v[0]
				}
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				sh.errorf("%s: %s: invalid line count", name, v)
				return 1
			}
			count = n
			continue
		default:
			sh.errorf("%s: %s: invalid option", name, a)
			return 2
		}
		break
	}
	arr := "MAPFILE"
	if len(args) > 0 {
		arr = args[0]
	}
	if !syntax.ValidName(arr) {
		sh.errorf("%s: `%s': not a valid identifier", name, arr)
		return 1
	}
	if err := sh.writable(arr); err != nil {
		sh.errorf("%v", err)
		return 1
	}
	kfd, ok := sh.fds[0]
	if !ok {
		sh.errorf("%s: read error: 0: %s", name, strerror(ipc.EBADF))
		return 1
	}
	var lines []string
	var line []byte
	var b [1]byte
	for count == 0 || len(lines) < count {
		n, err := sh.s.Read(kfd, b[:])
		if n == 1 {
			line = append(line, b[0])
			if b[0] == delim {
				if trim {
					line = line[:len(line)-1]
				}
				lines = append(lines, string(line))
				line = line[:0]
			}
		}
		if err == io.EOF {
			if len(line) > 0 {
				lines = append(lines, string(line))
			}
			break
		}
		if err != nil && !errors.Is(err, ipc.EINTR) {
			sh.errorf("%s: read error: 0: %s", name, strerror(err))
			return 1
		}
	}
	sh.setArray(arr, lines)
	return 0
}
