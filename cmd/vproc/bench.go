package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

// benchFlags are the flags of the bench verbs.
type benchFlags struct {
	concurrency []int
	duration    time.Duration
	count       int
	noMerge     bool
	output      string
}

func (f *benchFlags) register(fs *pflag.FlagSet) {
	fs.IntSliceVar(&f.concurrency, "concurrency", []int{1, 16, 64, 256}, "the numbers of concurrent clients to measure, one after the other")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long each concurrency runs")
	fs.IntVar(&f.count, "count", 0, "run this many operations per concurrency instead of for --duration")
	fs.BoolVar(&f.noMerge, "no-merge", false, "send every spawn as a request of its own, instead of letting the client merge concurrent spawns")
	outputFlag(fs, &f.output)
	fs.SetInterspersed(false) // flags after CMD belong to CMD
}

func (f *benchFlags) check(cmd *cobra.Command) error {
	if err := checkOutput(cmd, f.output); err != nil {
		return err
	}
	if len(f.concurrency) == 0 {
		return usagef(cmd, "--concurrency needs at least one value")
	}
	for _, c := range f.concurrency {
		if c < 1 || c > 1<<16 {
			return usagef(cmd, "bad --concurrency %d (want 1 to 65536)", c)
		}
	}
	if f.count < 0 {
		return usagef(cmd, "bad --count %d: want 0 (run for --duration) or more", f.count)
	}
	if f.count == 0 && f.duration <= 0 {
		return usagef(cmd, "bad --duration %v: want a positive duration such as 10s", f.duration)
	}
	return nil
}

// benchReport is the output of a bench verb.
type benchReport struct {
	Bench   string        `json:"bench"`
	Addr    string        `json:"addr"`
	Command []string      `json:"command"`
	Merged  bool          `json:"merged"` // concurrent spawns shared requests
	Results []benchResult `json:"results"`
}

