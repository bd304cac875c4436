package builtins

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// The IPC tools: small programs over FIFOs, message queues and shared
// memory. Each reports an error as one line on standard error, such as
// "mqsend: /q: no such file or directory", and exits 1 for a failed call and
// 2 for bad usage.

// registerIPCTools adds the IPC tools to r.
func registerIPCTools(r *node.ProgramTable) {
	r.Register("mkfifo", progMkfifo)
	r.Register("fifo-write", progFifoWrite)
	r.Register("fifo-read", progFifoRead)
	r.Register("mqsend", progMqsend)
	r.Register("mqrecv", progMqrecv)
	r.Register("mqattr", progMqattr)
	r.Register("mqrm", progMqrm)
	r.Register("shm-counter", progShmCounter)
	r.Register("shm-read", progShmRead)
}

// toolOpts holds the options parseToolOpts found: the letter of each, with
// its value ("" for a flag without one).
type toolOpts map[byte]string

func (o toolOpts) has(c byte) bool { _, ok := o[c]; return ok }

// parseToolOpts splits args into options and operands. Options come first,
// as "-c", or "-p VALUE" and "-pVALUE" for the letters in withValue; flags
// may be grouped ("-cn 2"); "--" ends them, and so does "-" or any word that
// does not start with '-'.
func parseToolOpts(args []string, flags, withValue string) (toolOpts, []string, error) {
	opts := toolOpts{}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return opts, args[1:], nil
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
		for i := 1; i < len(a); i++ {
			c := a[i]
			switch {
			case strings.IndexByte(flags, c) >= 0:
				opts[c] = ""
			case strings.IndexByte(withValue, c) >= 0:
				if i+1 < len(a) {
					opts[c] = a[i+1:]
				} else if len(args) > 0 {
					opts[c], args = args[0], args[1:]
				} else {
					return nil, nil, errors.New("option -" + string(c) + " needs a value")
				}
				i = len(a)
			default:
				return nil, nil, errors.New("unknown option -" + string(c))
			}
		}
	}
	return opts, args, nil
}

// usage reports bad usage and returns exit status 2.
func usage(s *node.Sys, err error, synopsis string) int {
	if err != nil {
		s.Errorf("%v", err)
	}
	s.Errorf("usage: %s", synopsis)
	return 2
}

// failed reports a failed call on what and returns exit status 1.
func failed(s *node.Sys, what string, err error) int {
	s.Errorf("%s: %s", what, errText(err))
	return 1
}

// copyFd copies descriptor from to descriptor to until end of file. It
// returns the exit status: 0, 1 after a failed read, or what exitOnWriteErr
// gives for a failed write.
func copyFd(s *node.Sys, to, from int, name string) int {
	rerr, werr := pump(s, to, from, make([]byte, 32<<10))
	switch {
	case werr != nil:
		return exitOnWriteErr(s, werr)
	case rerr != nil:
		return failed(s, name, rerr)
	}
	return 0
}

// eachOperand calls fn for each argument of a tool that takes one or more
// operands (mkfifo PATH..., mqrm NAME...), reporting each failure. It
// returns the exit status: 2 without operands, 1 if any call failed.
func eachOperand(s *node.Sys, synopsis string, fn func(name string) error) int {
	args := s.Args()
	if len(args) == 0 {
		return usage(s, nil, synopsis)
	}
	status := 0
	for _, name := range args {
		if err := fn(name); err != nil {
			status = failed(s, name, err)
		}
	}
	return status
}

// openFlags returns the access mode acc, with O_CREAT added when the tool was
// given -c.
func (o toolOpts) openFlags(acc int) int {
	if o.has('c') {
		return acc | node.O_CREAT
	}
	return acc
}

// printCounter prints the counter in the first 8 bytes of the segment m maps.
func printCounter(s *node.Sys, m *node.Mapping, name string) int {
	v, err := m.Load64(0)
	if err != nil {
		return failed(s, name, err)
	}
	s.Printf("%d\n", v)
	return 0
}

