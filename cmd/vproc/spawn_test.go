package main

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/spec"
)

func TestSpawnRequest(t *testing.T) {
	cases := []struct {
		args []string
		want api.SpawnRequest
	}{
		{
			[]string{"spawn", "--", "sleep", "10"},
			api.SpawnRequest{Command: "sleep", Args: []string{"10"}},
		},
		{
			// Flags after CMD belong to CMD.
			[]string{"spawn", "echo", "--priority", "5"},
			api.SpawnRequest{Command: "echo", Args: []string{"--priority", "5"}},
		},
		{
			[]string{"spawn", "--priority", "80", "--limit", "cpu=2s:5s,mem=64M", "--limit", "nofile=64",
				"--restart", "on-failure:3:1s", "--node", "n2", "--constraint", "rack=a", "--constraint", "ssd=",
				"--uses", "mq:/q,fifo:/run/f", "--uses", "shm:/s", "--env", "A=1", "--env", "B=x=y",
				"--cwd", "/tmp", "--", "worker", "-v"},
			api.SpawnRequest{
				Command: "worker", Args: []string{"-v"}, Priority: 80,
				Limits:  []string{"cpu=2s:5s,mem=64M", "nofile=64"},
				Restart: "on-failure:3:1s", Node: "n2",
				Constraints: []string{"rack=a", "ssd="},
				Uses:        []string{"mq:/q", "fifo:/run/f", "shm:/s"},
				Env:         []string{"A=1", "B=x=y"}, Cwd: "/tmp",
			},
		},
		{
			[]string{"spawn", "--pledge", "rpath,stdio", "--unveil", "/data:wr", "--unveil", "/q:c", "--", "worker"},
			api.SpawnRequest{Command: "worker", Pledge: "stdio rpath", Unveil: []string{"/data:rw", "/q:c"}},
		},
	}
	for _, tc := range cases {
		f := newFakeAPI(t)
		f.onSpawn(42)
		r := runCLI(t, f.srv.URL, "", tc.args...)
		if r.code != 0 || r.stdout != "42\n" || r.stderr != "" {
			t.Errorf("%v: got %+v, want exit 0 and only the PID", tc.args, r)
			continue
		}
		got := f.lastSpawn(t)
		tc.want.Owner = "alice"
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got request %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func TestSpawnBadInput(t *testing.T) {
	cases := []struct {
		flags []string
		want  string
	}{
		{[]string{"--limit", "cpu=fast"}, "bad limit"},
		{[]string{"--limit", "bogus=1"}, "unknown resource"},
		{[]string{"--limit", "cpu=5s:2s"}, "soft limit above hard limit"},
		{[]string{"--priority", "101"}, "bad priority 101 (want 1 to 100"},
		{[]string{"--priority", "0"}, "bad priority 0 (want 1 to 100"},
		{[]string{"--priority", "-3"}, "bad priority -3 (want 1 to 100"},
		{[]string{"--restart", "sometimes"}, "bad restart policy"},
		{[]string{"--restart", "on-failure:x"}, "bad restart policy"},
		{[]string{"--restart", "never:3"}, "bad restart policy"},
		{[]string{"--uses", "pipe:/p"}, "invalid --uses"},
		{[]string{"--constraint", "=x"}, "invalid constraint"},
		{[]string{"--env", "NOVALUE"}, "bad --env"},
		{[]string{"--env", "=x"}, "bad --env"},
		{[]string{"--pledge", "stdio fly"}, "bad --pledge"},
		{[]string{"--unveil", "data:r"}, "bad --unveil"},
		{[]string{"--unveil", "/data:rq"}, "bad --unveil"},
	}
	for _, verb := range []struct {
		name string
		code int
	}{{"spawn", 1}, {"run", 125}} {
		for _, tc := range cases {
			f := newFakeAPI(t)
			f.onSpawn(1)
			args := append(append([]string{verb.name}, tc.flags...), "--", "true")
			r := runCLI(t, f.srv.URL, "", args...)
			if r.code != verb.code {
				t.Errorf("%v: got exit %d, want %d", args, r.code, verb.code)
			}
			checkOneLine(t, args, r.stderr)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: got stderr %q, want it to say %q", args, r.stderr, tc.want)
			}
			if n := f.hitsOf("/v1/spawn"); n != 0 {
				t.Errorf("%v: bad input reached the agent %d times", args, n)
			}
		}
	}
}

func TestSpawnErrors(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		code    string
		message string
		want    string
	}{
		{"unknown program", 400, api.CodeUnknownProgram, "unknown program: nope", "vproc: unknown program: nope\n"},
		{"domain error", 400, "permission", "operation not permitted: nofile hard limit above the parent's 64",
			"vproc: spawn: operation not permitted: nofile hard limit above the parent's 64\n"},
		{"internal", 500, api.CodeInternal, "boom", "vproc: spawn: boom\n"},
	}
	for _, tc := range cases {
		f := newFakeAPI(t)
		f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
			writeAnswer(w, tc.status, api.Error{Code: tc.code, Message: tc.message})
		})
		r := runCLI(t, f.srv.URL, "", "spawn", "nope")
		if r.code != 1 || r.stderr != tc.want || r.stdout != "" {
			t.Errorf("%s: got %+v, want exit 1 and stderr %q", tc.name, r, tc.want)
		}
	}
	r := runCLI(t, unreachable(t), "", "spawn", "true")
	checkOneLine(t, []string{"spawn"}, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach the agent at http://127.0.0.1:") {
		t.Errorf("unreachable: got %+v, want exit 1 and a clear reason", r)
	}
}

