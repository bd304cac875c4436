package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/sched"
)

// newSchedulerCmd is `vproc operator scheduler get-config|set-config`.
func newSchedulerCmd(e *env, g *globals) *cobra.Command {
	var (
		output string
		stale  bool
	)
	get := &cobra.Command{
		Use:   "get-config [-o json]",
		Short: "Show the cluster-wide scheduler configuration",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[api.SchedulerConfig]{
				name:   "scheduler get-config",
				output: &output,
				call: func(ctx context.Context, c *client.Client) (api.SchedulerConfig, error) {
					return c.SchedulerConfig(ctx, stale)
				},
				print: printSchedulerConfig,
			}.run(cmd, e, g)
		},
	}
	get.Flags().BoolVar(&stale, "stale", false, "read the answering node's own state, which may lag")
	outputFlag(get.Flags(), &output)

	var strategy string
	set := &cobra.Command{
		Use:   "set-config --strategy spread|binpack",
		Short: "Set the cluster-wide placement strategy",
		Long: `Set the cluster-wide placement strategy, stored in the replicated table.
spread (the default) puts each process on the least utilised node that fits;
binpack fills the fullest node that still fits, so that whole nodes stay free.
The change applies to every placement decided after it commits.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			if !cmd.Flags().Changed("strategy") {
				return fmt.Errorf("set-config: --strategy is required (spread or binpack)")
			}
			s, err := sched.ParseStrategy(strategy)
			if err != nil || strategy == "" {
				return fmt.Errorf("set-config: bad --strategy %q (want spread or binpack)", strategy)
			}
			return verb[api.SchedulerConfig]{
				name:   "scheduler set-config",
				output: &output,
				call: func(ctx context.Context, c *client.Client) (api.SchedulerConfig, error) {
					return c.SetSchedulerConfig(ctx, api.SchedulerConfigRequest{Strategy: string(s)})
				},
				print: printSchedulerConfig,
			}.run(cmd, e, g)
		},
	}
	set.Flags().StringVar(&strategy, "strategy", "", "placement strategy: spread or binpack")
	outputFlag(set.Flags(), &output)
	return group("scheduler", "Inspect or change the cluster scheduler's configuration", get, set)
}

func printSchedulerConfig(w io.Writer, cfg api.SchedulerConfig) error {
	_, err := fmt.Fprintf(w, "strategy: %s\n", cfg.Strategy)
	return err
}