// progMkfifo makes a FIFO at each PATH (mkfifo PATH...).
func progMkfifo(s *node.Sys) int {
	return eachOperand(s, "mkfifo PATH...", func(name string) error { return s.Mkfifo(name, 0o644) })
}

// progFifoWrite opens PATH for writing, blocking until a reader opens it, and
// writes TEXT joined by spaces and a newline, or copies its standard input
// when there is no TEXT (fifo-write PATH [TEXT...]).
func progFifoWrite(s *node.Sys) int {
	args := s.Args()
	if len(args) == 0 {
		return usage(s, nil, "fifo-write PATH [TEXT...]")
	}
	name := args[0]
	fd, err := s.Open(name, node.O_WRONLY, 0)
	if err != nil {
		return failed(s, name, err)
	}
	defer s.Close(fd)
	if len(args) == 1 {
		return copyFd(s, fd, 0, "stdin")
	}
	if _, err := s.File(fd).Write([]byte(strings.Join(args[1:], " ") + "\n")); err != nil {
		return exitOnWriteErr(s, err)
	}
	return 0
}

// progFifoRead opens PATH for reading, blocking until a writer opens it, and
// copies what arrives to standard output until every writer has closed
// (fifo-read PATH).
func progFifoRead(s *node.Sys) int {
	args := s.Args()
	if len(args) != 1 {
		return usage(s, nil, "fifo-read PATH")
	}
	fd, err := s.Open(args[0], node.O_RDONLY, 0)
	if err != nil {
		return failed(s, args[0], err)
	}
	defer s.Close(fd)
	return copyFd(s, 1, fd, args[0])
}

// progMqsend sends each MSG as one message, with priority PRIO (default 0),
// creating the queue with -c (mqsend [-p PRIO] [-c] NAME MSG...).
func progMqsend(s *node.Sys) int {
	const synopsis = "mqsend [-p PRIO] [-c] NAME MSG..."
	opts, args, err := parseToolOpts(s.Args(), "c", "p")
	if err != nil || len(args) < 2 {
		return usage(s, err, synopsis)
	}
	var prio uint
	if v, ok := opts['p']; ok {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n >= ipc.MQPrioMax {
			return usage(s, errors.New("bad priority "+strconv.Quote(v)+" (want 0 to 31)"), synopsis)
		}
		prio = uint(n)
	}
	name := args[0]
	fd, err := s.MqOpen(name, opts.openFlags(node.O_WRONLY), 0o644, nil)
	if err != nil {
		return failed(s, name, err)
	}
	defer s.Close(fd)
	for _, msg := range args[1:] {
		if err := s.MqSend(fd, []byte(msg), prio); err != nil {
			return failed(s, name, err)
		}
	}
	return 0
}

// progMqrecv receives COUNT messages (default 1) and prints each on a line,
// creating the queue with -c and waiting at most TIMEOUT for each message
// with -t (mqrecv [-n COUNT] [-c] [-t TIMEOUT] NAME).
func progMqrecv(s *node.Sys) int {
	const synopsis = "mqrecv [-n COUNT] [-c] [-t TIMEOUT] NAME"
	opts, args, err := parseToolOpts(s.Args(), "c", "nt")
	if err != nil || len(args) != 1 {
		return usage(s, err, synopsis)
	}
	count := 1
	if v, ok := opts['n']; ok {
		if count, err = strconv.Atoi(v); err != nil || count < 0 {
			return usage(s, errors.New("bad count "+strconv.Quote(v)), synopsis)
		}
	}
	var timeout time.Duration
	v, timed := opts['t']
	if timed {
		if timeout, err = parseDuration(v); err != nil {
			return usage(s, errors.New("bad timeout "+strconv.Quote(v)), synopsis)
		}
	}
	name := args[0]
	fd, err := s.MqOpen(name, opts.openFlags(node.O_RDONLY), 0o644, nil)
	if err != nil {
		return failed(s, name, err)
	}
	defer s.Close(fd)
	attr, err := s.MqGetattr(fd)
	if err != nil {
		return failed(s, name, err)
	}
	buf := make([]byte, attr.MsgSize+1)
	for range count {
		var deadline time.Time
		if timed {
			deadline = s.Now().Add(timeout)
		}
		n, _, err := s.MqTimedReceive(fd, buf[:attr.MsgSize], deadline)
		if err != nil {
			return failed(s, name, err)
		}
		line := append(buf[:n], '\n')
		if _, err := s.Stdout().Write(line); err != nil {
			return exitOnWriteErr(s, err)
		}
	}
	return 0
}

