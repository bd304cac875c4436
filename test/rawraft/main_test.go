package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/vproc/vproc/cluster"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRunReportsPositiveRates(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-duration", "300ms", "-concurrency", "4", "-records", "1,100", "-o", "json", "-dir", dir}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run %v: exit %d, stderr %q", args, code, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("output is not a report: %v\n%s", err, stdout.String())
	}
	if len(rep.Results) != 2 {
		t.Fatalf("got %d results, want 2 (records 1 and 100)", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.EntriesPerSecond <= 0 || r.RecordsPerSecond < r.EntriesPerSecond || r.P50Ms <= 0 || r.CPUMicrosPerEntry <= 0 {
			t.Errorf("got %+v, want positive rates and latency", r)
		}
		if r.RecordsPerEntry == 100 && math.Abs(r.RecordsPerSecond-100*r.EntriesPerSecond) > 1e-6*r.RecordsPerSecond {
			t.Errorf("got %v records/s for %v entries/s at 100 records per entry", r.RecordsPerSecond, r.EntriesPerSecond)
		}
	}
	for _, s := range []string{"n1", "n2", "n3"} {
		if _, err := os.Stat(filepath.Join(dir, s, "raft.db")); err != nil {
			t.Errorf("store of %s: %v", s, err)
		}
	}
}

func TestRunTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-nodes", "1", "-duration", "100ms", "-concurrency", "2", "-records", "1"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run %v: exit %d, stderr %q", args, code, stderr.String())
	}
	if !bytes.Contains(stdout.Bytes(), []byte("| concurrency | records/entry | entries/s | records/s | p50 | p99 | errors | CPU µs/entry |")) {
		t.Errorf("no table header in:\n%s", stdout.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-concurrency", "0"},
		{"-records", "x"},
		{"-o", "xml"},
		{"-duration", "-1s"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("run %v: got exit %d, want 2", args, code)
		}
	}
}

// TestTimingMatchesProduct keeps the baseline's raft timing equal to the
// product's, so that both run the same raft.
func TestTimingMatchesProduct(t *testing.T) {
	c := cluster.DefaultConfig()
	want := Timing{
		Heartbeat:   c.HeartbeatTimeout,
		Election:    c.ElectionTimeout,
		LeaderLease: c.LeaderLeaseTimeout,
		Commit:      c.CommitTimeout,
	}
	if defaultTiming != want {
		t.Errorf("got timing %+v, want cluster.DefaultConfig's %+v", defaultTiming, want)
	}
	if c.SnapshotThreshold != snapshotThreshold || c.SnapshotInterval != snapshotInterval || c.TrailingLogs != trailingLogs {
		t.Errorf("got snapshot threshold %d, interval %v, trailing logs %d; want cluster.DefaultConfig's %d, %v, %d",
			snapshotThreshold, snapshotInterval, trailingLogs, c.SnapshotThreshold, c.SnapshotInterval, c.TrailingLogs)
	}
}

// -stages reports raft's timings of the commit path; without it there are
// none (they cost CPU).
func TestRunStages(t *testing.T) {
	for _, stages := range []bool{true, false} {
		var stdout, stderr bytes.Buffer
		args := []string{"-duration", "300ms", "-concurrency", "2", "-records", "1", "-o", "json", "-dir", t.TempDir()}
		if stages {
			args = append(args, "-stages")
		}
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("run %v: exit %d, stderr %q", args, code, stderr.String())
		}
		var rep Report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("output is not a report: %v\n%s", err, stdout.String())
		}
		st := rep.Results[0].Stages
		switch {
		case !stages && st != nil:
			t.Errorf("stages without -stages: %+v", st)
		case stages && (st == nil || st.LeaderWriteMs <= 0 || st.FollowerWriteMs <= 0 || st.AppendMs <= 0 || st.CommitMs < st.LeaderWriteMs):
			t.Errorf("stages: %+v, want positive timings, the commit no shorter than the leader's write", st)
		}
	}
}
