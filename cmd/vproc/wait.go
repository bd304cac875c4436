package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

func newWaitCmd(e *env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait PID...",
		Short: "Wait for processes to exit, print their status and exit with the last one's code",
		Long: `Wait for each process to exit and print its status. wait never reaps: every
wait on a PID sees the same status. It exits with the last PID's code: its own
code (0-255), 128+N for a death by signal N, 127 for an unknown program, and
125 when vproc itself failed or the process was lost.`,
		Args:        minArgs("at least one PID"),
		Annotations: map[string]string{annotFailCode: "125"},
		RunE: func(cmd *cobra.Command, args []string) error {
			pids := make([]uint64, len(args))
			for i, a := range args {
				pid, err := parsePID(a)
				if err != nil {
					return &exitError{exitInternal, err}
				}
				pids[i] = pid
			}
			c, err := g.client(e)
			if err != nil {
				return &exitError{exitInternal, err}
			}
			defer c.Close()
			code := 0
			for _, pid := range pids {
				p, err := c.Wait(cmd.Context(), pid)
				if err != nil {
					if errors.Is(err, client.ErrNotFound) {
						err = fmt.Errorf("no such process: %d", pid)
					} else {
						err = fmt.Errorf("wait %d: %s", pid, describe(err, g.address(e)))
					}
					fmt.Fprintf(e.stderr, "vproc: %s\n", oneLine(err.Error()))
					code = exitInternal
					continue
				}
				fmt.Fprintln(e.stdout, statusLine(p))
				var reason string
				if code, reason = exitCode(p); reason != "" {
					fmt.Fprintf(e.stderr, "vproc: %s\n", oneLine(reason))
				}
			}
			return exitWith(code)
		},
	}
}

// exitWith ends a command with code and nothing more to print.
func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	return &exitError{code: code}
}

func newLogsCmd(e *env, g *globals) *cobra.Command {
	var follow, stamps bool
	var stream, since string
	cmd := &cobra.Command{
		Use:   "logs [-f] [--stream stdout|stderr|both] [--since WHEN] [--timestamps] PID",
		Short: "Print the output of a process (its stderr on stderr)",
		Args:  exactArgs(1, "one PID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := parsePID(args[0])
			if err != nil {
				return err
			}
			if err := checkStream(stream); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			sinceT, err := parseSince(since, time.Now())
			if err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			o := &logOutput{out: e.stdout, errOut: e.stderr, since: sinceT, stamps: stamps}
			c, err := g.client(e)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			var off int64
			for {
				next, opened, err := copyLogChunks(ctx, c, pid, follow, off, stream, o)
				var oe *outputError
				switch {
				case !opened && errors.Is(err, client.ErrNotFound):
					return fmt.Errorf("no such process: %d", pid)
				case !opened:
					return fmt.Errorf("logs %d: %s", pid, describe(err, g.address(e)))
				case errors.As(err, &oe):
					return err
				}
				off = next
				if err == nil || !follow || ctx.Err() != nil {
					return err
				}
				// The stream broke while following: resume where it
				// stopped.
				t := time.NewTimer(200 * time.Millisecond)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output until the process exits")
	cmd.Flags().StringVar(&stream, "stream", api.StreamBoth, "which output: stdout, stderr or both")
	cmd.Flags().StringVar(&since, "since", "", "only output written since then: a duration before now (10m) or an RFC 3339 time")
	cmd.Flags().BoolVarP(&stamps, "timestamps", "t", false, "start each line with the time it was written")
	return cmd
}
