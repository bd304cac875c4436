package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

// newACLCmd is `vproc acl bootstrap|token`.
func newACLCmd(e *env, g *globals) *cobra.Command {
	var (
		output string
		quiet  bool
	)
	bootstrap := &cobra.Command{
		Use:   "bootstrap [-q | -o json]",
		Short: "Create the cluster's first management token (once)",
		Long: `Create the cluster's first management token. It works once, on a cluster whose
agents run with --acl-enabled; the token's secret is shown this once (the
cluster keeps only its hash). Give it to the CLI as ` + client.EnvToken + `;
-q prints only the secret, for scripts:

  vproc acl bootstrap -q > management.token
  export ` + client.EnvToken + `=$(cat management.token)`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkQuiet(cmd, quiet, output); err != nil {
				return err
			}
			return verb[api.ACLToken]{
				name:   "acl bootstrap",
				output: &output,
				call:   func(ctx context.Context, c *client.Client) (api.ACLToken, error) { return c.ACLBootstrap(ctx) },
				print:  tokenPrinter(quiet),
			}.run(cmd, e, g)
		},
	}
	outputFlag(bootstrap.Flags(), &output)
	quietFlag(bootstrap.Flags(), &quiet)
	return group("acl", "Manage ACL tokens", bootstrap, newACLTokenCmd(e, g))
}

// newACLTokenCmd is `vproc acl token create|list|delete|self`.
func newACLTokenCmd(e *env, g *globals) *cobra.Command {
	var (
		output string
		quiet  bool
		req    api.ACLTokenRequest
	)
	create := &cobra.Command{
		Use:   "create --user NAME [--policy management] [--max-procs N] [--max-ipc N] [-q | -o json]",
		Short: "Create a token for a user (management token needed)",
		Long: `Create a token for a user. What the token's requests create belongs to that
user. --policy management makes a management token. --max-procs and --max-ipc
cap the user's live processes and FIFOs, queues and segments (0: no cap). The
secret is shown this once; -q prints only the secret.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.User == "" {
				return usagef(cmd, "--user is required")
			}
			if req.MaxProcs < 0 || req.MaxIPC < 0 {
				return usagef(cmd, "quotas cannot be negative")
			}
			if err := checkQuiet(cmd, quiet, output); err != nil {
				return err
			}
			return verb[api.ACLToken]{
				name:   "acl token create",
				output: &output,
				call:   func(ctx context.Context, c *client.Client) (api.ACLToken, error) { return c.ACLTokenCreate(ctx, req) },
				print:  tokenPrinter(quiet),
			}.run(cmd, e, g)
		},
	}
	create.Flags().StringVar(&req.User, "user", "", "the user the token acts as")
	create.Flags().StringSliceVar(&req.Policies, "policy", nil, "a policy of the token: management")
	create.Flags().StringVar(&req.Description, "description", "", "free text")
	create.Flags().IntVar(&req.MaxProcs, "max-procs", 0, "the most live processes the user may have (0: no cap)")
	create.Flags().IntVar(&req.MaxIPC, "max-ipc", 0, "the most FIFOs, queues and segments the user may hold (0: no cap)")
	outputFlag(create.Flags(), &output)
	quietFlag(create.Flags(), &quiet)

	var listOut string
	list := &cobra.Command{
		Use:   "list [-o json]",
		Short: "List the tokens, without their secrets (management token needed)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[[]api.ACLToken]{
				name:   "acl token list",
				output: &listOut,
				call: func(ctx context.Context, c *client.Client) ([]api.ACLToken, error) {
					l, err := c.ACLTokens(ctx)
					if l.Tokens == nil {
						l.Tokens = []api.ACLToken{}
					}
					return l.Tokens, err
				},
				print: tokensTable,
			}.run(cmd, e, g)
		},
	}
	outputFlag(list.Flags(), &listOut)

	del := &cobra.Command{
		Use:   "delete ACCESSOR",
		Short: "Delete a token (management token needed)",
		Args:  exactArgs(1, "one accessor id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return action("acl token delete", func(ctx context.Context, c *client.Client) error {
				return c.ACLTokenDelete(ctx, args[0])
			}).run(cmd, e, g)
		},
	}

	var selfOut string
	self := &cobra.Command{
		Use:   "self [-o json]",
		Short: "Show the token the CLI presents",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verb[api.ACLToken]{
				name:   "acl token self",
				output: &selfOut,
				call:   func(ctx context.Context, c *client.Client) (api.ACLToken, error) { return c.ACLTokenSelf(ctx) },
				print:  printToken,
			}.run(cmd, e, g)
		},
	}
	outputFlag(self.Flags(), &selfOut)
	return group("token", "Create, list and delete ACL tokens", create, list, del, self)
}

// quietFlag is -q of the verbs that make a token: print only its secret.
func quietFlag(fs *pflag.FlagSet, p *bool) {
	fs.BoolVarP(p, "quiet", "q", false, "print only the token's SecretID, for scripts")
}

// checkQuiet refuses -q with -o json: each says what to print.
func checkQuiet(cmd *cobra.Command, quiet bool, output string) error {
	if quiet && cmd.Flags().Changed("output") {
		return usagef(cmd, "-q and -o %s exclude each other", output)
	}
	return nil
}

// tokenPrinter returns printToken, or with quiet a printer of the secret
// alone on one line.
func tokenPrinter(quiet bool) func(io.Writer, api.ACLToken) error {
	if !quiet {
		return printToken
	}
	return func(w io.Writer, t api.ACLToken) error {
		if t.SecretID == "" {
			return fmt.Errorf("the agent's answer holds no secret")
		}
		_, err := fmt.Fprintln(w, t.SecretID)
		return err
	}
}

func printToken(w io.Writer, t api.ACLToken) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "AccessorID:\t%s\n", t.AccessorID)
	if t.SecretID != "" {
		fmt.Fprintf(tw, "SecretID:\t%s\n", t.SecretID)
	}
	fmt.Fprintf(tw, "User:\t%s\n", t.User)
	fmt.Fprintf(tw, "Policies:\t%s\n", strings.Join(t.Policies, ","))
	if t.Description != "" {
		fmt.Fprintf(tw, "Description:\t%s\n", t.Description)
	}
	fmt.Fprintf(tw, "Quotas:\tprocs %s, ipc %s\n", quota(t.MaxProcs), quota(t.MaxIPC))
	return tw.Flush()
}

func quota(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

func tokensTable(w io.Writer, ts []api.ACLToken) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCESSOR\tUSER\tPOLICIES\tMAX PROCS\tMAX IPC\tDESCRIPTION")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.AccessorID, t.User, strings.Join(t.Policies, ","), quota(t.MaxProcs), quota(t.MaxIPC), t.Description)
	}
	return tw.Flush()
}
