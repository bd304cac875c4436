package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/spec"
)

func newKillCmd(e *env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kill [-s SIG] PID|-PGID...",
		Short: "Send a signal to processes or process groups",
		Long: `Send a signal (SIGTERM unless told otherwise) to processes, or to whole
process groups given as -PGID. The signal is a name (TERM, SIGTERM) or a
number; signal 0 only checks that the targets exist. As with kill(1), a leading -SIG also names the signal, so a process
group needs '--' in front of it: vproc kill -s TERM -- -42.`,
		// The arguments are parsed here, not by cobra: -PGID and the
		// kill(1) forms -9 and -KILL are not flags.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ka, err := parseKillArgs(args)
			var ku *killUsage
			if errors.As(err, &ku) {
				return &usageError{cmd: cmd, err: ku.err}
			}
			if err != nil {
				return err
			}
			if ka.help {
				return cmd.Help()
			}
			if ka.addr != "" {
				g.addr = ka.addr
			}
			return verb[api.KillResponse]{
				name: "kill",
				call: func(ctx context.Context, c *client.Client) (api.KillResponse, error) {
					return c.Kill(ctx, api.KillRequest{Targets: ka.targets, Signal: int(ka.signal)})
				},
				explain: func(err error) error {
					if errors.Is(err, client.ErrNotFound) {
						return fmt.Errorf("no such process: %s", targetList(ka.targets))
					}
					return nil
				},
				print: func(_ io.Writer, res api.KillResponse) error {
					// Some targets failed while others were reached: one
					// line each on stderr, and exit 1.
					for _, te := range res.Errors {
						if te.Code == api.CodeNoSuchProcess {
							fmt.Fprintf(e.stderr, "vproc: no such process: %d\n", te.Target)
						} else {
							fmt.Fprintf(e.stderr, "vproc: kill %d: %s\n", te.Target, oneLine(te.Message))
						}
					}
					if len(res.Errors) > 0 {
						return exitWith(exitFailure)
					}
					return nil
				},
			}.run(cmd, e, g)
		},
	}
	// Declared for the help text only; parseKillArgs reads them.
	cmd.Flags().StringP("signal", "s", "TERM", "the signal to send, a name or a number")
	return cmd
}

// killArgs is a parsed kill command line.
type killArgs struct {
	signal  ipc.Signal
	targets []int64
	addr    string
	help    bool
}

// killUsage is a mistake in the shape of kill's command line (an unknown
// flag, a missing value or target), as opposed to a bad value.
type killUsage struct{ err error }

// Error returns the mistake.
func (e *killUsage) Error() string { return e.err.Error() }

// parseKillArgs parses kill's arguments: -s SIG, -sSIG, --signal[=]SIG,
// -SIG or -N before any target (kill(1)), --addr[=]ADDR, -h/--help, and
// PIDs or -PGIDs, with '--' ending the options.
func parseKillArgs(args []string) (killArgs, error) {
	ka := killArgs{signal: ipc.SIGTERM}
	sigSet := false
	setSignal := func(v string) error {
		if sigSet {
			return &killUsage{errors.New("more than one signal given")}
		}
		if v == "0" {
			// Signal 0 checks that the targets exist, as kill(2).
			ka.signal, sigSet = 0, true
			return nil
		}
		s, err := spec.ParseSignal(v)
		if err != nil {
			return fmt.Errorf("bad signal %q: want a name such as TERM or SIGTERM, or a number from 1 to 31", v)
		}
		ka.signal, sigSet = s, true
		return nil
	}
	value := func(i *int, name string) (string, error) {
		if *i+1 >= len(args) {
			return "", &killUsage{fmt.Errorf("flag needs an argument: %s", name)}
		}
		*i++
		return args[*i], nil
	}
	dashdash := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if dashdash || a == "-" || !strings.HasPrefix(a, "-") {
			t, err := parseTarget(a)
			if err != nil {
				return ka, err
			}
			ka.targets = append(ka.targets, t)
			continue
		}
		var err error
		switch {
		case a == "--":
			dashdash = true
		case a == "-h" || a == "--help":
			ka.help = true
			return ka, nil
		case a == "-s" || a == "--signal":
			var v string
			if v, err = value(&i, a); err == nil {
				err = setSignal(v)
			}
		case strings.HasPrefix(a, "--signal="):
			err = setSignal(strings.TrimPrefix(a, "--signal="))
		case a == "--addr":
			ka.addr, err = value(&i, a)
		case strings.HasPrefix(a, "--addr="):
			ka.addr = strings.TrimPrefix(a, "--addr=")
		case strings.HasPrefix(a, "--"):
			err = &killUsage{fmt.Errorf("unknown flag: %s", a)}
		case len(ka.targets) == 0 && !sigSet:
			// kill(1): -9, -KILL, -SIGKILL; or -sSIG.
			if err = setSignal(a[1:]); err != nil && strings.HasPrefix(a, "-s") && len(a) > 2 {
				err = setSignal(a[2:])
			}
			if err != nil {
				err = fmt.Errorf("bad signal %q (put '--' before a process group: kill -- %s)", a[1:], a)
			}
		case strings.HasPrefix(a, "-s"):
			err = setSignal(a[2:])
		default:
			var t int64
			if t, err = parseTarget(a); err == nil {
				ka.targets = append(ka.targets, t)
			}
		}
		if err != nil {
			return ka, err
		}
	}
	if len(ka.targets) == 0 {
		return ka, &killUsage{errors.New("no process given")}
	}
	return ka, nil
}

// parseTarget parses a PID or a -PGID. Neither 0 (the caller's own group)
// nor -1 (every process) has a meaning here.
func parseTarget(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 || n == -1 {
		return 0, fmt.Errorf("bad PID %q: want a whole number from 1 up", s)
	}
	return n, nil
}

// parsePID parses a PID.
func parsePID(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad PID %q: want a whole number from 1 up", s)
	}
	return n, nil
}

// targetList formats kill targets for a message.
func targetList(ts []int64) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = strconv.FormatInt(t, 10)
	}
	return strings.Join(parts, " ")
}
