package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

func TestSpawnCaps(t *testing.T) {
	big := strings.Repeat("a", api.MaxArgBytes+1)
	fits := strings.Repeat("a", api.MaxArgBytes)
	long := strings.Repeat("n", api.MaxNameBytes+1)
	for _, tc := range []struct {
		name   string
		req    api.SpawnRequest
		status int    // 0: accepted
		want   string // in the message
	}{
		{"plain", api.SpawnRequest{Command: "echo", Args: []string{"hi"}}, 0, ""},
		{"argument at the cap", api.SpawnRequest{Command: "echo", Args: []string{fits}}, 0, ""},
		{"argument over the cap", api.SpawnRequest{Command: "echo", Args: []string{"x", big}}, 413, "argument 1 is 131073 bytes; the limit is 131072"},
		{"env entry over the cap", api.SpawnRequest{Command: "echo", Env: []string{"A=" + big}}, 413, "env entry 0"},
		{"argv and env over the cap", api.SpawnRequest{Command: "echo", Args: []string{fits, fits, fits}, Env: []string{"A=" + fits[2:]}}, 413, "the limit is 524288"},
		{"NUL in an argument", api.SpawnRequest{Command: "echo", Args: []string{"a\x00b"}}, 400, "argument 0 holds a NUL byte"},
		{"NUL in the environment", api.SpawnRequest{Command: "echo", Env: []string{"A=\x00"}}, 400, "NUL"},
		{"NUL in the command", api.SpawnRequest{Command: "ec\x00ho"}, 400, "command holds a NUL byte"},
		{"long command", api.SpawnRequest{Command: long}, 413, "command is 256 bytes; the limit is 255"},
		{"long node", api.SpawnRequest{Command: "echo", Node: long}, 413, "node is 256 bytes"},
		{"long owner", api.SpawnRequest{Command: "echo", Owner: long}, 413, "owner is 256 bytes"},
		{"NUL in the owner", api.SpawnRequest{Command: "echo", Owner: "r\x00"}, 400, "owner holds a NUL byte"},
		{"long constraint", api.SpawnRequest{Command: "echo", Constraints: []string{"zone=" + long}}, 413, "constraint 0 value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spawnCommand(&tc.req, nil)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("got %v, want the spawn accepted", err)
				}
				return
			}
			var he *httpError
			if !errors.As(err, &he) || he.status != tc.status || !strings.Contains(he.msg, tc.want) {
				t.Fatalf("got %v, want %d naming %q", err, tc.status, tc.want)
			}
		})
	}
}

func TestNodeSpawnCaps(t *testing.T) {
	sp := &fsm.Spawn{Parent: 5, Owner: "root", Spec: fsm.Spec{Command: "echo", Args: []string{strings.Repeat("a", api.MaxArgBytes+1)}}}
	var he *httpError
	if err := checkSpawnCaps(sp); !errors.As(err, &he) || he.status != 413 {
		t.Fatalf("a process's spawn over the cap: got %v, want 413", err)
	}
}

func TestKillTargetsCap(t *testing.T) {
	srv := newTestServer(t, stubCore{})
	targets := make([]int64, api.MaxKillTargets+1)
	for i := range targets {
		targets[i] = int64(i + 2)
	}
	body, _ := json.Marshal(api.KillRequest{Targets: targets, Signal: 15})
	resp, err := http.Post(srv.URL+"/v1/kill", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e api.Error
	_ = json.Unmarshal(b, &e)
	if resp.StatusCode != 413 || e.Code != api.CodeTooLarge || !strings.Contains(e.Message, "the limit is 1000") {
		t.Fatalf("kill with %d targets: got %d %s, want 413 naming the limit of 1000", len(targets), resp.StatusCode, b)
	}
}
