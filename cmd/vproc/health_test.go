package main

import (
	"net/http"
	"testing"

	"github.com/vproc/vproc/cluster/api"
)

// TestHealthAgentOnly checks that health --agent-only (a liveness probe)
// passes whenever the agent answers, and fails when it does not.
func TestHealthAgentOnly(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   any
		code   int
	}{
		{"leader", 200, api.Health{Node: "n1", Leader: "n2", OK: true}, 0},
		{"no leader", 503, api.Health{Node: "n1"}, 0},
		{"error", 500, api.Error{Code: api.CodeInternal, Message: "boom"}, 1},
	}
	for _, tc := range cases {
		f := newFakeAPI(t)
		f.mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
			writeAnswer(w, tc.status, tc.body)
		})
		if r := runCLI(t, f.srv.URL, "", "health", "--agent-only"); r.code != tc.code {
			t.Errorf("%s: got %+v, want exit %d", tc.name, r, tc.code)
		}
	}
	r := runCLI(t, unreachable(t), "", "health", "--agent-only")
	checkOneLine(t, []string{"health", "--agent-only"}, r.stderr)
	if r.code != 1 {
		t.Errorf("unreachable: got %+v, want exit 1", r)
	}
}
