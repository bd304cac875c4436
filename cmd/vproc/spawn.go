package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
	"github.com/vproc/vproc/spec"
)

// spawnFlags are the flags that spawn and run share.
type spawnFlags struct {
	priority    int
	limits      []string
	restart     string
	node        string
	constraints []string
	uses        []string
	env         []string
	cwd         string
	pledge      string
	unveil      []string
	// fs is the flag set the flags are registered in, to tell an
	// explicit --priority 0 from no --priority.
	fs *pflag.FlagSet
}

func (f *spawnFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.IntVar(&f.priority, "priority", 0, "priority from 1 to 100 (default 50)")
	fs.StringArrayVar(&f.limits, "limit", nil, "resource limits, such as cpu=2s:5s,wall=1m,nofile=64,nproc=16,mem=64M,fsize=1M (repeatable)")
	fs.StringVar(&f.restart, "restart", "", "restart policy: never, always or on-failure[:max[:backoff]]")
	fs.StringVar(&f.node, "node", "", "run only on this node")
	fs.StringArrayVar(&f.constraints, "constraint", nil, "run only on nodes whose label matches, as label=value (repeatable)")
	fs.StringArrayVar(&f.uses, "uses", nil, "IPC objects the process uses, placement follows them: mq:/q,fifo:/run/f,shm:/s (repeatable)")
	fs.StringArrayVar(&f.env, "env", nil, "an environment variable, as K=V (repeatable)")
	fs.StringVar(&f.cwd, "cwd", "", "the working directory, in the cluster's namespace")
	fs.StringVar(&f.pledge, "pledge", "", `the process's pledge promises, such as "stdio rpath" (from stdio rpath wpath cpath proc exec signal ipc unveil; default all)`)
	fs.StringArrayVar(&f.unveil, "unveil", nil, "make a path visible to the process, as PATH:PERMS with PERMS from rwxc; everything else is hidden (repeatable)")
	fs.SetInterspersed(false) // flags after CMD belong to CMD
}

// request checks the flags and builds the spawn request for args (CMD and
// its arguments).
func (f *spawnFlags) request(args []string, e *env) (api.SpawnRequest, error) {
	if args[0] == "" {
		return api.SpawnRequest{}, errors.New(`empty command: want a program name, such as "sleep"`)
	}
	req := api.SpawnRequest{
		Command: args[0],
		Args:    args[1:],
		Cwd:     f.cwd,
		Node:    f.node,
		Owner:   owner(e),
	}
	if e.getenv(client.EnvToken) != "" {
		req.Owner = "" // with ACLs the owner is the token's user
	}
	if f.pledge != "" {
		p, err := security.ParsePromises(f.pledge)
		if err != nil {
			return req, fmt.Errorf("bad --pledge %q: %v", f.pledge, err)
		}
		req.Pledge = p.String()
	}
	for _, u := range f.unveil {
		pu, err := security.ParseUnveil(u)
		if err != nil {
			return req, fmt.Errorf("bad --unveil %q (want PATH:PERMS, PERMS from rwxc)", u)
		}
		req.Unveil = append(req.Unveil, pu.Path+":"+pu.Perms)
	}
	set := f.priority != 0 || (f.fs != nil && f.fs.Changed("priority"))
	if set && (f.priority < 1 || f.priority > 100) {
		return req, fmt.Errorf("bad priority %d (want 1 to 100; leave --priority out for the default, 50)", f.priority)
	}
	req.Priority = f.priority
	// Each flag is checked with the spawn grammar and sent in its
	// canonical form; the agent parses it with the same grammar.
	limits, err := limitFlags(f.limits)
	if err != nil {
		return req, err
	}
	req.Limits = limits
	if f.restart != "" {
		r, err := restartFlag(f.restart)
		if err != nil {
			return req, err
		}
		req.Restart = r.String()
	}
	for _, c := range f.constraints {
		con, err := spec.ParseConstraint(c)
		if err != nil {
			return req, reword("invalid constraint", err)
		}
		req.Constraints = append(req.Constraints, con.String())
	}
	uses, err := spec.ParseUses(f.uses...)
	if err != nil {
		return req, reword("invalid --uses entry", err)
	}
	for _, use := range uses {
		req.Uses = append(req.Uses, use.String())
	}
	for _, kv := range f.env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(k, 0) {
			return req, fmt.Errorf("bad --env %q (want K=V)", kv)
		}
		req.Env = append(req.Env, kv)
	}
	return req, nil
}

