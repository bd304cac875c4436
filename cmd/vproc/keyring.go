package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/cluster/membership"
)

// newKeygenCmd is vproc keygen: a new gossip encryption key for --encrypt.
func newKeygenCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new gossip encryption key for vproc agent --encrypt",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := membership.GenerateKey()
			if err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			fmt.Fprintln(e.stdout, k)
			return nil
		},
	}
}

// newKeyringCmd is vproc operator keyring: the gossip keyring of every
// member. Rotation is install (everywhere), use (everywhere), remove (the
// old key, everywhere).
func newKeyringCmd(e *env, g *globals) *cobra.Command {
	var output string
	keyVerb := func(use, short string, call func(c *client.Client, ctx context.Context, key string) (api.KeyringResponse, error)) *cobra.Command {
		cmd := &cobra.Command{
			Use:   use + " KEY",
			Short: short,
			Args:  exactArgs(1, "one base64 KEY"),
			RunE: func(cmd *cobra.Command, args []string) error {
				if _, err := membership.DecodeKey(args[0]); err != nil {
					return usagef(cmd, "%v", err)
				}
				return keyringVerb(e, g, cmd, "keyring "+use, &output, func(ctx context.Context, c *client.Client) (api.KeyringResponse, error) {
					return call(c, ctx, args[0])
				})
			},
		}
		outputFlag(cmd.Flags(), &output)
		return cmd
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List every member's gossip keys",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return keyringVerb(e, g, cmd, "keyring list", &output, func(ctx context.Context, c *client.Client) (api.KeyringResponse, error) {
				return c.KeyringList(ctx)
			})
		},
	}
	outputFlag(list.Flags(), &output)
	return group("keyring", "Rotate the gossip encryption keys of every member",
		keyVerb("install", "Install a key on every member, for decryption only", (*client.Client).KeyringInstall),
		keyVerb("use", "Make an installed key the primary (encrypting) key on every member", (*client.Client).KeyringUse),
		keyVerb("remove", "Remove a key that is no longer primary from every member", (*client.Client).KeyringRemove),
		list)
}

// keyringVerb runs a keyring call and prints each node's keyring. It fails
// when a node failed.
func keyringVerb(e *env, g *globals, cmd *cobra.Command, name string, output *string,
	call func(ctx context.Context, c *client.Client) (api.KeyringResponse, error)) error {
	var failed []string
	err := verb[api.KeyringResponse]{
		name:   name,
		output: output,
		call: func(ctx context.Context, c *client.Client) (api.KeyringResponse, error) {
			r, err := call(ctx, c)
			for _, n := range r.Nodes {
				if n.Error != "" {
					failed = append(failed, n.Node+": "+n.Error)
				}
			}
			return r, err
		},
		print: keyringTable,
	}.run(cmd, e, g)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s: failed on %d node(s): %s", name, len(failed), strings.Join(failed, "; "))
	}
	return nil
}

func keyringTable(w io.Writer, r api.KeyringResponse) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tKEY\tPRIMARY")
	for _, n := range r.Nodes {
		if n.Error != "" {
			fmt.Fprintf(tw, "%s\terror: %s\t\n", n.Node, n.Error)
			continue
		}
		for _, k := range n.Keys {
			fmt.Fprintf(tw, "%s\t%s\t%t\n", n.Node, k, k == n.Primary)
		}
	}
	return tw.Flush()
}
