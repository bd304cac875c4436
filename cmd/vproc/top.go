package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
		output     string
	)
	cmd := &cobra.Command{
		Use:   "top [-d INTERVAL] [-n N | --once] [-o json]",
		Short: "Show the nodes and the processes, refreshed until interrupted",
		Long: `Show the cluster's nodes (capacity, what the table assigns them, gossiped
load, status) and its live processes, busiest first (CPU time, then state),
refreshed every INTERVAL until Ctrl-C. -n N stops after N refreshes and
--once after one; on a terminal each refresh redraws the screen, and
elsewhere (a pipe, a file) the refreshes follow one another. With -o json
each refresh is one JSON object on a line of its own: the time, the table's
index, the nodes, the processes shown and how many more there are.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			if interval <= 0 {
				return usagef(cmd, "bad --interval %v: want a positive duration", interval)
			}
			if iterations < 0 {
				return usagef(cmd, "bad -n %d: want 0 (until interrupted) or more", iterations)
			}
			if limit < 0 {
				return usagef(cmd, "bad --limit %d: want 0 (all) or more", limit)
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
			asJSON := output == "json"
			clear := isTerminal(e.stdout) && !asJSON
			for i := 1; ; i++ {
				var buf bytes.Buffer
				snap, err := topRead(ctx, c, stale, limit)
				if err != nil {
					if ctx.Err() != nil {
						return nil // interrupted: a clean exit
					}
					return verbError("top", err, g.address(e))
				}
				if asJSON {
					b, err := json.Marshal(snap)
					if err != nil {
						return err
					}
					buf.Write(append(b, '\n'))
				} else if err := topFrame(&buf, snap); err != nil {
					return err
				}
				if clear {
					io.WriteString(e.stdout, "\x1b[H\x1b[2J")
				} else if i > 1 && !asJSON {
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
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// topSnapshot is one refresh of top, and what -o json prints of it.
type topSnapshot struct {
	Time      time.Time      `json:"time"`
	Index     uint64         `json:"index"`
	States    map[string]int `json:"states"` // live processes by state, init left out
	Nodes     []api.Node     `json:"nodes"`
	Processes []api.Process  `json:"processes"` // the busiest, at most --limit
	More      int            `json:"more"`      // live processes not shown
}

// topRead reads one refresh: the nodes and the busiest live processes.
func topRead(ctx context.Context, c *client.Client, stale bool, limit int) (topSnapshot, error) {
	nodes, err := c.Nodes(ctx, stale)
	if err != nil {
		return topSnapshot{}, err
	}
	list, err := c.List(ctx, client.ListOpts{Stale: stale})
	if err != nil {
		return topSnapshot{}, err
	}
	procs := slices.DeleteFunc(list.Processes, func(p api.Process) bool { return p.PID == 1 })
	snap := topSnapshot{Time: time.Now(), Index: list.Index, States: map[string]int{}, Nodes: nodes.Nodes}
	if snap.Nodes == nil {
		snap.Nodes = []api.Node{}
	}
	for _, p := range procs {
		snap.States[p.State]++
	}
	slices.SortFunc(snap.Nodes, func(a, b api.Node) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(procs, func(a, b api.Process) int {
		return cmp.Or(cmp.Compare(b.CPUMillis, a.CPUMillis), cmp.Compare(stateRank(a.State), stateRank(b.State)),
			cmp.Compare(b.Priority, a.Priority), cmpUint(a.PID, b.PID))
	})
	shown := procs
	if limit > 0 && len(shown) > limit {
		shown = shown[:limit]
	}
	snap.Processes = psJSON(shown)
	snap.More = len(procs) - len(shown)
	return snap, nil
}

// topFrame writes one refresh for people: a summary line, the nodes and
// the busiest live processes.
func topFrame(w io.Writer, snap topSnapshot) error {
	live := len(snap.Processes) + snap.More
	fmt.Fprintf(w, "vproc top - %s - index %d - %d processes: %d running, %d placed, %d pending, %d stopped\n\n",
		snap.Time.Format(time.TimeOnly), snap.Index, live,
		snap.States["running"], snap.States["placed"], snap.States["pending"], snap.States["stopped"])
	if err := nodesTable(w, snap.Nodes); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := psTable(w, snap.Processes); err != nil {
		return err
	}
	if snap.More > 0 {
		fmt.Fprintf(w, "... and %d more\n", snap.More)
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
