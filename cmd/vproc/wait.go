package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

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
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs [-f] PID",
		Short: "Print the output of a process",
		Args:  exactArgs(1, "one PID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := parsePID(args[0])
			if err != nil {
				return err
			}
			c, err := g.client(e)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			var off int64
			for {
				rc, err := c.Logs(ctx, pid, follow, off)
				if err != nil {
					if errors.Is(err, client.ErrNotFound) {
						return fmt.Errorf("no such process: %d", pid)
					}
					return fmt.Errorf("logs %d: %s", pid, describe(err, g.address(e)))
				}
				n, err := io.Copy(e.stdout, rc)
				rc.Close()
				off = logStart(rc, off) + n
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
	return cmd
}
