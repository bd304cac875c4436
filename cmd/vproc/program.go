package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

func newProgramCmd(e *env, g *globals) *cobra.Command {
	return group("program", "Add, list, show and remove user programs (WebAssembly modules)",
		newProgramAddCmd(e, g), newProgramLsCmd(e, g), newProgramShowCmd(e, g), newProgramRmCmd(e, g))
}

func newProgramAddCmd(e *env, g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "add NAME FILE.wasm",
		Short: "Upload a WASI module as program NAME",
		Long: `Upload a WebAssembly module (wasi_snapshot_preview1) as program NAME.
The answer comes once at least two nodes (all, on a smaller cluster) hold
its bytes; other nodes fetch them by hash when they first run it. A name
that a builtin has is refused; adding a name again replaces its program.
With ACLs on, the program belongs to the user of VPROC_TOKEN, and replacing
or removing it takes that user's token or a management token.`,
		Args: exactArgs(2, "a name and a file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			module, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("program add: %w", err)
			}
			return verb[api.Program]{
				name:   "program add",
				output: &output,
				call: func(ctx context.Context, c *client.Client) (api.Program, error) {
					return c.AddProgram(ctx, args[0], uploadOwner(e), module)
				},
				print: programLine,
			}.run(cmd, e, g)
		},
	}
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// uploadOwner names the owner of an upload: the user who runs the CLI, and
// none with a token, whose user the cluster makes the owner.
func uploadOwner(e *env) string {
	if e.getenv(client.EnvToken) != "" {
		return ""
	}
	return owner(e)
}

func newProgramLsCmd(e *env, g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "ls [-o json]",
		Short: "List the programs",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[[]api.Program]{
				name:   "program ls",
				output: &output,
				call: func(ctx context.Context, c *client.Client) ([]api.Program, error) {
					l, err := c.Programs(ctx)
					if l.Programs == nil {
						l.Programs = []api.Program{}
					}
					return l.Programs, err
				},
				print: programsTable,
			}.run(cmd, e, g)
		},
	}
	outputFlag(cmd.Flags(), &output)
	return cmd
}

func newProgramShowCmd(e *env, g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a program's record",
		Args:  exactArgs(1, "a name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[api.Program]{
				name:   "program show",
				output: &output,
				call: func(ctx context.Context, c *client.Client) (api.Program, error) {
					return c.Program(ctx, args[0])
				},
				print: programDetail,
			}.run(cmd, e, g)
		},
	}
	outputFlag(cmd.Flags(), &output)
	return cmd
}

func newProgramRmCmd(e *env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a program; processes running it go on",
		Args:  exactArgs(1, "a name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action("program rm", func(ctx context.Context, c *client.Client) error {
				return c.RemoveProgram(ctx, args[0])
			}).run(cmd, e, g)
		},
	}
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func programLine(w io.Writer, p api.Program) error {
	_, err := fmt.Fprintf(w, "%s %s %d bytes on %s\n", p.Name, shortHash(p.Hash), p.Size, strings.Join(p.Holders, ","))
	return err
}

func programsTable(w io.Writer, ps []api.Program) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSHA256\tSIZE\tOWNER\tHOLDERS")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", p.Name, shortHash(p.Hash), p.Size, dash(p.Owner), strings.Join(p.Holders, ","))
	}
	return tw.Flush()
}

func programDetail(w io.Writer, p api.Program) error {
	created := "-"
	if p.CreatedAt > 0 {
		created = time.Unix(0, p.CreatedAt).UTC().Format(time.RFC3339)
	}
	_, err := fmt.Fprintf(w, "name:    %s\nsha256:  %s\nsize:    %d\nowner:   %s\nholders: %s\nadded:   %s\n",
		p.Name, p.Hash, p.Size, dash(p.Owner), strings.Join(p.Holders, ","), created)
	return err
}

// wasmProgramName is the program name run --wasm gives a module file: its
// base name without ".wasm".
func wasmProgramName(file string) string {
	return strings.TrimSuffix(filepath.Base(file), ".wasm")
}
