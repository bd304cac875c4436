package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
)

// TestUnknownVerbSuggests checks that a mistyped verb is named, with the
// nearest verbs, at the top and under a group.
func TestUnknownVerbSuggests(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sawn"}, `vproc: unknown command "sawn" for "vproc"; did you mean "spawn"?`},
		{[]string{"mq", "crate", "/q"}, `vproc: unknown command "crate" for "vproc mq"; did you mean "create"?`},
		{[]string{"xyzzy"}, `vproc: unknown command "xyzzy" for "vproc"` + "\n"},
	}
	for _, tc := range cases {
		r := runCLI(t, unreachable(t), "", tc.args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("%v: got exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestBadValuesSayWhich checks that each refused value is named with the
// reason, before anything reaches the agent.
func TestBadValuesSayWhich(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"mq", "create", "--maxmsg", "100000000", "/q"}, []string{"--maxmsg 100000000", "1 to 65536 messages"}},
		{[]string{"mq", "create", "--msgsize", "-1", "/q"}, []string{"--msgsize -1", "1 to 1048576 bytes"}},
		{[]string{"mq", "create", "q"}, []string{`queue name "q"`, "one leading slash"}},
		{[]string{"mq", "create", "/a/b"}, []string{`queue name "/a/b"`, "no other"}},
		{[]string{"mq", "send", "-p", "99", "/q", "hi"}, []string{"--priority 99", "0 to 31"}},
		{[]string{"mq", "send", "--timeout", "1", "/q", "hi"}, []string{`"1"`, "--timeout", "missing unit"}},
		{[]string{"mq", "recv", "--timeout", "-1s", "/q"}, []string{"--timeout -1s", "0 or more"}},
		{[]string{"mq", "rm", "jobs"}, []string{`queue name "jobs"`}},
		{[]string{"fifo", "create", "rel"}, []string{`FIFO path "rel"`, "absolute path"}},
		{[]string{"shm", "rm", "x"}, []string{`segment name "x"`, "one leading slash"}},
		{[]string{"spawn", "--priority", "0", "true"}, []string{"priority 0", "1 to 100"}},
		{[]string{"spawn", "--", ""}, []string{"empty command", "program name"}},
		{[]string{"wait", "x1"}, []string{`PID "x1"`, "whole number"}},
		{[]string{"kill", "-s", "NOPE", "3"}, []string{`signal "NOPE"`, "name such as TERM"}},
		{[]string{"bench", "spawn", "--count", "-1"}, []string{"--count -1", "want 0"}},
		{[]string{"bench", "spawn", "--duration", "0s"}, []string{"--duration 0s", "positive"}},
		{[]string{"top", "--limit", "-2"}, []string{"--limit -2", "want 0"}},
		{[]string{"tls", "cert", "create", "--server", "--additional-ipaddress", "x.y"}, []string{`"x.y"`, "IP address"}},
	}
	for _, tc := range cases {
		f := newFakeAPI(t)
		r := runCLI(t, f.srv.URL, "", tc.args...)
		if r.code == 0 {
			t.Errorf("%v: exit 0", tc.args)
		}
		first, _, _ := strings.Cut(r.stderr, "\n")
		for _, w := range tc.want {
			if !strings.Contains(first, w) {
				t.Errorf("%v: got %q, want it to say %q", tc.args, first, w)
			}
		}
		f.mu.Lock()
		for path, n := range f.hits {
			t.Errorf("%v: the bad value reached the agent: %d requests to %s", tc.args, n, path)
		}
		f.mu.Unlock()
	}
}

