// Command rawraft is the raw raft baseline of vproc's spawn benchmark
// (README.md, "Replicated spawns"). It starts an N-node hashicorp/raft
// cluster in one process, on TCP loopback, with the store the product uses
// (package raftstore: raft-boltdb behind a log cache, file snapshots) and
// the product's transport (package raftnet), and a trivial state
// machine, and measures Apply throughput and latency at each concurrency:
// with one record per entry (the figure a spawn-per-entry design would get)
// and with many records per entry (the ceiling of batching).
//
// The raft timing flags default to the product's (cluster.DefaultConfig);
// keep them equal, a test checks it. The program stops by itself and
// removes everything it created.
//
// Each result also gives the process's CPU time per acknowledged entry
// over the measured window (the servers and the load generator together).
//
// Usage:
//
//	rawraft [--nodes 3] [--concurrency 1,16,64,256] [--duration 10s] [--records 1,100] [--stages] [-o json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/raftnet"
	"github.com/vproc/vproc/cluster/raftstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Timing are raft's timeouts. Their defaults are the product's
// (cluster.DefaultConfig): keep them equal.
type Timing struct {
	Heartbeat   time.Duration `json:"heartbeat"`
	Election    time.Duration `json:"election"`
	LeaderLease time.Duration `json:"leader_lease"`
	Commit      time.Duration `json:"commit"`
}

// defaultTiming is cluster.DefaultConfig's raft timing.
var defaultTiming = Timing{
	Heartbeat:   400 * time.Millisecond,
	Election:    400 * time.Millisecond,
	LeaderLease: 400 * time.Millisecond,
	Commit:      5 * time.Millisecond,
}

// The product's other raft and store settings (cluster/replica/raft.go).
const (
	transportPool     = 3
	transportTimeout  = 10 * time.Second
	snapshotThreshold = 8192
	snapshotInterval  = 30 * time.Second
	trailingLogs      = 10240
	applyTimeout      = 10 * time.Second
)

// options are the command line.
type options struct {
	nodes       int
	concurrency []int
	duration    time.Duration
	records     []int
	recordBytes int
	timing      Timing
	dir         string
	output      string
	stages      bool
}

// Report is the output of a run.
type Report struct {
	Nodes       int      `json:"nodes"`
	RecordBytes int      `json:"record_bytes"`
	Timing      Timing   `json:"timing"`
	Results     []Result `json:"results"`
}

