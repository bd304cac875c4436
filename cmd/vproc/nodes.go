package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/spec"
)

func newNodesCmd(e *env, g *globals) *cobra.Command {
	var (
		stale  bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "nodes [-o json]",
		Short: "List the nodes of the cluster with their capacity, load and status",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[[]api.Node]{
				name:   "nodes",
				output: &output,
				call: func(ctx context.Context, c *client.Client) ([]api.Node, error) {
					list, err := c.Nodes(ctx, stale)
					nodes := list.Nodes
					if nodes == nil {
						nodes = []api.Node{}
					}
					slices.SortFunc(nodes, func(a, b api.Node) int { return strings.Compare(a.Name, b.Name) })
					return nodes, err
				},
				print: nodesTable,
			}.run(cmd, e, g)
		},
	}
	cmd.Flags().BoolVar(&stale, "stale", false, "read the answering node's own state, which may lag")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

func nodesTable(w io.Writer, nodes []api.Node) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tROLE\tADDRESS\tSLOTS\tMEMORY\tASSIGNED\tBUSY\tQUEUE\tPROCS\tLABELS")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n",
			dash(n.Name), dash(n.Status), role(n), dash(n.HTTPAddr), n.Slots, memory(n.Memory),
			assigned(n), n.Load.BusySlots, n.Load.RunQueue, n.Load.Procs, labels(n.Labels))
	}
	return tw.Flush()
}

// assigned shows what the table assigns to a node against its capacity:
// "3/128", with the memory when processes declare some ("3/128 64M").
func assigned(n api.Node) string {
	s := strconv.Itoa(n.Assigned)
	if n.Capacity > 0 {
		s += "/" + strconv.Itoa(n.Capacity)
	}
	if n.AssignedMemory > 0 {
		s += " " + memory(n.AssignedMemory)
	}
	return s
}

func role(n api.Node) string {
	switch {
	case n.Leader:
		return "leader"
	case n.Voter:
		return "voter"
	}
	return "nonvoter"
}

// memory formats a byte count with a binary suffix (spec.FormatSize); 0 is
// unlimited.
func memory(b int64) string {
	if b <= 0 {
		return "-"
	}
	return spec.FormatSize(uint64(b))
}

func labels(l map[string]string) string {
	if len(l) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

func newHealthCmd(e *env, g *globals) *cobra.Command {
	var (
		agentOnly bool
		output    string
	)
	cmd := &cobra.Command{
		Use:   "health [--agent-only] [-o json]",
		Short: "Exit 0 when the agent answers and the cluster has a leader, 1 otherwise",
		Long: `Exit 0 when the agent answers and the cluster has a leader, 1 otherwise.

With --agent-only, exit 0 whenever the agent answers, leader or not: a
liveness probe that restarted agents for want of a leader would not bring
the leader back. With -o json the agent's answer is printed as it is, and
the exit code is the same.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[api.Health]{
				name:   "health",
				output: &output,
				call:   func(ctx context.Context, c *client.Client) (api.Health, error) { return c.Health(ctx) },
				print: func(w io.Writer, h api.Health) error {
					line, err := healthVerdict(h, agentOnly)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintln(w, line)
					return err
				},
				status: func(h api.Health) error {
					_, err := healthVerdict(h, agentOnly)
					return err
				},
			}.run(cmd, e, g)
		},
	}
	cmd.Flags().BoolVar(&agentOnly, "agent-only", false, "exit 0 when the agent answers, whether or not the cluster has a leader (for liveness probes)")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// healthVerdict returns the line health prints for h, or the error it
// exits 1 with.
func healthVerdict(h api.Health, agentOnly bool) (string, error) {
	switch {
	case h.Disk != "" && !agentOnly:
		return "", fmt.Errorf("%s (asked %s)", h.Disk, dash(h.Node))
	case !h.OK && agentOnly:
		return fmt.Sprintf("ok: the agent answers, no leader (asked %s)", dash(h.Node)), nil
	case !h.OK:
		return "", fmt.Errorf("no leader (asked %s)", dash(h.Node))
	}
	return fmt.Sprintf("ok: leader %s (asked %s)", dash(h.Leader), dash(h.Node)), nil
}