// TestMQTimeoutIsADuration checks that mq send and recv take --timeout as
// a duration, and send none when it is left out.
func TestMQTimeoutIsADuration(t *testing.T) {
	f := newFakeAPI(t)
	var sent api.MQSendRequest
	var recv api.MQRecvRequest
	f.mux.HandleFunc("POST /v1/mq/send", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&sent)
		writeAnswer(w, 200, struct{}{})
	})
	f.mux.HandleFunc("POST /v1/mq/recv", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&recv)
		writeAnswer(w, 200, api.MQMessage{Message: []byte("m")})
	})
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, ""},
		{[]string{"--timeout", "1500ms"}, "1.5s"},
		{[]string{"--timeout", "2m"}, "2m0s"},
		{[]string{"--timeout", "0s"}, "0s"},
	} {
		args := append(append([]string{"mq", "send"}, tc.flags...), "/q", "hi")
		if r := runCLI(t, f.srv.URL, "", args...); r.code != 0 || sent.Timeout != tc.want {
			t.Errorf("%v: got %+v, timeout %q; want %q", args, r, sent.Timeout, tc.want)
		}
		args = append(append([]string{"mq", "recv"}, tc.flags...), "/q")
		if r := runCLI(t, f.srv.URL, "", args...); r.code != 0 || recv.Timeout != tc.want {
			t.Errorf("%v: got %+v, timeout %q; want %q", args, r, recv.Timeout, tc.want)
		}
	}
}

// doubled reports whether an error line repeats a word of one "prefix: "
// in the next, as "spawn: spawn: empty command" or "snapshot restore:
// snapshot: ..." do.
func doubled(line string) bool {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(line), "vproc: "), ": ")
	for i := 0; i+1 < len(parts); i++ {
		a, b := strings.Fields(parts[i]), strings.Fields(parts[i+1])
		if len(b) > 3 {
			continue // a sentence, not a prefix
		}
		for _, w := range b {
			if slices.Contains(a, w) {
				return true
			}
		}
	}
	return false
}

func TestDoubled(t *testing.T) {
	for line, want := range map[string]bool{
		"vproc: spawn: spawn: empty command":                          true,
		"vproc: snapshot restore: snapshot: fsm: bad snapshot":        true,
		"vproc: fifo create: mkfifo /x: file exists":                  false,
		"vproc: spawn: no node \"n9\" in the cluster":                 false,
		"vproc: bench spawn: every operation failed at concurrency 1": false,
	} {
		if got := doubled(line); got != want {
			t.Errorf("doubled(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestNoDoubledPrefixes runs failures whose reasons come with a prefix of
// their own, from the client or the agent, and checks that no error line
// repeats its verb.
func TestNoDoubledPrefixes(t *testing.T) {
	f := newFakeAPI(t)
	fail := func(w http.ResponseWriter, r *http.Request) {
		// The agent's own words, prefixed as its packages prefix them.
		writeAnswer(w, 400, api.Error{Code: api.CodeBadRequest, Message: strings.TrimPrefix(r.URL.Path, "/v1/") + ": fsm: bad input"})
	}
	for _, route := range []string{"POST /v1/spawn", "PUT /v1/snapshot", "GET /v1/snapshot", "POST /v1/mq", "POST /v1/kill"} {
		f.mux.HandleFunc(route, fail)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"spawn", "--", ""},
		{"spawn", "true"},
		{"bench", "spawn", "--count", "1", "--concurrency", "1", "--", ""},
		{"bench", "spawn", "--count", "1", "--concurrency", "1"},
		{"snapshot", "restore", "-"},
		{"snapshot", "save", dir + "/s"},
		{"mq", "create", "/q"},
		{"kill", "5"},
		{"--addr", "ftp://x", "ps"},
	} {
		r := runCLI(t, f.srv.URL, "snapshot", args...)
		if r.code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if doubled(line) {
				t.Errorf("%v: doubled prefix in %q", args, line)
			}
		}
	}
}

// readVerbs are the verbs that read and print state: each takes -o json.
var readVerbs = []string{
	"vproc ps", "vproc top", "vproc nodes", "vproc health", "vproc wait",
	"vproc mq ls", "vproc fifo ls", "vproc shm ls", "vproc program ls", "vproc program show",
	"vproc operator raft list-peers", "vproc operator scheduler get-config",
	"vproc operator keyring list", "vproc acl token list", "vproc acl token self",
}

func TestReadVerbsTakeJSON(t *testing.T) {
	root := newRootCmd(&env{getenv: func(string) string { return "" }})
	for _, path := range readVerbs {
		cmd, _, err := root.Find(strings.Fields(path)[1:])
		if err != nil || cmd.CommandPath() != path {
			t.Errorf("%s: no such verb (%v)", path, err)
			continue
		}
		if cmd.Flags().Lookup("output") == nil {
			t.Errorf("%s: no -o/--output flag", path)
		}
	}
}

func TestHealthJSON(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   api.Health
		code   int
	}{
		{200, api.Health{Node: "n1", Leader: "n2", OK: true}, 0},
		{503, api.Health{Node: "n1"}, 1},
	} {
		f := newFakeAPI(t)
		f.mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) { writeAnswer(w, tc.status, tc.body) })
		r := runCLI(t, f.srv.URL, "", "health", "-o", "json")
		var h api.Health
		if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || h != tc.body || r.code != tc.code {
			t.Errorf("health -o json: got %+v (%v), want %+v and exit %d", r, err, tc.body, tc.code)
		}
	}
}

