package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/testwait"
)

func topAPI(t *testing.T) *fakeAPI {
	f := psAPI(t)
	f.mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.NodeList{Nodes: []api.Node{
			{Name: "n2", Status: "alive", Slots: 2, Capacity: 128, Assigned: 1, Load: api.Load{BusySlots: 1, Procs: 1}},
		}})
	})
	return f
}

func TestTopIterations(t *testing.T) {
	f := topAPI(t)
	r := runCLI(t, f.srv.URL, "", "top", "-n", "2", "-d", "10ms")
	if r.code != 0 {
		t.Fatalf("top -n 2: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := strings.Count(r.stdout, "vproc top - "); got != 2 {
		t.Errorf("top -n 2 drew %d frames, want 2:\n%s", got, r.stdout)
	}
	for _, want := range []string{
		"1 processes: 1 running, 0 placed, 0 pending",
		"n2    alive   nonvoter  -        2      -       1/128",
		"12   1     running  waiting  n2    50   1.5s  sleep 100",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("top output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "init") || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("top shows init, or redraws a non-terminal:\n%s", r.stdout)
	}
	if one := runCLI(t, f.srv.URL, "", "top", "--once"); one.code != 0 || strings.Count(one.stdout, "vproc top - ") != 1 {
		t.Errorf("top --once: exit %d, output\n%s", one.code, one.stdout)
	}
	for _, args := range [][]string{{"top", "-d", "0s"}, {"top", "-n", "-1"}} {
		if r := runCLI(t, f.srv.URL, "", args...); r.code != 1 {
			t.Errorf("%v: exit %d, want 1", args, r.code)
		}
	}
}

// TestTopInterrupt checks that Ctrl-C ends a refreshing top with exit 0.
func TestTopInterrupt(t *testing.T) {
	f := topAPI(t)
	var mu sync.Mutex
	var relay chan<- os.Signal
	var stdout lockedBuffer
	e := &env{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: io.Discard,
		getenv: func(k string) string {
			if k == "VPROC_ADDR" {
				return f.srv.URL
			}
			return ""
		},
		notify: func(c chan<- os.Signal, sig ...os.Signal) func() {
			mu.Lock()
			relay = c
			mu.Unlock()
			return func() {}
		},
	}
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"top", "-d", "10ms"}, e) }()
	testwait.Until(t, "top's second frame", 10*time.Second, 5*time.Millisecond, func() error {
		if out := stdout.String(); strings.Count(out, "vproc top - ") < 2 {
			return fmt.Errorf("what top drew so far:\n%s", out)
		}
		return nil
	})
	mu.Lock()
	relay <- syscall.SIGINT
	mu.Unlock()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("top after Ctrl-C: exit %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("top did not stop on Ctrl-C")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestOperatorScheduler(t *testing.T) {
	f := newFakeAPI(t)
	var mu sync.Mutex
	strategy := "spread"
	f.mux.HandleFunc("GET /v1/operator/scheduler", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		writeAnswer(w, 200, api.SchedulerConfig{Strategy: strategy})
	})
	f.mux.HandleFunc("PUT /v1/operator/scheduler", func(w http.ResponseWriter, r *http.Request) {
		var req api.SchedulerConfigRequest
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		defer mu.Unlock()
		strategy = req.Strategy
		writeAnswer(w, 200, api.SchedulerConfig{Strategy: strategy, ModifyIndex: 9})
	})
	if r := runCLI(t, f.srv.URL, "", "operator", "scheduler", "get-config"); r.code != 0 || r.stdout != "strategy: spread\n" {
		t.Errorf("get-config: %+v", r)
	}
	if r := runCLI(t, f.srv.URL, "", "operator", "scheduler", "set-config", "--strategy", "BinPack"); r.code != 0 || r.stdout != "strategy: binpack\n" {
		t.Errorf("set-config --strategy BinPack: %+v", r)
	}
	r := runCLI(t, f.srv.URL, "", "operator", "scheduler", "get-config", "-o", "json")
	var cfg api.SchedulerConfig
	if err := json.Unmarshal([]byte(r.stdout), &cfg); err != nil || cfg.Strategy != "binpack" {
		t.Errorf("get-config -o json after set: %q %v", r.stdout, err)
	}
	for _, args := range [][]string{
		{"operator", "scheduler", "set-config"},
		{"operator", "scheduler", "set-config", "--strategy", "random"},
		{"operator", "scheduler", "set-config", "--strategy", ""},
	} {
		r := runCLI(t, f.srv.URL, "", args...)
		if r.code != 1 {
			t.Errorf("%v: exit %d, want 1", args, r.code)
		}
		checkOneLine(t, args, r.stderr)
	}
}
