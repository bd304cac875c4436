package builtins

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// kill(1), shared by the kill program and the shell's kill builtin, which
// also takes job specs. The command line follows bash's builtin:
//
//	kill [-s SIGSPEC | -n SIGNUM | -SIGSPEC] PID|JOBSPEC...
//	kill -l [SIGSPEC|STATUS...]
//
// Signal 0 sends nothing: the answer says whether the target exists and may
// be signalled. A signal that does not parse sends nothing at all.

// killUsage is kill's usage line, as bash prints it.
const killUsage = "usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or kill -l [sigspec]"

// errKillUsage is a command line kill can't read; the caller prints the usage.
var errKillUsage = errors.New(killUsage)

// killCmd is a parsed kill command line.
type killCmd struct {
	list    bool       // -l or -L
	sig     ipc.Signal // 0: check only
	targets []string   // PIDs or job specs, or the operands of -l
}

// parseKill reads kill's arguments. A bad signal is an error naming it.
func parseKill(args []string) (killCmd, error) {
	c := killCmd{sig: ipc.SIGTERM}
	if len(args) == 0 {
		return c, errKillUsage
	}
	a := args[0]
	switch {
	case a == "-l" || a == "-L":
		c.list, c.targets = true, args[1:]
		return c, nil
	case a == "--":
		args = args[1:]
	case a == "-s" || a == "-n":
		if len(args) < 2 {
			return c, fmt.Errorf("%s: option requires an argument", a)
		}
		sig, err := parseSigspec(args[1])
		if err != nil {
			return c, err
		}
		c.sig, args = sig, args[2:]
	case len(a) > 1 && a[0] == '-':
		sig, err := parseSigspec(a[1:])
		if err != nil {
			return c, err
		}
		c.sig, args = sig, args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return c, errKillUsage
	}
	c.targets = args
	return c, nil
}

// parseSigspec reads a signal name (TERM, SIGTERM, any case) or number; 0
// is the null signal.
func parseSigspec(v string) (ipc.Signal, error) {
	if v == "0" {
		return 0, nil
	}
	sig, err := ipc.ParseSignal(v)
	if err != nil || strings.TrimSpace(v) != v {
		return 0, fmt.Errorf("%s: invalid signal specification", v)
	}
	return sig, nil
}

// killList is kill -l: the table of signals, or the name of each operand (a
// number, or an exit status above 128) or the number of each name.
func killList(operands []string) (out string, err error) {
	var b strings.Builder
	if len(operands) == 0 {
		for i := 1; i < ipc.NSIG; i++ {
			fmt.Fprintf(&b, "%2d) %s", i, ipc.Signal(i))
			if i%5 == 0 || i == ipc.NSIG-1 {
				b.WriteString("\n")
			} else {
				b.WriteString("\t")
			}
		}
		return b.String(), nil
	}
	for _, op := range operands {
		if n, err := strconv.Atoi(op); err == nil {
			if n > 128 {
				n -= 128
			}
			sig := ipc.Signal(n)
			if !sig.Valid() {
				return b.String(), fmt.Errorf("%s: invalid signal specification", op)
			}
			b.WriteString(strings.TrimPrefix(sig.String(), "SIG") + "\n")
			continue
		}
		sig, err := parseSigspec(op)
		if err != nil {
			return b.String(), err
		}
		b.WriteString(strconv.Itoa(int(sig)) + "\n")
	}
	return b.String(), nil
}

// killErrText is the reason kill(1) prints for a failed kill(2), in
// strerror's words.
func killErrText(err error) string {
	switch {
	case errors.Is(err, ipc.ESRCH):
		return "No such process"
	case errors.Is(err, ipc.EPERM):
		return "Operation not permitted"
	case errors.Is(err, ipc.EINVAL):
		return "Invalid argument"
	}
	return strerror(err)
}

// strerror is the description of err as the C library words it: the
// errno's text with a capital letter.
func strerror(err error) string {
	t := errText(err)
	if t == "" {
		return t
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

// progKill is the kill program: PIDs only, as it has no jobs. Like the
// shell's builtin, it succeeds if any target got the signal.
func progKill(s *node.Sys) int {
	c, err := parseKill(s.Args())
	if err != nil {
		s.Errorf("%v", err)
		if err == errKillUsage {
			return 2
		}
		return 1
	}
	if c.list {
		out, err := killList(c.targets)
		s.Stdout().Write([]byte(out))
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		return 0
	}
	sent := false
	for _, a := range c.targets {
		pid, err := strconv.Atoi(a)
		if err != nil {
			s.Errorf("%s: arguments must be process or job IDs", a)
			continue
		}
		if err := s.Kill(pid, c.sig); err != nil {
			s.Errorf("(%d) - %s", pid, killErrText(err))
			continue
		}
		sent = true
	}
	if sent {
		return 0
	}
	return 1
}