// limitFlags checks the --limit flags and returns each in canonical form,
// leaving out those that say nothing. The agent applies them in order, as
// spec.ParseLimits does, so a flag that sets a resource back to unlimited
// after an earlier flag limited it keeps "name=unlimited".
func limitFlags(flags []string) ([]string, error) {
	var out []string
	var sofar spec.Limits
	for _, fl := range flags {
		lim, err := spec.ParseLimits(fl)
		if err != nil {
			return nil, err
		}
		merged, err := spec.ParseLimits(sofar.String(), fl)
		if err != nil {
			return nil, err
		}
		var items []string
		if c := lim.String(); c != "" {
			items = append(items, c)
		}
		for r := range spec.Resource(spec.NumResources) {
			if merged.Get(r) == (spec.Limit{}) && sofar.Get(r) != (spec.Limit{}) {
				items = append(items, r.String()+"=unlimited")
			}
		}
		if len(items) > 0 {
			out = append(out, strings.Join(items, ","))
		}
		sofar = merged
	}
	return out, nil
}

// restartFlag parses --restart: never, always or on-failure[:max[:backoff]]
// (always takes the same optional fields), in any case. The flag, when
// given, must name a policy.
func restartFlag(s string) (spec.Restart, error) {
	r, err := spec.ParseRestart(s)
	if err == nil && r.Policy == "" {
		err = &spec.SyntaxError{Err: spec.ErrBadRestart, Input: s, Reason: "want never, always or on-failure[:max[:backoff]]"}
	}
	return r, err
}

// checkRestart checks a --restart value.
func checkRestart(s string) error {
	_, err := restartFlag(s)
	return err
}

// reword gives a syntax error of the spawn grammar the words the command
// line uses for that flag, keeping the item and the reason.
func reword(what string, err error) error {
	var se *spec.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s %q: %s", what, se.Input, se.Reason)
	}
	return err
}

// owner names the user who spawns.
func owner(e *env) string {
	if u := e.getenv("USER"); u != "" {
		return u
	}
	return e.getenv("LOGNAME")
}