func TestWaitJSON(t *testing.T) {
	f := newFakeAPI(t)
	for pid, code := range map[int]int{4: 0, 5: 3} {
		p := api.Process{PID: uint64(pid), State: "exited", ExitCode: intp(code), Command: "sh"}
		f.mux.HandleFunc("GET /v1/procs/"+strconv.Itoa(pid)+"/wait", func(w http.ResponseWriter, r *http.Request) { writeAnswer(w, 200, p) })
	}
	f.mux.HandleFunc("GET /v1/procs/9/wait", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 404, api.Error{Code: api.CodeNoSuchProcess, Message: "no such process"})
	})
	r := runCLI(t, f.srv.URL, "", "wait", "-o", "json", "5", "4", "9")
	var procs []api.Process
	if err := json.Unmarshal([]byte(r.stdout), &procs); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, r.stdout)
	}
	// 9 does not exist: one line on stderr, and the last PID's code.
	if len(procs) != 2 || procs[0].PID != 5 || procs[1].PID != 4 || r.code != 125 || r.stderr != "vproc: no such process: 9\n" {
		t.Errorf("got %+v, %+v; want 5 then 4, exit 125 for the missing 9", procs, r)
	}
	r = runCLI(t, f.srv.URL, "", "wait", "4", "5")
	if r.stdout != "4: exit status 0\n5: exit status 3\n" || r.code != 3 {
		t.Errorf("wait 4 5: got %+v", r)
	}
}

func TestTopJSON(t *testing.T) {
	f := psAPI(t)
	f.mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.NodeList{Nodes: []api.Node{{Name: "n2"}, {Name: "n1"}}})
	})
	r := runCLI(t, f.srv.URL, "", "top", "-n", "2", "-d", "10ms", "-o", "json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 {
		t.Fatalf("got %+v, want two JSON lines", r)
	}
	for _, l := range lines {
		var snap topSnapshot
		if err := json.Unmarshal([]byte(l), &snap); err != nil {
			t.Fatalf("not JSON: %v: %s", err, l)
		}
		if len(snap.Nodes) != 2 || snap.Nodes[0].Name != "n1" || len(snap.Processes) != 1 || snap.Processes[0].PID != 12 ||
			snap.States["running"] != 1 || snap.Index != 30 || time.Since(snap.Time) > time.Hour {
			t.Errorf("got %+v", snap)
		}
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("escape codes in JSON: %q", r.stdout)
	}
}

// TestEveryVerbHasExamples walks the command tree: every verb that runs
// has examples in its --help, and every entry of the examples names a
// verb.
func TestEveryVerbHasExamples(t *testing.T) {
	root := newRootCmd(&env{getenv: func(string) string { return "" }})
	seen := map[string]bool{}
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		seen[cmd.CommandPath()] = true
		if cmd.Runnable() && !cmd.HasSubCommands() && !cmd.Hidden && strings.TrimSpace(cmd.Example) == "" {
			t.Errorf("%s: no examples (add them to examples in examples.go)", cmd.CommandPath())
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for path := range examples {
		if !seen[path] {
			t.Errorf("examples has %q, which is no verb", path)
		}
	}
	r := runCLI(t, unreachable(t), "", "mq", "send", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Examples:\n  vproc mq send /jobs") {
		t.Errorf("mq send --help: got %+v", r)
	}
}
