package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

func newPsCmd(e *env, g *globals) *cobra.Command {
	var (
		all    bool
		stale  bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "ps [-a] [-o json]",
		Short: "List processes",
		Long: `List the processes of the table. -a adds exited and lost processes.
MICRO and CPU come from the nodes that can be reached.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[[]api.Process]{
				name:   "ps",
				output: &output,
				call: func(ctx context.Context, c *client.Client) ([]api.Process, error) {
					list, err := c.List(ctx, client.ListOpts{All: all, Stale: stale})
					procs := list.Processes
					slices.SortFunc(procs, func(a, b api.Process) int { return cmpUint(a.PID, b.PID) })
					return procs, err
				},
				print: psTable,
				json:  func(procs []api.Process) any { return psJSON(procs) },
			}.run(cmd, e, g)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "add exited and lost processes")
	cmd.Flags().BoolVar(&stale, "stale", false, "read the answering node's own table, which may lag")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// psJSON prepares processes for -o json: an array, never null, whose args
// are arrays too.
func psJSON(procs []api.Process) []api.Process {
	out := make([]api.Process, len(procs))
	for i, p := range procs {
		if p.Args == nil {
			p.Args = []string{}
		}
		out[i] = p
	}
	return out
}

func psTable(w io.Writer, procs []api.Process) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tPPID\tSTATE\tMICRO\tNODE\tPRI\tCPU\tCOMMAND")
	for _, p := range procs {
		// A pending process has no node yet: the column says why.
		where := dash(p.Node)
		if p.Node == "" && p.PendingReason != "" {
			where = "(" + p.PendingReason + ")"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n",
			p.PID, p.PPID, dash(p.State), dash(p.MicroState), where, p.Priority,
			cpuTime(p.CPUMillis), commandLine(p.Command, p.Args))
	}
	return tw.Flush()
}

// cpuTime formats CPU milliseconds.
func cpuTime(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}

// commandLine joins a command and its arguments, quoting those that need
// it.
func commandLine(cmd string, args []string) string {
	parts := make([]string, 0, 1+len(args))
	for _, a := range append([]string{cmd}, args...) {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