// Result is the figure of one concurrency and one number of records per
// entry.
type Result struct {
	Concurrency      int     `json:"concurrency"`
	RecordsPerEntry  int     `json:"records_per_entry"`
	Entries          int     `json:"entries"`
	Errors           int     `json:"errors"`
	Seconds          float64 `json:"seconds"`
	EntriesPerSecond float64 `json:"entries_per_second"`
	RecordsPerSecond float64 `json:"records_per_second"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	// CPUMicrosPerEntry is the process's CPU time (user and system, all
	// threads: the three servers and the load) over the measured window,
	// per acknowledged entry.
	CPUMicrosPerEntry float64 `json:"cpu_us_per_entry"`
	// Stages are raft's timings of the commit path (-stages only).
	Stages *Stages `json:"stages,omitempty"`
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "rawraft: %v\n", err)
		return 2
	}
	rep, err := measure(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "rawraft: %v\n", err)
		return 1
	}
	if opts.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = table(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "rawraft: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{timing: defaultTiming}
	fs := flag.NewFlagSet("rawraft", flag.ContinueOnError)
	fs.SetOutput(stderr)
	concurrency := intList{1, 16, 64, 256}
	records := intList{1, 100}
	fs.IntVar(&o.nodes, "nodes", 3, "raft servers in the cluster")
	fs.Var(&concurrency, "concurrency", "comma-separated numbers of concurrent appliers")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each measurement runs")
	fs.Var(&records, "records", "comma-separated numbers of records per entry")
	fs.IntVar(&o.recordBytes, "record-bytes", 100, "the size of one record, in bytes (a spawn command is about 100)")
	fs.DurationVar(&o.timing.Heartbeat, "heartbeat-timeout", defaultTiming.Heartbeat, "raft HeartbeatTimeout (keep equal to cluster.DefaultConfig)")
	fs.DurationVar(&o.timing.Election, "election-timeout", defaultTiming.Election, "raft ElectionTimeout (keep equal to cluster.DefaultConfig)")
	fs.DurationVar(&o.timing.LeaderLease, "leader-lease-timeout", defaultTiming.LeaderLease, "raft LeaderLeaseTimeout (keep equal to cluster.DefaultConfig)")
	fs.DurationVar(&o.timing.Commit, "commit-timeout", defaultTiming.Commit, "raft CommitTimeout (keep equal to cluster.DefaultConfig)")
	fs.StringVar(&o.dir, "dir", "", "where the stores go (default a new temporary directory, removed at the end)")
	fs.StringVar(&o.output, "o", "table", "output format: table (markdown) or json")
	fs.BoolVar(&o.stages, "stages", false, "also report raft's timings of the commit path (costs CPU: leave off when comparing CPU)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.concurrency, o.records = concurrency, records
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.nodes < 1:
		return o, fmt.Errorf("bad -nodes %d", o.nodes)
	case len(o.concurrency) == 0 || slices.Min(o.concurrency) < 1:
		return o, errors.New("bad -concurrency: want positive numbers")
	case len(o.records) == 0 || slices.Min(o.records) < 1:
		return o, errors.New("bad -records: want positive numbers")
	case o.duration <= 0:
		return o, fmt.Errorf("bad -duration %v", o.duration)
	case o.recordBytes < 1:
		return o, fmt.Errorf("bad -record-bytes %d", o.recordBytes)
	case o.output != "table" && o.output != "json":
		return o, fmt.Errorf("bad -o %q: want table or json", o.output)
	}
	return o, nil
}

// intList is a flag of comma-separated integers.
type intList []int

// String formats the list as the flag takes it.
func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, n := range *l {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// Set parses a comma-separated list.
func (l *intList) Set(s string) error {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// measure starts the cluster, measures every combination and stops it.
func measure(ctx context.Context, o options) (rep Report, err error) {
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "rawraft-"); err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
	}
	c, err := startCluster(dir, o.nodes, o.timing)
	if err != nil {
		return rep, err
	}
	defer func() {
		if serr := c.shutdown(); err == nil {
			err = serr
		}
	}()
	rep = Report{Nodes: o.nodes, RecordBytes: o.recordBytes, Timing: o.timing}
	record := make([]byte, o.recordBytes)
	for i := range record {
		record[i] = byte('a' + i%26)
	}
	for _, recs := range o.records {
		entry := slices.Repeat(record, recs)
		for _, n := range o.concurrency {
			leader, err := c.waitLeader(ctx, 10*time.Second)
			if err != nil {
				return rep, err
			}
			var stages func() *Stages
			if o.stages {
				stages = recordStages()
			}
			res := applyLoad(ctx, leader, n, recs, entry, o.duration)
			if stages != nil {
				res.Stages = stages()
			}
			rep.Results = append(rep.Results, res)
			if err := ctx.Err(); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// applyLoad applies entry from n goroutines for d and measures it.
func applyLoad(ctx context.Context, r *raft.Raft, n, recs int, entry []byte, d time.Duration) Result {
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs atomic.Int64
		wg   sync.WaitGroup
	)
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(d)
	for range n {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				if err := r.Apply(entry, applyTimeout).Error(); err != nil {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu := processCPU() - cpu0
	slices.Sort(lats)
	var perEntry float64
	if len(lats) > 0 {
		perEntry = float64(cpu.Microseconds()) / float64(len(lats))
	}
	return Result{
		Concurrency:       n,
		RecordsPerEntry:   recs,
		Entries:           len(lats),
		Errors:            int(errs.Load()),
		Seconds:           elapsed,
		EntriesPerSecond:  float64(len(lats)) / elapsed,
		RecordsPerSecond:  float64(len(lats)*recs) / elapsed,
		P50Ms:             ms(percentile(lats, 0.50)),
		P99Ms:             ms(percentile(lats, 0.99)),
		CPUMicrosPerEntry: perEntry,
	}
}

// processCPU returns the CPU time this process has used, user and system,
// all threads: the utime and stime of /proc/self/stat, at microsecond
// resolution.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// table prints a report as a markdown table.
func table(w io.Writer, rep Report) error {
	t := rep.Timing
	fmt.Fprintf(w, "raw raft baseline: %d nodes on loopback, raft-boltdb, %d-byte records; heartbeat %v, election %v, leader lease %v, commit %v\n\n",
		rep.Nodes, rep.RecordBytes, t.Heartbeat, t.Election, t.LeaderLease, t.Commit)
	fmt.Fprintln(w, "| concurrency | records/entry | entries/s | records/s | p50 | p99 | errors | CPU µs/entry |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "| %d | %d | %.0f | %.0f | %.2fms | %.2fms | %d | %.1f |\n",
			r.Concurrency, r.RecordsPerEntry, r.EntriesPerSecond, r.RecordsPerSecond, r.P50Ms, r.P99Ms, r.Errors, r.CPUMicrosPerEntry)
	}
	if len(rep.Results) == 0 || rep.Results[0].Stages == nil {
		return nil
	}
	fmt.Fprint(w, "\nraft's timings of the commit path (means):\n\n")
	fmt.Fprintln(w, "| concurrency | records/entry | leader's write | follower's write | append to a follower | commit |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|")
	for _, r := range rep.Results {
		st := r.Stages
		fmt.Fprintf(w, "| %d | %d | %.3fms | %.3fms | %.3fms | %.3fms |\n",
			r.Concurrency, r.RecordsPerEntry, st.LeaderWriteMs, st.FollowerWriteMs, st.AppendMs, st.CommitMs)
	}
	return nil
}

// raftCluster is n raft servers in this process.
type raftCluster struct {
	servers []*server
}

// server is one raft server and what it owns.
type server struct {
	raft   *raft.Raft
	trans  *raftnet.Transport
	stores *raftstore.Stores
}

// startCluster starts n servers under dir, bootstrapped together.
func startCluster(dir string, n int, t Timing) (_ *raftCluster, err error) {
	c := &raftCluster{}
	defer func() {
		if err != nil {
			c.shutdown()
		}
	}()
	var conf raft.Configuration
	var trans []*raftnet.Transport
	for i := range n {
		tr, err := newTransport()
		if err != nil {
			for _, t := range trans {
				t.Close()
			}
			return nil, err
		}
		trans = append(trans, tr)
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(fmt.Sprintf("n%d", i+1)),
			Address:  tr.LocalAddr(),
		})
	}
	for i, tr := range trans {
		s, err := startServer(filepath.Join(dir, string(conf.Servers[i].ID)), conf.Servers[i].ID, tr, conf, t)
		if err != nil {
			for _, t := range trans[i:] {
				t.Close()
			}
			return c, err
		}
		c.servers = append(c.servers, s)
	}
	return c, nil
}

func startServer(dir string, id raft.ServerID, tr *raftnet.Transport, conf raft.Configuration, t Timing) (*server, error) {
	st, err := raftstore.Open(dir, nil)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*server, error) {
		st.Close()
		return nil, err
	}
	rc := raft.DefaultConfig()
	rc.LocalID = id
	rc.HeartbeatTimeout = t.Heartbeat
	rc.ElectionTimeout = t.Election
	rc.LeaderLeaseTimeout = t.LeaderLease
	rc.CommitTimeout = t.Commit
	rc.SnapshotThreshold = snapshotThreshold
	rc.SnapshotInterval = snapshotInterval
	rc.TrailingLogs = trailingLogs
	rc.BatchApplyCh = false
	rc.Logger = hclog.NewNullLogger()
	if err := raft.BootstrapCluster(rc, st.Logs, st.Stable, st.Snaps, tr, conf); err != nil {
		return fail(err)
	}
	r, err := raft.NewRaft(rc, &countFSM{}, st.Logs, st.Stable, st.Snaps, tr)
	if err != nil {
		return fail(err)
	}
	return &server{raft: r, trans: tr, stores: st}, nil
}

// newTransport returns a TCP transport on a free loopback port, set up as
// the product's: its stream layer closes every connection when the
// transport closes, so that no connection handler outlives it.
func newTransport() (*raftnet.Transport, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return raftnet.NewTransport(&raft.NetworkTransportConfig{
		Stream:  raftnet.NewStreamLayer(ln, nil),
		MaxPool: transportPool,
		Timeout: transportTimeout,
		Logger:  hclog.NewNullLogger(),
	}), nil
}

// waitLeader returns the leader once there is one.
func (c *raftCluster) waitLeader(ctx context.Context, timeout time.Duration) (*raft.Raft, error) {
	deadline := time.Now().Add(timeout)
	for {
		for _, s := range c.servers {
			if s.raft.State() == raft.Leader {
				return s.raft, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no leader after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// shutdown stops every server and closes what it owns.
func (c *raftCluster) shutdown() error {
	var errs []error
	for _, s := range c.servers {
		errs = append(errs, s.raft.Shutdown().Error(), s.trans.Close(), s.stores.Close())
	}
	c.servers = nil
	return errors.Join(errs...)
}

// countFSM is the trivial state machine: it counts the bytes applied.
type countFSM struct {
	applied atomic.Uint64
}

var _ raft.FSM = (*countFSM)(nil)

// Apply counts the entry's bytes.
func (f *countFSM) Apply(l *raft.Log) any {
	f.applied.Add(uint64(len(l.Data)))
	return nil
}

// Snapshot captures the count.
func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	return countSnapshot(f.applied.Load()), nil
}

// Restore reads a count back.
func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return err
	}
	f.applied.Store(n)
	return nil
}

// countSnapshot is a snapshot of countFSM.
type countSnapshot uint64

// Persist writes the count.
func (s countSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write([]byte(strconv.FormatUint(uint64(s), 10))); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release does nothing: the snapshot holds no resources.
func (s countSnapshot) Release() {}
