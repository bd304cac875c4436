package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

func newWaitCmd(e *env, g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "wait [-o json] PID...",
		Short: "Wait for processes to exit, print their status and exit with the last one's code",
		Long: `Wait for each process to exit and print its status. wait never reaps: every
wait on a PID sees the same status. It exits with the last PID's code: its own
code (0-255), 128+N for a death by signal N, 127 for an unknown program, and
125 when vproc itself failed or the process was lost.

The PIDs are waited for together and their statuses printed in the order
given. On a terminal, wait on several PIDs shows how many have exited so far.
With -o json it prints one JSON array of the processes, as ps -o json does.`,
		Args:        minArgs("at least one PID"),
		Annotations: map[string]string{annotFailCode: "125"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return &exitError{exitInternal, err}
			}
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
			return waitAll(cmd.Context(), e, g, c, pids, output == "json")
		},
	}
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// waitParallel is how many waits wait keeps open at once.
const waitParallel = 32

// waitAll waits for pids together and prints each status, in the order of
// pids, as soon as it and those before it are known; with asJSON it prints
// one array at the end. On a terminal, several PIDs show how many are done.
func waitAll(ctx context.Context, e *env, g *globals, c *client.Client, pids []uint64, asJSON bool) error {
	type answer struct {
		p   api.Process
		err error
	}
	answers := make([]answer, len(pids))
	done := make(chan int, len(pids))
	slots := make(chan struct{}, waitParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		// The waits start in order, waitParallel at a time; each
		// frees its slot when it ends.
		for i, pid := range pids {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-slots }()
				p, err := c.Wait(ctx, pid)
				answers[i] = answer{p, err}
				done <- i
			})
		}
	})

	prog := newProgress(e.stderr)
	if len(pids) < 2 {
		prog = newProgress(nil)
	}
	var (
		ready  = make([]bool, len(pids))
		next   int // the first status not printed yet
		code   int
		procs  = []api.Process{}
		nDone  int
		failed = func(pid uint64, err error) {
			if errors.Is(err, client.ErrNotFound) {
				err = fmt.Errorf("no such process: %d", pid)
			} else {
				err = verbError(fmt.Sprintf("wait %d", pid), err, g.address(e))
			}
			fmt.Fprintf(e.stderr, "vproc: %s\n", oneLine(err.Error()))
			code = exitInternal
		}
	)
	prog.show("waiting: 0 of %d exited", len(pids))
	for nDone < len(pids) {
		var i int
		select {
		case i = <-done:
		case <-ctx.Done():
			prog.clear()
			return &exitError{exitInternal, ctx.Err()}
		}
		nDone++
		ready[i] = true
		prog.clear()
		for ; next < len(pids) && ready[next]; next++ {
			a := answers[next]
			if a.err != nil {
				failed(pids[next], a.err)
				continue
			}
			var reason string
			code, reason = exitCode(a.p)
			if asJSON {
				procs = append(procs, a.p)
			} else {
				fmt.Fprintln(e.stdout, statusLine(a.p))
			}
			if reason != "" {
				fmt.Fprintf(e.stderr, "vproc: %s\n", oneLine(reason))
			}
		}
		if nDone < len(pids) {
			prog.show("waiting: %d of %d exited", nDone, len(pids))
		}
	}
	if asJSON {
		if err := writeJSON(e.stdout, psJSON(procs)); err != nil {
			return &exitError{exitInternal, err}
		}
	}
	return exitWith(code)
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
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [-f] [--tail N] [--stream stdout|stderr|both] [--since WHEN] [--timestamps] PID",
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
			if tail < -1 {
				return &usageError{cmd: cmd, err: fmt.Errorf("--tail %d: want a number of lines, or -1 for all", tail)}
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
			// With --tail, the log so far is read first and its last
			// lines written; -f then follows from where it ended.
			tailing := tail >= 0
			for {
				var held []api.LogChunk
				if tailing {
					o.held = &held
				}
				next, opened, err := copyLogChunks(ctx, c, pid, follow && !tailing, off, stream, o)
				if tailing {
					o.held = nil
					for _, ch := range tailChunks(held, tail) {
						if werr := o.write(ch); werr != nil && err == nil {
							err = &outputError{werr}
						}
					}
				}
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
				if tailing && err == nil && follow {
					tailing = false
					continue
				}
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
	cmd.Flags().IntVarP(&tail, "tail", "n", -1, "only the last N lines of what was written so far (over both streams; -1: all), then follow with -f")
	return cmd
}
