package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

// completeTimeout bounds what a completion asks the agent: a shell waiting
// on Tab must not hang on an agent that does not answer.
const completeTimeout = 2 * time.Second

func newCompletionCmd(e *env) *cobra.Command {
	shells := []struct {
		name, example, install string
		gen                    func(root *cobra.Command, w io.Writer) error
	}{
		{"bash", "source <(vproc completion bash)", `Load it in the current shell (needs the bash-completion package):
  source <(vproc completion bash)
and for every new shell:
  vproc completion bash > /etc/bash_completion.d/vproc`,
			func(root *cobra.Command, w io.Writer) error { return root.GenBashCompletionV2(w, true) }},
		{"zsh", "source <(vproc completion zsh)", `Load it in the current shell:
  source <(vproc completion zsh)
and for every new shell (with compinit on, "autoload -U compinit; compinit"
in ~/.zshrc), into a directory of $fpath:
  vproc completion zsh > "${fpath[1]}/_vproc"`,
			func(root *cobra.Command, w io.Writer) error { return root.GenZshCompletion(w) }},
		{"fish", "vproc completion fish | source", `Load it in the current shell:
  vproc completion fish | source
and for every new shell:
  vproc completion fish > ~/.config/fish/completions/vproc.fish`,
			func(root *cobra.Command, w io.Writer) error { return root.GenFishCompletion(w, true) }},
	}
	var subs []*cobra.Command
	for _, sh := range shells {
		subs = append(subs, &cobra.Command{
			Use:   sh.name,
			Short: "Print the " + sh.name + " completion script",
			Long: `Print the ` + sh.name + ` completion script of vproc. Verbs, flags, PIDs, node
names, queue, FIFO and segment names and program names complete with Tab;
the names come from the agent (--addr or VPROC_ADDR), asked with a short
timeout, and nothing is offered when it does not answer.

` + sh.install,
			Example: "  " + sh.example,
			Args:    exactArgs(0, "no arguments"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return sh.gen(cmd.Root(), e.stdout)
			},
		})
	}
	return group("completion", "Print a shell completion script: bash, zsh or fish", subs...)
}

// completer offers candidates that it asks the agent for.
type completer struct {
	e *env
	g *globals
}

// ask returns the candidates list finds, or none when the agent cannot be
// asked or does not answer within completeTimeout: a completion never
// prints an error into the command line being typed.
func (k completer) ask(cmd *cobra.Command, list func(context.Context, *client.Client) ([]string, error)) ([]cobra.Completion, cobra.ShellCompDirective) {
	const directive = cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	c, err := k.g.client(k.e, func(cfg *client.Config) {
		cfg.Timeout = completeTimeout
		cfg.Retry.Max = 0
	})
	if err != nil {
		return nil, directive
	}
	defer c.Close()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	out, err := list(ctx, c)
	if err != nil {
		return nil, directive
	}
	return out, directive
}

// pids completes the PIDs of live processes (init left out), each with
// its command and state, leaving out those already on the line.
func (k completer) pids(cmd *cobra.Command, typed []string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return k.ask(cmd, func(ctx context.Context, c *client.Client) ([]string, error) {
		list, err := c.List(ctx, client.ListOpts{Stale: true})
		if err != nil {
			return nil, err
		}
		procs := list.Processes
		slices.SortFunc(procs, func(a, b api.Process) int { return cmpUint(a.PID, b.PID) })
		var out []string
		for _, p := range procs {
			pid := strconv.FormatUint(p.PID, 10)
			if p.PID == 1 || slices.Contains(typed, pid) {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(pid, fmt.Sprintf("%s (%s)", commandLine(p.Command, p.Args), p.State)))
		}
		return out, nil
	})
}

