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
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			c, err := g.client(e)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := psPages(cmd.Context(), c, client.ListOpts{All: all, Stale: stale}, e.stdout, output == "json"); err != nil {
				return fmt.Errorf("ps: %s", describe(err, g.address(e)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "add exited and lost processes")
	cmd.Flags().BoolVar(&stale, "stale", false, "read the answering node's own table, which may lag")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// psPage is how many processes ps asks for at once: it prints each page
// as it arrives, so that a large table starts at once.
const psPage = 2000

// psPages lists the processes page by page, in PID order, and prints each
// page as it arrives: a table whose columns are sized per page, or one
// JSON array written element by element.
func psPages(ctx context.Context, c *client.Client, opts client.ListOpts, w io.Writer, asJSON bool) error {
	opts.Limit = psPage
	first := true
	for {
		list, err := c.List(ctx, opts)
		if err != nil {
			if !first && asJSON {
				fmt.Fprintln(w, "\n]")
			}
			return err
		}
		procs := list.Processes
		slices.SortFunc(procs, func(a, b api.Process) int { return cmpUint(a.PID, b.PID) })
		if asJSON {
			for _, p := range psJSON(procs) {
				b, err := json.MarshalIndent(p, "  ", "  ")
				if err != nil {
					return err
				}
				sep := ",\n  "
				if first {
					sep = "[\n  "
				}
				first = false
				if _, err := fmt.Fprintf(w, "%s%s", sep, b); err != nil {
					return err
				}
			}
		} else {
			if err := psRows(w, procs, first); err != nil {
				return err
			}
			first = false
		}
		if list.Next == 0 || len(procs) == 0 {
			break
		}
		opts.After = list.Next
	}
	if asJSON {
		if first {
			_, err := fmt.Fprintln(w, "[]")
			return err
		}
		_, err := fmt.Fprintln(w, "\n]")
		return err
	}
	return nil
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

func psTable(w io.Writer, procs []api.Process) error { return psRows(w, procs, true) }

// psRows writes procs as table rows, after the header when header is set.
func psRows(w io.Writer, procs []api.Process, header bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "PID\tPPID\tSTATE\tMICRO\tNODE\tPRI\tCPU\tCOMMAND")
	}
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