func TestCheckRestart(t *testing.T) {
	for _, s := range []string{"never", "always", "on-failure", "on-failure:3", "on-failure:0:500ms", "always:5"} {
		if err := checkRestart(s); err != nil {
			t.Errorf("checkRestart(%q): got %v, want nil", s, err)
		}
	}
	for _, s := range []string{"", "no", "never:1", "on-failure:-1", "on-failure:1:0s", "on-failure:1:x", "always:1:1s:2"} {
		if err := checkRestart(s); err == nil {
			t.Errorf("checkRestart(%q): got nil, want an error", s)
		}
	}
}

// The flags are parsed with the spawn grammar, names in any case, and sent
// in its canonical form.
func TestSpawnSendsCanonicalForms(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(7)
	args := []string{"spawn", "--limit", "MEM=65536K, wall=60s", "--limit", "cpu=unlimited", "--restart", "ALWAYS:0:60s",
		"--constraint", " rack = a ", "--uses", "MQ:/q, shm:/s", "--", "true"}
	r := runCLI(t, f.srv.URL, "", args...)
	if r.code != 0 || r.stdout != "7\n" {
		t.Fatalf("got %+v, want exit 0 and the PID for input %q", r, args)
	}
	got := f.lastSpawn(t)
	want := api.SpawnRequest{Command: "true", Owner: "alice", Limits: []string{"wall=1m,mem=64M"}, Restart: "always:0:1m",
		Constraints: []string{"rack=a"}, Uses: []string{"mq:/q", "shm:/s"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v for input %q", got, want, args)
	}
}

// Each --limit flag is sent in canonical form, and the agent, applying them
// in order, gets what the flags say: a later "unlimited" undoes an earlier
// limit.
func TestLimitFlags(t *testing.T) {
	cases := []struct {
		flags []string
		want  []string
	}{
		{[]string{"cpu=2s:5s,mem=64M", "nofile=64"}, []string{"cpu=2s:5s,mem=64M", "nofile=64"}},
		{[]string{"MEM=65536K"}, []string{"mem=64M"}},
		{[]string{"cpu=unlimited"}, nil},
		{[]string{"cpu=1s", "cpu=unlimited,nofile=3"}, []string{"cpu=1s", "nofile=3,cpu=unlimited"}},
		{[]string{"cpu=1s,cpu=unlimited"}, nil},
		{[]string{"cpu=1s", "nofile=3", "cpu=2s"}, []string{"cpu=1s", "nofile=3", "cpu=2s"}},
	}
	for _, tc := range cases {
		got, err := limitFlags(tc.flags)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("got %q, %v, want %q for input %q", got, err, tc.want, tc.flags)
			continue
		}
		sent, err1 := spec.ParseLimits(got...)
		meant, err2 := spec.ParseLimits(tc.flags...)
		if err1 != nil || err2 != nil || sent != meant {
			t.Errorf("got %+v (%v), want %+v (%v) for input %q", sent, err1, meant, err2, tc.flags)
		}
	}
}