// benchResult is the figure of one concurrency.
type benchResult struct {
	Concurrency int     `json:"concurrency"`
	Ops         int     `json:"ops"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"per_second"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	P999Ms      float64 `json:"p999_ms"`
	FirstError  string  `json:"first_error,omitempty"`
}

func newBenchCmd(e *env, g *globals) *cobra.Command {
	spawn := newBenchVerb(e, g, "spawn", "spawns",
		"Measure spawn throughput and latency",
		`Spawn CMD (true unless told otherwise) from N concurrent clients, for each N of
--concurrency, through the Go client with its sessions and retries. A spawn
counts when the request returns its PID: its spawn entry, placement included,
has committed. Prints spawns per second and the p50, p99 and p999 latency.
The client merges concurrent spawns into shared requests, as any user of the
Go client gets; --no-merge sends one request per spawn.
The spawned processes stay in the table until init reaps them.`,
		func(ctx context.Context, c *client.Client, req api.SpawnRequest) error {
			_, err := c.Spawn(ctx, req)
			return err
		})
	lifecycle := newBenchVerb(e, g, "lifecycle", "lifecycles",
		"Measure whole process lifecycles: spawn, run, exit, wait",
		`Run CMD (true unless told otherwise) from N concurrent clients, for each N of
--concurrency: spawn it, let it run and exit, and wait for its status. A
lifecycle counts when wait returns exit status 0. Prints lifecycles per second
and the p50, p99 and p999 latency.`,
		func(ctx context.Context, c *client.Client, req api.SpawnRequest) error {
			res, err := c.Spawn(ctx, req)
			if err != nil {
				return err
			}
			p, err := c.Wait(ctx, res.PID)
			if err != nil {
				return err
			}
			if code, _ := exitCode(p); code != 0 {
				return errors.New(statusLine(p))
			}
			return nil
		})
	return group("bench", "Measure the cluster", spawn, lifecycle)
}

// newBenchVerb builds a bench verb whose operation is op.
func newBenchVerb(e *env, g *globals, name, unit, short, long string,
	op func(context.Context, *client.Client, api.SpawnRequest) error) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   name + " [--concurrency 1,16,64,256] [--duration 10s] [--count N] [-o json] [-- CMD ARGS]",
		Short: short,
		Long:  long,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(cmd); err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{"true"}
			}
			if args[0] == "" {
				return usagef(cmd, `empty command: want a program name, such as "true"`)
			}
			c, err := g.client(e, func(cfg *client.Config) {
				if f.noMerge {
					cfg.MaxSpawnBatch = 1
				}
			})
			if err != nil {
				return err
			}
			defer c.Close()
			req := api.SpawnRequest{Command: args[0], Args: args[1:], Owner: owner(e)}
			rep := benchReport{Bench: name, Addr: c.Addr(), Command: args, Merged: !f.noMerge}
			prog := newProgress(e.stderr)
			for i, n := range f.concurrency {
				var ops atomic.Int64
				start := time.Now()
				stop := prog.every(func() {
					prog.show("vproc bench %s: concurrency %d (%d of %d): %s", name, n, i+1, len(f.concurrency),
						benchSoFar(ops.Load(), f.count, time.Since(start), f.duration, unit))
				})
				res := runBench(cmd.Context(), n, f.duration, f.count, func(ctx context.Context) error {
					defer ops.Add(1)
					return op(ctx, c, req)
				})
				stop()
				prog.clear()
				if res.Ops == 0 && res.Errors > 0 {
					return fmt.Errorf("bench %s: every operation failed at concurrency %d: %s",
						name, n, describe(errors.New(res.FirstError), g.address(e)))
				}
				rep.Results = append(rep.Results, res)
				if err := cmd.Context().Err(); err != nil {
					return err
				}
			}
			if f.output == "json" {
				return writeJSON(e.stdout, rep)
			}
			return benchTable(e.stdout, rep, unit)
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// runBench runs op from n workers, for d or for count operations in all,
// and measures it. Operations that were started before the end run to
// completion.
func runBench(ctx context.Context, n int, d time.Duration, count int, op func(context.Context) error) benchResult {
	var (
		tickets  atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	more := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if count > 0 {
			return tickets.Add(1) <= int64(count)
		}
		return time.Now().Before(deadline)
	}
	for range n {
		wg.Go(func() {
			var mine []time.Duration
			for more() {
				t0 := time.Now()
				err := op(ctx)
				lat := time.Since(t0)
				if err != nil {
					mu.Lock()
					if errs == 0 {
						firstErr = err.Error()
					}
					errs++
					mu.Unlock()
					continue
				}
				mine = append(mine, lat)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lats)
	res := benchResult{
		Concurrency: n,
		Ops:         len(lats),
		Errors:      errs,
		Seconds:     elapsed.Seconds(),
		P50Ms:       ms(percentile(lats, 0.50)),
		P99Ms:       ms(percentile(lats, 0.99)),
		P999Ms:      ms(percentile(lats, 0.999)),
		FirstError:  firstErr,
	}
	if elapsed > 0 {
		res.PerSecond = float64(len(lats)) / elapsed.Seconds()
	}
	return res
}

// percentile returns the q-quantile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchSoFar describes a run of a bench verb in progress: the operations
// done, and how far it is through its count or its duration.
func benchSoFar(ops int64, count int, elapsed, d time.Duration, unit string) string {
	if count > 0 {
		return fmt.Sprintf("%d of %d %s", ops, count, unit)
	}
	return fmt.Sprintf("%d %s, %s of %s", ops, unit, min(elapsed, d).Truncate(100*time.Millisecond), d)
}

// benchTable prints a report as a table, as the other verbs print theirs:
// a line that says what was measured, then one row per concurrency.
func benchTable(w io.Writer, rep benchReport, unit string) error {
	mode := "concurrent spawns merged into shared requests"
	if !rep.Merged {
		mode = "one request per spawn"
	}
	fmt.Fprintf(w, "vproc bench %s: %s, against %s, %s\n\n", rep.Bench, commandLine(rep.Command[0], rep.Command[1:]), rep.Addr, mode)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	up := strings.ToUpper(unit)
	fmt.Fprintf(tw, "CONCURRENCY\t%s\tERRORS\t%s/S\tP50\tP99\tP999\n", up, up)
	var firstErrs []string
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%.2fms\t%.2fms\t%.2fms\n",
			r.Concurrency, r.Ops, r.Errors, r.PerSecond, r.P50Ms, r.P99Ms, r.P999Ms)
		if r.FirstError != "" {
			firstErrs = append(firstErrs, fmt.Sprintf("concurrency %d: %s", r.Concurrency, oneLine(r.FirstError)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(firstErrs) > 0 {
		fmt.Fprintf(w, "\nfirst errors:\n  %s\n", strings.Join(firstErrs, "\n  "))
	}
	return nil
}
