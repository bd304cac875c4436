// Command vproc is vproc's command line: it runs an agent (a node of a
// cluster) and talks to a cluster as a client. See docs/design.md, "Command
// line", for the verbs, flags, output and exit codes.
package main

// The CLI reference in docs/cli is generated from the command tree; a test
// fails when it is out of date.
//go:generate go test -count=1 -run ^TestCLIReference$ . -args -update-cli-docs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vproc/vproc/cluster/client"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], osEnv()))
}

// env is what the commands take from the process they run in. Tests inject
// their own.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// notify relays the given signals to c until the returned stop is
	// called. Nil relays none.
	notify func(c chan<- os.Signal, sig ...os.Signal) (stop func())
}

// osEnv returns the env of the running process.
func osEnv() *env {
	return &env{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		notify: func(c chan<- os.Signal, sig ...os.Signal) func() {
			signal.Notify(c, sig...)
			return func() { signal.Stop(c) }
		},
	}
}

// signalContext returns a context that ends when one of sig arrives.
func (e *env) signalContext(ctx context.Context, sig ...os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if e.notify == nil {
		return ctx, cancel
	}
	ch := make(chan os.Signal, 1)
	stop := e.notify(ch, sig...)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { stop(); cancel() }
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	root := newRootCmd(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return report(e.stderr, cmd, err)
}

// Exit codes of the verbs other than run and wait, and of those two when
// vproc itself fails (docs/design.md, "Command line").
const (
	exitFailure  = 1
	exitInternal = 125
)

// exitError ends the command with code, after printing err (if not nil) as
// one line on stderr.
type exitError struct {
	code int
	err  error
}

// Error returns the message, or the exit status when there is none.
func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// Unwrap returns the error to print.
func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake in the command line: a bad flag, a wrong number of
// arguments. It is reported with the command's usage line.
type usageError struct {
	cmd *cobra.Command
	err error
}

// Error returns the mistake.
func (e *usageError) Error() string { return e.err.Error() }

// Unwrap returns the mistake.
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError for cmd.
func usagef(cmd *cobra.Command, format string, a ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, a...)}
}

// failCode returns the exit code of a failure of cmd: 125 for run and wait,
// whose own codes belong to the process, and 1 for every other verb.
func failCode(cmd *cobra.Command) int {
	if cmd != nil && cmd.Annotations[annotFailCode] == "125" {
		return exitInternal
	}
	return exitFailure
}

// annotFailCode marks the verbs whose failures exit 125.
const annotFailCode = "vproc-fail-code"

// report prints err as one line on stderr and returns the exit code.
func report(stderr io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "vproc: %s\n", oneLine(ue.err.Error()))
		fmt.Fprintf(stderr, "Usage: %s\nRun '%s --help' for more.\n", ue.cmd.UseLine(), ue.cmd.CommandPath())
		return failCode(ue.cmd)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "vproc: %s\n", oneLine(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "vproc: %s\n", oneLine(err.Error()))
	return failCode(cmd)
}

// oneLine folds a message into one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// describe turns an error of the client into the message a user reads.
func describe(err error, addr string) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		reason := "connection failed"
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			reason = se.Err.Error()
		} else if errors.Is(oe.Err, syscall.ECONNREFUSED) {
			reason = "connection refused"
		} else if oe.Err != nil {
			reason = oe.Err.Error()
		}
		return fmt.Sprintf("cannot reach the agent at %s: %s", addr, reason)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out: " + err.Error()
	}
	return err.Error()
}

// globals are the flags every client verb takes.
type globals struct {
	addr string
	tls  clientTLSFlags
}

// client returns a client for the agent the flags or the environment name.
func (g *globals) client(e *env, opts ...func(*client.Config)) (*client.Client, error) {
	cfg := client.DefaultConfig()
	cfg.Addr = g.address(e)
	cfg.Token = e.getenv(client.EnvToken)
	t, err := g.tlsConfig(e)
	if err != nil {
		return nil, err
	}
	cfg.TLS = t
	for _, o := range opts {
		o(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		// The client's errors name the address already.
		return nil, errors.New(trimVerb("client", err.Error()))
	}
	return c, nil
}

// address returns the agent's address: --addr, then VPROC_ADDR, then the
// default.
func (g *globals) address(e *env) string {
	if g.addr != "" {
		return g.addr
	}
	if a := e.getenv(client.EnvAddr); a != "" {
		return a
	}
	return client.DefaultAddr
}

// newRootCmd builds the whole command tree.
func newRootCmd(e *env) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "vproc",
		Short: "vproc runs virtual processes on a cluster as if it were one Unix machine",
		Long: `vproc runs virtual processes on a cluster as if it were one Unix machine.

Run a node with 'vproc agent' (or 'vproc agent --dev' for a single in-memory
node), then use the other verbs against it. Clients find the agent with --addr
or VPROC_ADDR (default ` + client.DefaultAddr + `), and present the ACL
token in VPROC_TOKEN when the agents run with --acl-enabled.`,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return cmd.Help()
		},
		SuggestionsMinimumDistance: 2,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd, err: err}
	})
	root.PersistentFlags().StringVar(&g.addr, "addr", "", "the agent's address (default $"+client.EnvAddr+" or "+client.DefaultAddr+")")
	g.registerTLS(root.PersistentFlags())
	root.AddCommand(
		newAgentCmd(e),
		newSpawnCmd(e, g),
		newRunCmd(e, g),
		newPsCmd(e, g),
		newTopCmd(e, g),
		newKillCmd(e, g),
		newWaitCmd(e, g),
		newLogsCmd(e, g),
		newEventsCmd(e, g),
		newNodesCmd(e, g),
		newHealthCmd(e, g),
		newOperatorCmd(e, g),
		newSnapshotCmd(e, g),
		newBenchCmd(e, g),
		newMQCmd(e, g),
		newFIFOCmd(e, g),
		newShmCmd(e, g),
		newProgramCmd(e, g),
		newVersionCmd(e),
		newACLCmd(e, g),
		newTLSCmd(e),
		newKeygenCmd(e),
		newCompletionCmd(e),
	)
	addExamples(root)
	registerCompletions(root, e, g)
	return root
}

// group returns a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return usagef(cmd, "%s needs a subcommand", cmd.CommandPath())
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

// unknownCommand is the error for a verb that cmd does not have: it says
// so and names the nearest verbs, as git and kubectl do.
func unknownCommand(cmd *cobra.Command, verb string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", verb, cmd.CommandPath())
	if near := cmd.SuggestionsFor(verb); len(near) > 0 {
		for i, n := range near {
			near[i] = strconv.Quote(n)
		}
		msg += "; did you mean " + strings.Join(near, " or ") + "?"
	}
	return usagef(cmd, "%s", msg)
}

// exactArgs checks the number of positional arguments.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef(cmd, "%s takes %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// minArgs checks that there is at least one positional argument.
func minArgs(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef(cmd, "%s needs %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// outputFlag registers -o/--output.
func outputFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVarP(p, "output", "o", "table", "output format: table or json")
}

// checkOutput validates an -o value.
func checkOutput(cmd *cobra.Command, o string) error {
	if o != "table" && o != "json" {
		return usagef(cmd, "bad output format %q (want table or json)", o)
	}
	return nil
}
