package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/internal/atomicfile"
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
		Long: `Save a snapshot of the process table to FILE, or to standard output with -.
FILE is written beside itself and renamed into place only once the whole
snapshot has arrived. On a terminal, the bytes so far and the rate are shown
on standard error.`,
		Args: exactArgs(1, "one FILE or -"),
		RunE: func(cmd *cobra.Command, args []string) error {
			save := func(w io.Writer) error {
				cw := &countingWriter{w: w}
				return transfer(e, "saving", "saved", &cw.n, func() error {
					return action("snapshot save", func(ctx context.Context, c *client.Client) error {
						return c.SnapshotSave(ctx, cw)
					}).run(cmd, e, g)
				})
			}
			if args[0] == "-" {
				return save(e.stdout)
			}
			return atomicfile.Write(args[0], save)
		},
	}
	restore := &cobra.Command{
		Use:   "restore FILE|-",
		Short: "Replace the process table with a snapshot from FILE, or from standard input with -",
		Long: `Replace the process table with a snapshot from FILE, or from standard input
with -. On a terminal, the bytes sent so far and the rate are shown on
standard error.`,
		Args: exactArgs(1, "one FILE or -"),
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
			cr := &countingReader{r: r}
			return transfer(e, "restoring", "restored", &cr.n, func() error {
				return action("snapshot restore", func(ctx context.Context, c *client.Client) error {
					return c.SnapshotRestore(ctx, cr)
				}).run(cmd, e, g)
			})
		},
	}
	return group("snapshot", "Save or restore the process table", save, restore)
}

// transfer runs move, which streams a snapshot, and on a terminal shows
// the bytes moved so far (n) and the rate, then the total once it is done.
func transfer(e *env, doing, done string, n *atomic.Int64, move func() error) error {
	prog := newProgress(e.stderr)
	start := time.Now()
	stop := prog.every(func() {
		prog.show("snapshot: %s %s (%s)", doing, byteSize(n.Load()), rate(n.Load(), time.Since(start)))
	})
	err := move()
	stop()
	if err != nil {
		prog.clear()
		return err
	}
	took := time.Since(start)
	prog.finish("snapshot %s: %s in %s (%s)", done, byteSize(n.Load()), took.Round(time.Millisecond), rate(n.Load(), took))
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