// nodes completes node names, each with its status.
func (k completer) nodes(cmd *cobra.Command) ([]cobra.Completion, cobra.ShellCompDirective) {
	return k.ask(cmd, func(ctx context.Context, c *client.Client) ([]string, error) {
		list, err := c.Nodes(ctx, true)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, n := range list.Nodes {
			out = append(out, cobra.CompletionWithDesc(n.Name, n.Status))
		}
		slices.Sort(out)
		return out, nil
	})
}

// ipcNames completes the names of one kind of IPC object (mq, fifo, shm),
// each with the node that holds it.
func (k completer) ipcNames(cmd *cobra.Command, kind string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return k.ask(cmd, func(ctx context.Context, c *client.Client) ([]string, error) {
		list, err := c.IPCList(ctx, kind, client.ReadOpts{Stale: true})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, o := range list.Objects {
			out = append(out, cobra.CompletionWithDesc(o.Name, "on "+dash(o.Node)))
		}
		slices.Sort(out)
		return out, nil
	})
}

// programs completes the names of the user programs.
func (k completer) programs(cmd *cobra.Command) ([]cobra.Completion, cobra.ShellCompDirective) {
	return k.ask(cmd, func(ctx context.Context, c *client.Client) ([]string, error) {
		list, err := c.Programs(ctx)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range list.Programs {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out, nil
	})
}

// signalNames are the signals kill -s offers, the common ones first.
var signalNames = []cobra.Completion{"TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT"}

// registerCompletions gives the verbs of root what their arguments and
// flags complete to: PIDs, node names, IPC names and program names from
// the agent, and the fixed choices of some flags.
func registerCompletions(root *cobra.Command, e *env, g *globals) {
	k := completer{e, g}
	noMore := func(n int, f func(cmd *cobra.Command, args []string) ([]cobra.Completion, cobra.ShellCompDirective)) cobra.CompletionFunc {
		return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if n > 0 && len(args) >= n {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return f(cmd, args)
		}
	}
	pids := func(cmd *cobra.Command, args []string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return k.pids(cmd, args)
	}
	ipc := func(kind string) func(*cobra.Command, []string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return func(cmd *cobra.Command, _ []string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return k.ipcNames(cmd, kind)
		}
	}
	progs := func(cmd *cobra.Command, _ []string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return k.programs(cmd)
	}
	nodes := func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return k.nodes(cmd)
	}
	fixed := func(choices ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(choices, cobra.ShellCompDirectiveNoFileComp)
	}
	args := map[string]cobra.CompletionFunc{
		"vproc wait":         noMore(0, pids),
		"vproc logs":         noMore(1, pids),
		"vproc mq send":      noMore(1, ipc("mq")),
		"vproc mq recv":      noMore(1, ipc("mq")),
		"vproc mq rm":        noMore(1, ipc("mq")),
		"vproc fifo rm":      noMore(1, ipc("fifo")),
		"vproc shm rm":       noMore(1, ipc("shm")),
		"vproc program show": noMore(1, progs),
		"vproc program rm":   noMore(1, progs),
		// kill parses its own flags: its arguments are the raw line.
		"vproc kill": func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if n := len(args); n > 0 && (args[n-1] == "-s" || args[n-1] == "--signal") {
				return signalNames, cobra.ShellCompDirectiveNoFileComp
			}
			if ka, _ := parseKillArgs(args); ka.addr != "" {
				g.addr = ka.addr
			}
			return k.pids(cmd, args)
		},
	}
	flags := map[string]cobra.CompletionFunc{
		"node":     nodes,
		"output":   fixed("table", "json"),
		"stream":   fixed(api.StreamStdout, api.StreamStderr, api.StreamBoth),
		"strategy": fixed("spread", "binpack"),
	}
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if f, ok := args[cmd.CommandPath()]; ok {
			cmd.ValidArgsFunction = f
		}
		for name, f := range flags {
			if cmd.Flags().Lookup(name) != nil {
				// Only fails for a flag already given a function.
				_ = cmd.RegisterFlagCompletionFunc(name, f)
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
