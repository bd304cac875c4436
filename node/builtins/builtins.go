package builtins

import (
	"bufio"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Programs returns a new program table holding every built-in program (Install).
func Programs() *node.ProgramTable {
	r := node.NewProgramTable()
	Install(r)
	return r
}

// Install registers the built-in programs in r, replacing programs of the
// same names: true, false, echo, cat, yes, sleep, wc, head, spin, env, pwd,
// kill, pause, heartbeat, onnode, ls, sh and the IPC tools (mkfifo, fifo-read,
// fifo-write, mqsend, mqrecv, mqattr, mqrm, shm-counter, shm-read).
func Install(r *node.ProgramTable) {
	r.Register("true", func(*node.Sys) int { return 0 })
	r.Register("false", func(*node.Sys) int { return 1 })
	r.Register("echo", progEcho)
	r.Register("cat", progCat)
	r.Register("yes", progYes)
	r.Register("sleep", progSleep)
	r.Register("wc", progWc)
	r.Register("head", progHead)
	r.Register("spin", progSpin)
	r.Register("env", progEnv)
	r.Register("pwd", func(s *node.Sys) int { s.Printf("%s\n", s.Getcwd()); return 0 })
	r.Register("kill", progKill)
	r.Register("pause", func(s *node.Sys) int { s.Pause(); return 0 })
	r.Register("heartbeat", progHeartbeat)
	r.Register("onnode", progOnNode)
	r.Register("ls", progLs)
	registerShell(r)
	registerIPCTools(r)
}

// exitOnWriteErr reports a failed write: a broken pipe ends quietly, as it
// does for a Unix tool killed by SIGPIPE whose handler was changed.
func exitOnWriteErr(s *node.Sys, err error) int {
	if errors.Is(err, ipc.EPIPE) {
		return 141
	}
	s.Errorf("write error: %v", err)
	return 1
}

func progEcho(s *node.Sys) int {
	args := s.Args()
	nl := true
	if len(args) > 0 && args[0] == "-n" {
		nl, args = false, args[1:]
	}
	out := strings.Join(args, " ")
	if nl {
		out += "\n"
	}
	if _, err := s.Stdout().Write([]byte(out)); err != nil {
		return exitOnWriteErr(s, err)
	}
	return 0
}

func progCat(s *node.Sys) int {
	files := s.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	buf := make([]byte, 32<<10)
	status := 0
	for _, name := range files {
		fd := 0
		if name != "-" {
			var err error
			if fd, err = s.Open(name, node.O_RDONLY, 0); err != nil {
				s.Errorf("%s: %v", name, err)
				status = 1
				continue
			}
		}
		rerr, werr := pump(s, 1, fd, buf)
		if werr != nil {
			return exitOnWriteErr(s, werr)
		}
		if rerr != nil {
			s.Errorf("%s: %v", name, rerr)
			status = 1
		}
		if fd != 0 {
			s.Close(fd)
		}
	}
	return status
}

// pump copies descriptor from to descriptor to through buf until end of
// file, and returns the error that stopped it early: a failed read's as
// rerr, a failed write's as werr.
func pump(s *node.Sys, to, from int, buf []byte) (rerr, werr error) {
	for {
		n, err := s.Read(from, buf)
		if n > 0 {
			if _, werr := s.File(to).Write(buf[:n]); werr != nil {
				return nil, werr
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

func progYes(s *node.Sys) int {
	word := "y"
	if a := s.Args(); len(a) > 0 {
		word = strings.Join(a, " ")
	}
	line := []byte(word + "\n")
	chunk := make([]byte, 0, 4096)
	for len(chunk)+len(line) <= cap(chunk) {
		chunk = append(chunk, line...)
	}
	for {
		if _, err := s.Write(1, chunk); err != nil {
			return exitOnWriteErr(s, err)
		}
	}
}

// parseDuration takes sleep(1)'s forms: seconds ("2", "1.5") or a Go
// duration ("300ms"). Plain seconds are parsed by hand: strconv.ParseFloat's
// large frame would grow every sleeping process's stack past its minimum.
func parseDuration(v string) (time.Duration, error) {
	if d, ok := parseSeconds(v); ok {
		return d, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, ipc.EINVAL
	}
	return d, nil
}

func parseSeconds(v string) (time.Duration, bool) {
	var whole, frac, scale int64 = 0, 0, 1
	dot := false
	if v == "" || v == "." {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			if !dot {
				if whole > (1<<62)/int64(time.Second) {
					return 0, false
				}
				whole = whole*10 + int64(c-'0')
			} else if scale < int64(time.Second) {
				frac = frac*10 + int64(c-'0')
				scale *= 10
			}
		default:
			return 0, false
		}
	}
	return time.Duration(whole)*time.Second + time.Duration(frac*int64(time.Second)/scale), true
}

func progSleep(s *node.Sys) int {
	args := s.Args()
	if len(args) == 0 {
		s.Errorf("missing operand")
		return 2
	}
	var total time.Duration
	for _, a := range args {
		d, err := parseDuration(a)
		if err != nil {
			s.Errorf("invalid time interval %q", a)
			return 2
		}
		total += d
	}
	if err := s.Sleep(total); err != nil {
		return 1
	}
	return 0
}

func progWc(s *node.Sys) int {
	var lines, words, bytes int
	inWord := false
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(0, buf)
		for _, c := range buf[:n] {
			bytes++
			if c == '\n' {
				lines++
			}
			space := c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
			if !space && !inWord {
				words++
			}
			inWord = !space
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
	}
	var out string
	switch flags := strings.Join(s.Args(), ""); {
	case strings.Contains(flags, "l") && !strings.ContainsAny(flags, "wc"):
		out = strconv.Itoa(lines)
	case strings.Contains(flags, "w") && !strings.ContainsAny(flags, "lc"):
		out = strconv.Itoa(words)
	case strings.Contains(flags, "c") && !strings.ContainsAny(flags, "lw"):
		out = strconv.Itoa(bytes)
	default:
		out = strconv.Itoa(lines) + " " + strconv.Itoa(words) + " " + strconv.Itoa(bytes)
	}
	if _, err := s.Stdout().Write([]byte(out + "\n")); err != nil {
		return exitOnWriteErr(s, err)
	}
	return 0
}

func progHead(s *node.Sys) int {
	n := 10
	args := s.Args()
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" && i+1 < len(args):
			i++
			a = args[i]
		case strings.HasPrefix(a, "-n"):
			a = a[2:]
		case strings.HasPrefix(a, "-"):
			a = a[1:]
		default:
			s.Errorf("unexpected argument %q", a)
			return 2
		}
		v, err := strconv.Atoi(a)
		if err != nil || v < 0 {
			s.Errorf("invalid number of lines %q", a)
			return 2
		}
		n = v
	}
	if n == 0 {
		return 0
	}
	r := bufio.NewReaderSize(s.Stdin(), 4096)
	w := s.Stdout()
	for i := 0; i < n; i++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if _, werr := w.Write(line); werr != nil {
				return exitOnWriteErr(s, werr)
			}
		}
		if err != nil {
			break
		}
	}
	return 0
}

// progSpin is a CPU-bound loop of N iterations (default: until killed) that
// yields every 64 iterations and prints how many it ran.
func progSpin(s *node.Sys) int {
	n := -1
	if a := s.Args(); len(a) > 0 {
		v, err := strconv.Atoi(a[0])
		if err != nil || v < 0 {
			s.Errorf("bad count %q", a[0])
			return 2
		}
		n = v
	}
	x := uint64(1)
	i := 0
	for ; n < 0 || i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407 // some work
		if i%64 == 63 {
			s.Yield()
		}
	}
	runtime.KeepAlive(x) // keeps the work from being optimised away
	s.Printf("%d\n", i)
	return 0
}

func progEnv(s *node.Sys) int {
	for _, kv := range s.Environ() {
		s.Printf("%s\n", kv)
	}
	return 0
}
