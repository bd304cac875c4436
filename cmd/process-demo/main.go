// Command process-demo shows vproc's local kernel at work on one machine,
// without any network: a pipeline, CPU shares by priority, a signal handler,
// kills by resource limits, a zombie and an orphan being reaped, a process
// group being signalled, and the IPC mechanisms (FIFO, message queue, shared
// memory).
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/builtins"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "process-demo:", err)
		os.Exit(1)
	}
}

// buffer is a bytes.Buffer safe for concurrent use, to capture output.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type demo struct {
	k   *node.ProcessManager
	ctx context.Context
}

func section(title string) { fmt.Printf("\n== %s ==\n", title) }

// sh runs a shell command line and prints its output and status.
func (d *demo) sh(script string) error {
	var out buffer
	pid, err := d.k.Spawn(node.Spec{Command: "sh", Args: []string{"-c", script}, Stdout: &out, Stderr: &out})
	if err != nil {
		return err
	}
	p, err := d.k.Wait(d.ctx, pid)
	if err != nil {
		return err
	}
	fmt.Printf("$ %s\n", script)
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if line != "" {
			fmt.Printf("  %s\n", line)
		}
	}
	fmt.Printf("  (pid %d: %s)\n", pid, p.Status)
	return nil
}

// until polls cond every millisecond until it holds or 3 s pass.
func until(cond func() bool) error {
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out")
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func (d *demo) state(pid int) string {
	p, err := d.k.Get(pid)
	if err != nil {
		return "reaped (" + err.Error() + ")"
	}
	s := string(p.State)
	if p.State == node.StateZombie {
		s += ", " + p.Status.String()
	}
	return fmt.Sprintf("%s, parent %d", s, p.ParentPID)
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	progs := builtins.Programs()
	registerDemoPrograms(progs)
	cfg := node.DefaultConfig()
	cfg.Programs = progs
	k, err := node.New(cfg)
	if err != nil {
		return err
	}
	defer k.Shutdown(context.Background())
	d := &demo{k: k, ctx: ctx}
	start := time.Now()
	fmt.Printf("vproc local kernel: %d CPU slots, %d programs (%s)\n", cfg.Slots, len(progs.Names()), strings.Join(progs.Names(), " "))

	section("1. A pipeline")
	for _, s := range []string{"yes | head -n 3 | wc -l", "echo hello vproc world | wc -w", "X=42; echo \"x is $X\" && false || echo \"false gave $?\""} {
		if err := d.sh(s); err != nil {
			return err
		}
	}

	steps := []func() error{d.shares, d.handler, d.limits, d.zombieOrphan, d.group, d.ipcDemo}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Printf("\ndone in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// shares runs spinners at three priorities on one CPU slot and shows how the
// fair scheduler divided the CPU by weight.
func (d *demo) shares() error {
	section("2. CPU shares of spinners at three priorities (one CPU slot, 400 ms)")
	cfg := node.DefaultConfig()
	cfg.Slots = 1
	cfg.Programs = builtins.Programs()
	k, err := node.New(cfg)
	if err != nil {
		return err
	}
	defer k.Shutdown(context.Background())
	prios := []int{30, 50, 70}
	pids := make([]int, len(prios))
	for i, pr := range prios {
		if pids[i], err = k.Spawn(node.Spec{Command: "spin", Priority: pr}); err != nil {
			return err
		}
	}
	time.Sleep(400 * time.Millisecond)
	var total, wsum float64
	cpu := make([]time.Duration, len(pids))
	for i, pid := range pids {
		p, err := k.Get(pid)
		if err != nil {
			return err
		}
		cpu[i] = p.CPUTime
		total += float64(p.CPUTime)
		wsum += float64(node.Weight(prios[i]))
		k.Kill(pid, ipc.SIGKILL)
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pid\tpriority\tnice\tweight\tcpu\tshare\texpected\t")
	for i, pid := range pids {
		w := float64(node.Weight(prios[i]))
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%v\t%.1f%%\t%.1f%%\t\n", pid, prios[i], node.Nice(prios[i]), node.Weight(prios[i]),
			cpu[i].Round(time.Millisecond), 100*float64(cpu[i])/total, 100*w/wsum)
	}
	return tw.Flush()
}

func (d *demo) handler() error {
	section("3. A signal handler")
	var out buffer
	pid, err := d.k.Spawn(node.Spec{Command: "demo-handler", Stdout: &out})
	if err != nil {
		return err
	}
	if err := until(func() bool { p, _ := d.k.Get(pid); return p != nil && p.State == node.StateWaiting }); err != nil {
		return err
	}
	fmt.Printf("pid %d waits in pause(); sending SIGUSR1, then SIGTERM\n", pid)
	d.k.Kill(pid, ipc.SIGUSR1)
	if err := until(func() bool { return strings.Count(out.String(), "\n") >= 2 }); err != nil {
		return err
	}
	d.k.Kill(pid, ipc.SIGTERM)
	p, err := d.k.Wait(d.ctx, pid)
	if err != nil {
		return err
	}
	fmt.Print(indent(out.String()))
	fmt.Printf("  (pid %d: %s)\n", pid, p.Status)
	return nil
}

func (d *demo) limits() error {
	section("4. Kills by resource limits")
	cases := []struct{ cmd, args, limits string }{
		{"spin", "", "cpu=30ms:60ms"},
		{"demo-ignore-xcpu", "", "cpu=30ms:60ms"},
		{"sleep", "10", "wall=50ms"},
		{"echo", "0123456789abcdefghij", "fsize=10"},
	}
	for _, c := range cases {
		lim, err := node.ParseLimits(nil, c.limits)
		if err != nil {
			return err
		}
		var out buffer
		spec := node.Spec{Command: c.cmd, Limits: lim, Stdout: &out, Stderr: &out}
		if c.args != "" {
			spec.Args = []string{c.args}
		}
		pid, err := d.k.Spawn(spec)
		if err != nil {
			return err
		}
		p, err := d.k.Wait(d.ctx, pid)
		if err != nil {
			return err
		}
		why := ""
		if p.Reason != "" {
			why = " (" + p.Reason + ")"
		}
		fmt.Printf("  %-34s --limit %-14s -> %s%s after %v CPU", strings.TrimSpace(c.cmd+" "+c.args), c.limits, p.Status, why, p.CPUTime.Round(time.Millisecond))
		if o := out.String(); o != "" {
			fmt.Printf(", output %q", o)
		}
		fmt.Println()
	}
	return nil
}

func (d *demo) zombieOrphan() error {
	section("5. A zombie and an orphan being reaped")
	var out buffer
	pid, err := d.k.Spawn(node.Spec{Command: "demo-parent", Stdout: &out})
	if err != nil {
		return err
	}
	var zombie, orphan int
	if err := until(func() bool { _, e := fmt.Sscanf(out.String(), "children %d %d", &zombie, &orphan); return e == nil }); err != nil {
		return err
	}
	if err := until(func() bool { p, _ := d.k.Get(zombie); return p != nil && p.State == node.StateZombie }); err != nil {
		return err
	}
	fmt.Printf("  parent %d spawned %d (true) and %d (sleep 0.2) and waits for neither\n", pid, zombie, orphan)
	fmt.Printf("  %d: %s\n", zombie, d.state(zombie))
	fmt.Printf("  %d: %s\n", orphan, d.state(orphan))
	d.k.Kill(pid, ipc.SIGTERM)
	p, err := d.k.Wait(d.ctx, pid)
	if err != nil {
		return err
	}
	fmt.Printf("  parent %d ended (%s); init adopts its children:\n", pid, p.Status)
	fmt.Printf("  %d: %s\n", zombie, d.state(zombie))
	fmt.Printf("  %d: %s\n", orphan, d.state(orphan))
	if err := until(func() bool { _, e := d.k.Get(orphan); return e != nil }); err != nil {
		return err
	}
	fmt.Printf("  the orphan's sleep ended and init reaped it: %d: %s\n", orphan, d.state(orphan))
	return nil
}

func (d *demo) group() error {
	section("6. A process group being signalled")
	var out buffer
	pid, err := d.k.Spawn(node.Spec{Command: "demo-group", Stdout: &out})
	if err != nil {
		return err
	}
	var pgid int
	if err := until(func() bool { _, e := fmt.Sscanf(out.String(), "group %d", &pgid); return e == nil }); err != nil {
		return err
	}
	var members []int
	for _, p := range d.k.List() {
		if p.Pgid == pgid {
			members = append(members, p.PID)
		}
	}
	fmt.Printf("  pid %d put %v in process group %d; kill(-%d, SIGTERM)\n", pid, members, pgid, pgid)
	if err := d.k.Kill(-pgid, ipc.SIGTERM); err != nil {
		return err
	}
	p, err := d.k.Wait(d.ctx, pid)
	if err != nil {
		return err
	}
	fmt.Print(indent(strings.SplitN(out.String(), "\n", 2)[1]))
	fmt.Printf("  (pid %d: %s)\n", pid, p.Status)
	return nil
}

func (d *demo) ipcDemo() error {
	section("7. IPC: a FIFO, a message queue and shared memory")
	for _, s := range []string{
		"mkfifo /demo.fifo && (fifo-write /demo.fifo hello through a fifo &) ; fifo-read /demo.fifo",
		"mqsend -c -p 1 /demo-q low && mqsend -p 9 /demo-q high && mqsend -p 5 /demo-q mid && mqrecv -n 3 /demo-q",
		"shm-counter -c /demo-shm 5000 & shm-counter -c /demo-shm 5000; wait; shm-read /demo-shm",
	} {
		if err := d.sh(s); err != nil {
			return err
		}
	}
	return nil
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	return b.String()
}

func registerDemoPrograms(r *node.ProgramTable) {
	r.Register("demo-handler", func(s *node.Sys) int {
		s.Signal(ipc.SIGUSR1, func(s *node.Sys, sig ipc.Signal) {
			s.Printf("handler: caught %v at my next system call\n", sig)
		})
		for {
			if err := s.Pause(); err == ipc.EINTR {
				s.Printf("pause() returned EINTR after the handler ran\n")
			}
		}
	})
	r.Register("demo-ignore-xcpu", func(s *node.Sys) int {
		s.Sigaction(ipc.SIGXCPU, &node.SigAction{Ignore: true})
		for {
			s.Yield()
		}
	})
	r.Register("demo-parent", func(s *node.Sys) int {
		z, err := s.Spawn(node.SpawnAttr{Command: "true"})
		if err != nil {
			return 1
		}
		o, err := s.Spawn(node.SpawnAttr{Command: "sleep", Args: []string{"0.2"}})
		if err != nil {
			return 1
		}
		s.Printf("children %d %d\n", z, o)
		s.Pause()
		return 0
	})
	r.Register("demo-group", func(s *node.Sys) int {
		var pids []int
		for i := range 3 {
			attr := node.SpawnAttr{Command: "sleep", Args: []string{"60"}, Pgid: -1}
			if i > 0 {
				attr.Pgid = pids[0]
			}
			pid, err := s.Spawn(attr)
			if err != nil {
				s.Errorf("spawn: %v", err)
				return 1
			}
			pids = append(pids, pid)
		}
		s.Printf("group %d\n", pids[0])
		for range pids {
			pid, st, err := s.Wait4(-pids[0], 0)
			if err != nil {
				return 1
			}
			s.Printf("waitpid: %d %s\n", pid, st)
		}
		return 0
	})
}
