package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

func newOperatorCmd(e *env, g *globals) *cobra.Command {
	var output string
	peers := &cobra.Command{
		Use:   "list-peers",
		Short: "List the raft servers, their suffrage and the leader",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[[]api.Peer]{
				name:   "list-peers",
				output: &output,
				call: func(ctx context.Context, c *client.Client) ([]api.Peer, error) {
					list, err := c.Peers(ctx)
					if list.Peers == nil {
						list.Peers = []api.Peer{}
					}
					return list.Peers, err
				},
				print: peersTable,
			}.run(cmd, e, g)
		},
	}
	outputFlag(peers.Flags(), &output)
	return group("operator", "Operate the cluster",
		group("raft", "Inspect the raft cluster", peers),
		newKeyringCmd(e, g),
		newSchedulerCmd(e, g))
}

func peersTable(w io.Writer, ps []api.Peer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tSTATE\tVOTER")
	for _, p := range ps {
		state := "follower"
		if p.Leader {
			state = "leader"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", p.ID, p.Address, state, p.Suffrage != "nonvoter")
	}
	return tw.Flush()
}

func newSnapshotCmd(e *env, g *globals) *cobra.Command {
	save := &cobra.Command{
		Use:   "save FILE|-",
		Short: "Save a snapshot of the process table to FILE, or to standard output with -",
		Args:  exactArgs(1, "one FILE or -"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "-" {
				return action("snapshot save", func(ctx context.Context, c *client.Client) error {
					return c.SnapshotSave(ctx, e.stdout)
				}).run(cmd, e, g)
			}
			return writeFileAtomic(args[0], func(w io.Writer) error {
				return action("snapshot save", func(ctx context.Context, c *client.Client) error {
					return c.SnapshotSave(ctx, w)
				}).run(cmd, e, g)
			})
		},
	}
	restore := &cobra.Command{
		Use:   "restore FILE|-",
		Short: "Replace the process table with a snapshot from FILE, or from standard input with -",
		Args:  exactArgs(1, "one FILE or -"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := e.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("snapshot restore: %w", err)
				}
				defer f.Close()
				r = f
			}
			return action("snapshot restore", func(ctx context.Context, c *client.Client) error {
				return c.SnapshotRestore(ctx, r)
			}).run(cmd, e, g)
		},
	}
	return group("snapshot", "Save or restore the process table", save, restore)
}

// writeFileAtomic writes path through fill: into a temporary file beside
// it, synced and renamed over path only when fill succeeds.
func writeFileAtomic(path string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
