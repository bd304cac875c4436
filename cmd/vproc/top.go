package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

func newTopCmd(e *env, g *globals) *cobra.Command {
	var (
		interval   time.Duration
		iterations int
		once       bool
		limit      int
		stale      bool
	)
	cmd := &cobra.Command{
		Use:   "top [-d INTERVAL] [-n N | --once]",
		Short: "Show the nodes and the processes, refreshed until interrupted",
		Long: `Show the cluster's nodes (capacity, what the table assigns them, gossiped
load, status) and its live processes, busiest first (CPU time, then state),
refreshed every INTERVAL until Ctrl-C. -n N stops after N refreshes and
--once after one; on a terminal each refresh redraws the screen.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return usagef(cmd, "bad --interval %v: want a positive duration", interval)
			}
			if iterations < 0 {
				return usagef(cmd, "bad -n %d: want 0 (until interrupted) or more", iterations)
			}
			if limit < 0 {
				return usagef(cmd, "bad --limit %d", limit)
			}
			if once {
				iterations = 1
			}
			c, err := g.client(e)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, stop := e.signalContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			clear := isTerminal(e.stdout)
			for i := 1; ; i++ {
				var buf bytes.Buffer
				if err := topFrame(ctx, c, &buf, stale, limit); err != nil {
					if ctx.Err() != nil {
						return nil // interrupted: a clean exit
					}
					return fmt.Errorf("top: %s", describe(err, g.address(e)))
				}
				if clear {
					io.WriteString(e.stdout, "\x1b[H\x1b[2J")
				} else if i > 1 {
					io.WriteString(e.stdout, "\n")
				}
				e.stdout.Write(buf.Bytes())
				if iterations > 0 && i >= iterations {
					return nil
				}
				t := time.NewTimer(interval)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
		},
	}
	cmd.Flags().DurationVarP(&interval, "interval", "d", 2*time.Second, "time between refreshes")
	cmd.Flags().IntVarP(&iterations, "iterations", "n", 0, "stop after N refreshes (0: until interrupted)")
	cmd.Flags().BoolVar(&once, "once", false, "show one refresh and exit (-n 1)")
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many processes (0: all)")
	cmd.Flags().BoolVar(&stale, "stale", false, "read the answering node's own state, which may lag")
	return cmd
}

// topFrame writes one refresh: a summary line, the nodes and the busiest
// live processes.
func topFrame(ctx context.Context, c *client.Client, w io.Writer, stale bool, limit int) error {
	nodes, err := c.Nodes(ctx, stale)
	if err != nil {
		return err
	}
	list, err := c.List(ctx, client.ListOpts{Stale: stale})
	if err != nil {
		return err
	}
	procs := slices.DeleteFunc(list.Processes, func(p api.Process) bool { return p.PID == 1 })
	states := map[string]int{}
	for _, p := range procs {
		states[p.State]++
	}
	fmt.Fprintf(w, "vproc top - %s - index %d - %d processes: %d running, %d placed, %d pending, %d stopped\n\n",
		time.Now().Format(time.TimeOnly), list.Index, len(procs),
		states["running"], states["placed"], states["pending"], states["stopped"])

	ns := nodes.Nodes
	slices.SortFunc(ns, func(a, b api.Node) int { return strings.Compare(a.Name, b.Name) })
	if err := nodesTable(w, ns); err != nil {
		return err
	}
	fmt.Fprintln(w)

	slices.SortFunc(procs, func(a, b api.Process) int {
		return cmp.Or(cmp.Compare(b.CPUMillis, a.CPUMillis), cmp.Compare(stateRank(a.State), stateRank(b.State)),
			cmp.Compare(b.Priority, a.Priority), cmpUint(a.PID, b.PID))
	})
	shown := procs
	if limit > 0 && len(shown) > limit {
		shown = shown[:limit]
	}
	if err := psTable(w, shown); err != nil {
		return err
	}
	if len(shown) < len(procs) {
		fmt.Fprintf(w, "... and %d more\n", len(procs)-len(shown))
	}
	return nil
}

// stateRank orders states in top: what runs first, what waits last.
func stateRank(s string) int {
	switch s {
	case "running":
		return 0
	case "stopped":
		return 1
	case "placed":
		return 2
	case "pending":
		return 3
	}
	return 4
}

// isTerminal reports whether w is a terminal, where top redraws in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
