package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster"
	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/testwait"
)

// followCLI runs vproc events (args) against addr as token until its
// output satisfies done, then interrupts it and returns its result.
func followCLI(t *testing.T, addr, token string, done func(stdout string) bool, args ...string) result {
	t.Helper()
	var stdout, stderr lockedBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		switch k {
		case "VPROC_ADDR":
			return addr
		case "VPROC_TOKEN":
			return token
		}
		return ""
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() { code <- run(ctx, args, e) }()
	ok := false
	deadline := time.Now().Add(30 * time.Second)
	for !ok && time.Now().Before(deadline) {
		select {
		case c := <-code:
			return result{c, stdout.String(), stderr.String()}
		case <-time.After(20 * time.Millisecond):
		}
		ok = done(stdout.String())
	}
	cancel()
	r := result{<-code, stdout.String(), stderr.String()}
	if !ok {
		t.Fatalf("%v: the output never showed what was awaited: %+v", args, r)
	}
	return r
}

// eventsAgent starts an agent with an event buffer of size events, ACLs
// on when acl is set, and waits for its leader.
func eventsAgent(t *testing.T, size int, acl bool) string {
	t.Helper()
	addr := testAgent(t, func(cfg *cluster.Config) {
		cfg.EventBuffer = size
		if acl {
			cfg.ACLEnabled, cfg.AgentToken = true, "events-test-agent-token-0123456789"
		}
	})
	testwait.For(t, "a leader", 30*time.Second, func() bool { return vprocAs(addr, "", "health").code == 0 })
	return addr
}

// TestEventsCLI follows a process's life through vproc events, as JSON
// and as lines for people, under ACLs: a user's token reads the stream,
// no token is denied, and a bad topic is refused.
func TestEventsCLI(t *testing.T) {
	addr := eventsAgent(t, 4096, true)
	mgmt := strings.TrimSpace(vprocAs(addr, "", "acl", "bootstrap", "-q").stdout)
	alice := strings.TrimSpace(vprocAs(addr, mgmt, "acl", "token", "create", "--user", "alice", "-q").stdout)
	if alice == "" {
		t.Fatal("no token for alice")
	}
	r := vprocAs(addr, alice, "spawn", "--", "true")
	if r.code != 0 {
		t.Fatalf("spawn: %+v", r)
	}
	pid := strings.TrimSpace(r.stdout)
	if r := vprocAs(addr, alice, "wait", pid); r.code != 0 {
		t.Fatalf("wait: %+v", r)
	}

	if r := vprocAs(addr, "", "events"); r.code != 1 || !strings.Contains(r.stderr, "token") {
		t.Fatalf("events without a token: %+v, want a denial", r)
	}
	checkOneLine(t, []string{"events"}, vprocAs(addr, "", "events").stderr)

	js := followCLI(t, addr, alice, func(out string) bool { return strings.Contains(out, `"type":"exited"`) },
		"events", "--index", "0", "--pid", pid, "-o", "json")
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(js.stdout), "\n") {
		var ev api.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if ev.Topic != api.EventTopicProc || ev.Index == 0 || ev.Time == "" {
			t.Fatalf("event %+v", ev)
		}
		types = append(types, ev.Type)
	}
	if got := strings.Join(types, ","); got != "spawned,placed,started,exited" {
		t.Fatalf("pid %s's events: %s", pid, got)
	}
	if js.code != 0 {
		t.Fatalf("interrupted events: %+v", js)
	}

	human := followCLI(t, addr, alice, func(out string) bool { return strings.Contains(out, " up ") },
		"events", "--index", "0", "--topic", "node")
	line := strings.Fields(strings.Split(human.stdout, "\n")[0])
	if len(line) < 7 || line[2] != "node" || line[3] != "up" || line[4] != "-" || line[5] != "dev" || !strings.Contains(human.stdout, "status=alive") {
		t.Fatalf("node events for people: %q", human.stdout)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", line[0]); err != nil {
		t.Fatalf("time column %q: %v", line[0], err)
	}

	// Live: a kill shows up as signalled, then exited by the signal.
	r = vprocAs(addr, alice, "spawn", "--", "sleep", "60")
	if r.code != 0 {
		t.Fatalf("spawn: %+v", r)
	}
	sleeper := strings.TrimSpace(r.stdout)
	var killOnce sync.Once
	live := followCLI(t, addr, alice, func(out string) bool {
		if strings.Contains(out, " started ") {
			killOnce.Do(func() {
				if r := vprocAs(addr, alice, "kill", sleeper); r.code != 0 {
					t.Errorf("kill: %+v", r)
				}
			})
		}
		return strings.Contains(out, "signal=SIGTERM") && strings.Contains(out, " exited ")
	}, "events", "--index", "0", "--pid", sleeper)
	if !strings.Contains(live.stdout, " signalled ") {
		t.Fatalf("the kill's events: %q", live.stdout)
	}

	if r := vprocAs(addr, alice, "events", "--topic", "jobs"); r.code != 1 || !strings.Contains(r.stderr, `bad --topic "jobs"`) {
		t.Fatalf("events --topic jobs: %+v", r)
	}
}