// progMqattr prints a queue's attributes as "maxmsg=M msgsize=S curmsgs=C"
// (mqattr NAME).
func progMqattr(s *node.Sys) int {
	args := s.Args()
	if len(args) != 1 {
		return usage(s, nil, "mqattr NAME")
	}
	name := args[0]
	fd, err := s.MqOpen(name, node.O_RDONLY, 0, nil)
	if err != nil {
		return failed(s, name, err)
	}
	defer s.Close(fd)
	a, err := s.MqGetattr(fd)
	if err != nil {
		return failed(s, name, err)
	}
	s.Printf("maxmsg=%d msgsize=%d curmsgs=%d\n", a.MaxMsg, a.MsgSize, a.CurMsgs)
	return 0
}

// progMqrm removes each queue NAME (mqrm NAME...).
func progMqrm(s *node.Sys) int {
	return eachOperand(s, "mqrm NAME...", s.MqUnlink)
}

// progShmCounter attaches the segment NAME and adds 1 to the counter in its
// first 8 bytes N times, yielding every 64 adds, then prints the counter.
// With -c it creates the segment and gives it room for the counter
// (shm-counter [-c] NAME N).
func progShmCounter(s *node.Sys) int {
	const synopsis = "shm-counter [-c] NAME N"
	opts, args, err := parseToolOpts(s.Args(), "c", "")
	if err != nil || len(args) != 2 {
		return usage(s, err, synopsis)
	}
	name := args[0]
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		return usage(s, errors.New("bad count "+strconv.Quote(args[1])), synopsis)
	}
	fd, err := s.ShmOpen(name, opts.openFlags(node.O_RDWR), 0o644)
	if err != nil {
		return failed(s, name, err)
	}
	defer s.Close(fd)
	m, err := s.Mmap(fd, false)
	if err != nil {
		return failed(s, name, err)
	}
	if opts.has('c') && m.Size() < 8 {
		// Grow it before mapping again, so that the mapping is charged for
		// the counter. Racing creators all grow it to 8: the later ones
		// change nothing.
		m.Munmap()
		if err := s.Ftruncate(fd, 8); err != nil {
			return failed(s, name, err)
		}
		if m, err = s.Mmap(fd, false); err != nil {
			return failed(s, name, err)
		}
	}
	defer m.Munmap()
	for i := range n {
		if _, err := m.Add64(0, 1); err != nil {
			return failed(s, name, err)
		}
		if i%64 == 63 {
			s.Yield()
		}
	}
	return printCounter(s, m, name)
}

// progShmRead prints the counter in the first 8 bytes of the segment NAME
// (shm-read NAME).
func progShmRead(s *node.Sys) int {
	args := s.Args()
	if len(args) != 1 {
		return usage(s, nil, "shm-read NAME")
	}
	name := args[0]
	fd, err := s.ShmOpen(name, node.O_RDONLY, 0)
	if err != nil {
		return failed(s, name, err)
	}
	defer s.Close(fd)
	m, err := s.Mmap(fd, true)
	if err != nil {
		return failed(s, name, err)
	}
	defer m.Munmap()
	return printCounter(s, m, name)
}
