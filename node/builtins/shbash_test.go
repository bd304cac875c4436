package builtins

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// The differential test: every script of bashCases runs through the host's
// bash (bash --norc --noprofile -c, with a clean environment, in a temporary
// directory) and through vproc's sh on an embedded kernel (in a directory
// of its own), and both must print the same standard output, the same
// standard error once bash's "bash: line N: " is read as sh's "sh: ", and
// end with the same status.
//
// The scripts use only what both sides have: the shell's builtins and the
// programs cat, sleep, head -n, wc -l/-w/-c and yes, read from standard
// input (their GNU versions pad or word their output otherwise). A case
// that must differ says why in its why field, and compares what its
// script prints instead of the thing that differs (a PID is tested, not
// printed).

// bashCase is one script of the differential test.
type bashCase struct {
	name   string
	script string
	why    string // why the script prints something other than the obvious
	// stderr, when set, is why standard error is not compared.
	stderr string
}

// bashCaseTimeout bounds each side of each case.
const bashCaseTimeout = 10 * time.Second

// bashPrefix is the prefix of bash's diagnostics in a -c script.
// (bash says "environment" instead of its name for some errors in
// functions).
var bashPrefix = regexp.MustCompile(`(?m)^((\S*/)?bash|environment): (line \d+: )?`)

// killedPID is the PID in kill's complaint about a process that is gone,
// and reportPID the one in the report of a job killed by a signal: PIDs are
// the host's on one side and virtual on the other.
var (
	killedPID = regexp.MustCompile(`\(\d+\) - `)
	reportPID = regexp.MustCompile(`(?m)^sh: +\d+ `)
)

// normalise reads PIDs in diagnostics as PID.
func normalise(stderr string) string {
	stderr = killedPID.ReplaceAllString(stderr, "(PID) - ")
	return reportPID.ReplaceAllString(stderr, "sh: PID ")
}

// bashResult is what one side printed and its status.
type bashResult struct {
	stdout, stderr string
	status         int
}

// runBash runs script through the host's bash in dir.
func runBash(t *testing.T, bash, dir, script string) bashResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bashCaseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "--norc", "--noprofile", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	cmd.WaitDelay = time.Second
	// bash leads a process group of its own, so that a script's kill 0
	// reaches only the script, and its strays are killed with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if ctx.Err() != nil {
		t.Fatalf("bash: timed out after %v", bashCaseTimeout)
	}
	status := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		status = ws.ExitStatus()
		if ws.Signaled() {
			status = 128 + int(ws.Signal())
		}
	case err != nil:
		t.Fatalf("bash: %v", err)
	}
	stderr := bashPrefix.ReplaceAllString(errb.String(), "sh: ")
	return bashResult{out.String(), normalise(stderr), status}
}

// runVproc runs script through vproc's sh on k, in dir of its namespace.
func runVproc(t *testing.T, k *node.ProcessManager, dir, script string) bashResult {
	t.Helper()
	var out, errb syncBuffer
	pid := mustSpawn(t, k, node.Spec{
		Command: "sh", Args: []string{"-c", script},
		Env: []string{"PATH=/usr/bin:/bin", "HOME=" + dir}, Cwd: dir,
		Stdout: &out, Stderr: &errb,
	})
	ctx, cancel := context.WithTimeout(context.Background(), bashCaseTimeout)
	defer cancel()
	p, err := k.Wait(ctx, pid)
	if err != nil {
		k.Kill(-pid, ipc.SIGKILL)
		k.Kill(pid, ipc.SIGKILL)
		t.Fatalf("vproc sh: %v", err)
	}
	return bashResult{out.String(), normalise(errb.String()), p.Status.Code()}
}

func TestShellAgainstBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found: the differential test against bash needs it")
	}
	if len(bashCases) < 150 {
		t.Errorf("%d cases, want at least 150", len(bashCases))
	}
	defaultSignalsForChildren(t)
	k := newShKernel(t)
	seen := map[string]bool{}
	for i, c := range bashCases {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			hostDir := t.TempDir()
			dir := "/case" + strconv.Itoa(i)
			if err := k.FS().Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			want := runBash(t, bash, hostDir, c.script)
			got := runVproc(t, k, dir, c.script)
			if c.stderr != "" {
				got.stderr, want.stderr = "", ""
			}
			if got != want {
				t.Errorf("script %q\ngot  stdout %q stderr %q status %d\nwant stdout %q stderr %q status %d (bash)",
					c.script, got.stdout, got.stderr, got.status, want.stdout, want.stderr, want.status)
			}
		})
	}
}

// TestBashPrefix checks the normalisation the differential test relies on.
func TestBashPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"bash: line 1: x: command not found\n":    "sh: x: command not found\n",
		"bash: line 12: kill: (1) - No such\nb\n": "sh: kill: (1) - No such\nb\n",
		"ok\nbash: -c: line 1: syntax\n":          "ok\nsh: -c: line 1: syntax\n",
		"/usr/bin/bash: line 3: x\n":              "sh: x\n",
	} {
		if got := bashPrefix.ReplaceAllString(in, "sh: "); got != want {
			t.Errorf("got %q, want %q for %q", got, want, in)
		}
	}
}

// defaultSignalsForChildren gives bash the default action for the signals
// the cases send, even when the test runs with some of them ignored (under
// nohup, or as a background job of a non-interactive shell): an ignored
// signal is inherited through exec and bash cannot trap or reset it, while
// a caught one is reset to its default. The process catches those for the
// length of the test, and drops what it catches.
func defaultSignalsForChildren(t *testing.T) {
	var ignored []os.Signal
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM} {
		if signal.Ignored(sig) {
			ignored = append(ignored, sig)
		}
	}
	if len(ignored) == 0 {
		return
	}
	t.Logf("ignored in this process, caught for bash's sake: %v", ignored)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, ignored...)
	t.Cleanup(func() { signal.Stop(ch); signal.Ignore(ignored...) })
}