// TestEventsCLIGone: resuming from an index the agent no longer holds
// fails with one line naming the oldest index it has.
func TestEventsCLIGone(t *testing.T) {
	addr := eventsAgent(t, 2, false)
	for i := 0; i < 3; i++ {
		if r := vprocAs(addr, "", "run", "--", "true"); r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
	}
	r := vprocAs(addr, "", "events", "--index", "0")
	if r.code != 1 || !strings.Contains(r.stderr, "no longer holds the events after index 0; the oldest index to resume from is ") {
		t.Fatalf("events --index 0: %+v", r)
	}
	checkOneLine(t, []string{"events", "--index", "0"}, r.stderr)
}

// TestEventsCLIReconnects: a stream that ends, or drops the reader, is
// reopened after the last index seen (a heartbeat's included), and the
// events are printed once each.
func TestEventsCLIReconnects(t *testing.T) {
	f := newFakeAPI(t)
	var mu sync.Mutex
	var asked []string
	f.mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(asked)
		asked = append(asked, r.URL.Query().Get("index"))
		mu.Unlock()
		w.Header().Set(api.HeaderIndex, "10")
		w.Header().Set("Content-Type", api.ContentTypeEvents)
		enc := json.NewEncoder(w)
		switch n {
		case 0: // an event, then the connection ends
			enc.Encode(api.Event{Index: 11, Topic: "proc", Type: "spawned", PID: 5, Time: "2026-12-07T04:31:02Z"})
		case 1: // a heartbeat, an event, then this reader is dropped
			enc.Encode(api.Event{Index: 12, Type: api.EventHeartbeat})
			enc.Encode(api.Event{Index: 14, Topic: "proc", Type: "exited", PID: 5, Time: "2026-12-07T04:31:03Z", Detail: map[string]any{"exit_code": 0}})
			enc.Encode(api.Event{Index: 14, Topic: api.EventTopicStream, Type: api.EventDropped, Detail: map[string]any{"reason": "fell behind"}})
		default: // idle until the client goes
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	})
	r := followCLI(t, f.srv.URL, "", func(string) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(asked) >= 3
	}, "events", "-o", "json")
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(asked, ",") != ",11,14" {
		t.Fatalf("the stream was asked from %q, want from now, then after 11, then after 14", asked)
	}
	if n := strings.Count(r.stdout, "\n"); n != 2 || !strings.Contains(r.stdout, `"type":"spawned"`) || !strings.Contains(r.stdout, `"type":"exited"`) {
		t.Fatalf("stdout %q, want the two events once each", r.stdout)
	}
	if !strings.Contains(r.stderr, "dropped this reader: fell behind; resuming after index 14") {
		t.Fatalf("stderr %q", r.stderr)
	}
}