func newSpawnCmd(e *env, g *globals) *cobra.Command {
	var f spawnFlags
	cmd := &cobra.Command{
		Use:   "spawn [flags] -- CMD [ARGS]",
		Short: "Start a process and print its PID",
		Args:  minArgs("a command"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.request(args, e)
			if err != nil {
				return err
			}
			return verb[api.SpawnResponse]{
				name: "spawn",
				call: func(ctx context.Context, c *client.Client) (api.SpawnResponse, error) {
					return c.Spawn(ctx, req)
				},
				explain: func(err error) error { return spawnErr(g, e, req, err) },
				print: func(w io.Writer, res api.SpawnResponse) error {
					_, err := fmt.Fprintln(w, res.PID)
					return err
				},
			}.run(cmd, e, g)
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// spawnErr explains a failed spawn.
func spawnErr(g *globals, e *env, req api.SpawnRequest, err error) error {
	switch {
	case errors.Is(err, client.ErrUnknownProgram):
		return fmt.Errorf("unknown program: %s", req.Command)
	case errors.Is(err, client.ErrUnknownOutcome):
		return fmt.Errorf("spawn: the outcome is unknown (the process may have started): %s", trimVerb("spawn", describe(err, g.address(e))))
	}
	return verbError("spawn", err, g.address(e))
}

func newRunCmd(e *env, g *globals) *cobra.Command {
	var (
		f           spawnFlags
		interactive bool
		wasmFile    string
	)
	cmd := &cobra.Command{
		Use:   "run [-i] [flags] -- CMD [ARGS] | run --wasm FILE.wasm [flags] -- [ARGS]",
		Short: "Start a process, stream its output, wait and exit with its code",
		Long: `Start a process, stream its output, wait for it and exit with its code:
its own code (0-255), 128+N for a death by signal N, 127 for an unknown
program, and 125 when vproc itself failed or the process was lost.
SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to the process.
With --wasm, the module is first uploaded as the program named after the
file (without ".wasm"), and the arguments are the program's.`,
		Args:        cobra.ArbitraryArgs,
		Annotations: map[string]string{annotFailCode: "125"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if wasmFile == "" && len(args) == 0 {
				return usagef(cmd, "%s needs a command", cmd.CommandPath())
			}
			if wasmFile != "" {
				if err := uploadForRun(cmd.Context(), e, g, wasmFile); err != nil {
					return &exitError{exitInternal, err}
				}
				args = append([]string{wasmProgramName(wasmFile)}, args...)
			}
			req, err := f.request(args, e)
			if err != nil {
				return &exitError{exitInternal, err}
			}
			req.Stdin = interactive
			c, err := g.client(e)
			if err != nil {
				return &exitError{exitInternal, err}
			}
			defer c.Close()
			return runProcess(cmd.Context(), e, g, c, req)
		},
	}
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach standard input")
	cmd.Flags().StringVar(&wasmFile, "wasm", "", "upload this WASI module and run it")
	f.register(cmd.Flags())
	return cmd
}

// uploadForRun uploads a module for run --wasm.
func uploadForRun(ctx context.Context, e *env, g *globals, file string) error {
	module, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("run --wasm: %w", err)
	}
	c, err := g.client(e)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.AddProgram(ctx, wasmProgramName(file), uploadOwner(e), module); err != nil {
		return fmt.Errorf("run --wasm: %s", describe(err, g.address(e)))
	}
	return nil
}

// logsGrace is how long run waits for the end of the output once the
// process has exited.
const logsGrace = 5 * time.Second

// runProcess is the body of run.
func runProcess(ctx context.Context, e *env, g *globals, c *client.Client, req api.SpawnRequest) error {
	res, err := c.Spawn(ctx, req)
	if err != nil {
		if errors.Is(err, client.ErrUnknownProgram) {
			return &exitError{127, spawnErr(g, e, req, err)}
		}
		return &exitError{exitInternal, spawnErr(g, e, req, err)}
	}
	pid := res.PID

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopSignals := forwardSignals(ctx, e, c, pid)
	defer stopSignals()
	if req.Stdin {
		go c.Stdin(ctx, pid, e.stdin) // ends with the process, or with ctx
	}
	exited := make(chan struct{})
	logsDone := make(chan error, 1)
	go func() { logsDone <- followLogs(ctx, c, pid, &logOutput{out: e.stdout, errOut: e.stderr}, exited) }()
	noticeDone := make(chan struct{})
	go func() {
		defer close(noticeDone)
		pendingNotice(ctx, e.stderr, c, pid, exited)
	}()

	p, err := c.Wait(ctx, pid)
	close(exited)
	<-noticeDone
	if err != nil {
		cancel()
		<-logsDone
		return &exitError{exitInternal, fmt.Errorf("wait %d: %s", pid, describe(err, g.address(e)))}
	}
	t := time.NewTimer(logsGrace)
	defer t.Stop()
	select {
	case <-logsDone:
	case <-t.C:
		cancel()
		<-logsDone
	}
	code, reason := exitCode(p)
	if reason == "" {
		reason = startFailure(p)
	}
	if reason != "" {
		return &exitError{code, errors.New(reason)}
	}
	return &exitError{code: code}
}

// pendingWait is how long run waits before it says, once, that its
// process is still pending and why.
const pendingWait = time.Second

// pendingNotice tells w, once, that process pid is still waiting for a
// node after pendingWait, with the reason the agent gives. It returns when
// it has looked, or when exited is closed or ctx ends first.
func pendingNotice(ctx context.Context, w io.Writer, c *client.Client, pid uint64, exited <-chan struct{}) {
	t := time.NewTimer(pendingWait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-exited:
		return
	case <-ctx.Done():
		return
	}
	p, err := c.Get(ctx, pid, client.ReadOpts{})
	if err != nil || p.State != "pending" {
		return
	}
	reason := p.PendingReason
	if reason == "" {
		reason = "waiting for placement"
	}
	fmt.Fprintf(w, "vproc: process %d is pending: %s (Ctrl-C ends it)\n", pid, reason)
}

// startFailure returns why process p could not start, or "" when it ran.
// A program that was never found (127) or could not be started (126) is
// reported exited with the reason its node gave; a program that ran and
// exited with such a code has no reason, as a plain exit carries none.
func startFailure(p api.Process) string {
	if p.ExitCode == nil || p.Signal != nil || p.Reason == "" {
		return ""
	}
	if c := *p.ExitCode; c != 126 && c != 127 {
		return ""
	}
	return p.Reason
}

// forwardSignals passes the signals vproc gets on to process pid.
func forwardSignals(ctx context.Context, e *env, c *client.Client, pid uint64) (stop func()) {
	if e.notify == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan os.Signal, 4)
	stopNotify := e.notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case s := <-ch:
				sig, ok := s.(syscall.Signal)
				if !ok {
					continue
				}
				c.Kill(ctx, api.KillRequest{Targets: []int64{int64(pid)}, Signal: int(sig)})
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { stopNotify(); cancel(); <-done }
}

// followLogs copies the output of process pid to o (its stdout and its
// stderr each to its own writer), from the start, and resumes where it
// stopped whenever the stream breaks. Once exited is closed it reads what
// is left and returns.
func followLogs(ctx context.Context, c *client.Client, pid uint64, o *logOutput, exited <-chan struct{}) error {
	var off int64
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-exited:
			// The process has exited: read to the end of its output.
			_, _, err := copyLogChunks(ctx, c, pid, false, off, "", o)
			return err
		default:
		}
		next, _, err := copyLogChunks(ctx, c, pid, true, off, "", o)
		// A stream that breaks is asked for again from where it stopped;
		// output that cannot be written ends the follow.
		var oe *outputError
		if errors.As(err, &oe) {
			return err
		}
		if next > off {
			backoff = 50 * time.Millisecond
		}
		off = next
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-exited:
		case <-ctx.Done():
		}
		t.Stop()
		backoff = min(2*backoff, time.Second)
	}
}

