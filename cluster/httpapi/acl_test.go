package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestLevelOf(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         routeLevel
	}{
		{"GET", "/v1/health", levelPublic},
		{"POST", "/v1/health", levelUser},
		{"POST", "/v1/acl/bootstrap", levelPublic},
		{"POST", "/v1/internal/command", levelNode},
		{"POST", "/v1/internal/lease", levelNode},
		{"GET", "/v1/internal/ipc/stream", levelNode},
		{"POST", "/v1/x/../internal/command", levelNode},
		{"GET", "/v1/snapshot", levelManagement},
		{"PUT", "/v1/snapshot", levelManagement},
		{"GET", "/v1/operator/raft/peers", levelManagement},
		{"PUT", "/v1/operator/scheduler", levelManagement},
		{"GET", "/v1/acl/tokens", levelManagement},
		{"DELETE", "/v1/acl/tokens/abc", levelManagement},
		{"GET", "/debug/pprof/", levelManagement},
		{"GET", "/v1/acl/token/self", levelUser},
		{"POST", "/v1/spawn", levelUser},
		{"GET", "/v1/procs/2/logs", levelUser},
	} {
		r := httptest.NewRequest(c.method, "http://x"+c.path, nil)
		if got := levelOf(r); got != c.want {
			t.Errorf("%s %s: got level %d, want %d", c.method, c.path, got, c.want)
		}
	}
}

func TestPrincipalAllows(t *testing.T) {
	levels := []routeLevel{levelPublic, levelUser, levelNode, levelManagement}
	for _, c := range []struct {
		kind principalKind
		want []bool
	}{
		{anonymous, []bool{true, false, false, false}},
		{user, []bool{true, true, false, false}},
		{agent, []bool{true, true, true, false}},
		{management, []bool{true, true, true, true}},
		{open, []bool{true, true, true, true}},
	} {
		for i, l := range levels {
			if got := (principal{kind: c.kind}).allows(l); got != c.want[i] {
				t.Errorf("kind %d at level %d: got %v, want %v", c.kind, l, got, c.want[i])
			}
		}
	}
}
