package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/runner"
	"github.com/vproc/vproc/fsm"
)

func TestServingLogsOnDiskAndReaped(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, nil, false, withDataDir(dir), withRunner(func(rc *runner.Config) { rc.GCEvery = 10 * time.Millisecond }))
	h.s.start()
	pid := h.spawn(api.SpawnRequest{Command: "echo", Args: []string{"kept"}})
	h.waitState(pid, fsm.StateExited)
	logs := filepath.Join(dir, "logs")
	waitFor(t, "the log file and its records", 5*time.Second, func() bool {
		ents, _ := os.ReadDir(logs)
		return len(ents) == 2 // <pid>.0.log and <pid>.rec
	})
	// The table reaps the process: its log goes.
	if r := h.c.apply(&fsm.Reap{PID: pid}); r.Err != nil {
		t.Fatal(r.Err)
	}
	waitFor(t, "the log to be deleted", 5*time.Second, func() bool {
		ents, _ := os.ReadDir(logs)
		return len(ents) == 0 && !h.s.logs.Has(pid)
	})
}

func TestServingLogsGoWithTheReap(t *testing.T) {
	// Without the periodic comparison with the whole table (GCEvery is a
	// minute), the table's feed of reaps makes the runner drop a reaped
	// process's log at once.
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "echo", Args: []string{"kept"}})
	h.waitState(pid, fsm.StateExited)
	waitFor(t, "the log", 5*time.Second, func() bool { return h.s.logs.Has(pid) })
	if r := h.c.apply(&fsm.Reap{PID: pid}); r.Err != nil {
		t.Fatal(r.Err)
	}
	waitFor(t, "the log to be dropped", 5*time.Second, func() bool { return !h.s.logs.Has(pid) })
	if every := runner.DefaultConfig().GCEvery; every < time.Minute {
		t.Fatalf("GCEvery is %v: the test would not tell the feed from the periodic comparison", every)
	}
}

func TestServingLoadAndStop(t *testing.T) {
	h := newHarness(t, nil, true)
	if l := h.s.load(); l.Procs != 0 || l.BusySlots != 0 {
		t.Errorf("idle load: got %+v", l)
	}
	for range 3 {
		h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	}
	waitFor(t, "three local processes", 5*time.Second, func() bool { return h.s.load().Procs == 3 })
	busy := h.spawn(api.SpawnRequest{Command: "spin"})
	h.waitState(busy, fsm.StateRunning)
	waitFor(t, "a busy slot", 5*time.Second, func() bool { return h.s.load().BusySlots >= 1 })

	// A follow stream ends when the agent stops.
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	done := make(chan resp, 1)
	go func() { done <- do(t, "GET", h.url+"/v1/procs/"+itoa(pid)+"/logs?follow", nil, nil) }()
	h.waitState(pid, fsm.StateRunning)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := h.s.stop(ctx); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if n := h.s.kernel.Count(); n != 0 {
		t.Errorf("live processes after stop: %d", n)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a follow stream outlived the agent")
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