// exitCode maps the final status of a process to the exit code of run and
// wait, with the reason to print when vproc cannot give the process's own
// code.
func exitCode(p api.Process) (code int, reason string) {
	switch {
	case p.State == "lost":
		reason = fmt.Sprintf("process %d was lost", p.PID)
		if p.Reason != "" {
			reason += ": " + p.Reason
		}
		return exitInternal, reason
	case p.Signal != nil:
		return 128 + *p.Signal, ""
	case p.ExitCode != nil:
		return *p.ExitCode & 0xff, ""
	}
	return exitInternal, fmt.Sprintf("process %d has no exit status (state %s)", p.PID, p.State)
}

// statusLine describes the final status of a process, as wait prints it.
func statusLine(p api.Process) string {
	var s string
	switch {
	case p.State == "lost":
		s = "lost"
	case p.Signal != nil:
		s = "killed by " + ipc.Signal(*p.Signal).String()
		if p.Core {
			s += " (core dumped)"
		}
	case p.ExitCode != nil:
		s = fmt.Sprintf("exit status %d", *p.ExitCode)
	default:
		s = "no exit status (state " + p.State + ")"
	}
	if p.Reason != "" {
		s += " (" + p.Reason + ")"
	}
	return fmt.Sprintf("%d: %s", p.PID, s)
}
