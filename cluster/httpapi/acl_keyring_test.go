package httpapi

import (
	"net/http/httptest"
	"testing"
)

// TestKeyringFanoutIsNodeTraffic checks the ACL level of the keyring
// routes: a change of the cluster's keyring takes a management token, and
// the fan-out to one node's own keyring (?local=true), which the agent
// that took the change sends under its certificate or the agent token,
// is node traffic.
func TestKeyringFanoutIsNodeTraffic(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		want           routeLevel
	}{
		{"GET", "/v1/operator/keyring", levelManagement},
		{"POST", "/v1/operator/keyring", levelManagement},
		{"POST", "/v1/operator/keyring?local=false", levelManagement},
		{"GET", "/v1/operator/keyring?local=true", levelNode},
		{"POST", "/v1/operator/keyring?local=true", levelNode},
		{"DELETE", "/v1/operator/keyring?local=true", levelNode},
		{"GET", "/v1/operator/raft/peers?local=true", levelManagement},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if got := levelOf(r); got != tc.want {
			t.Errorf("%s %s: level %v, want %v", tc.method, tc.target, got, tc.want)
		}
	}
	// Node traffic is not a user's: a user token is refused it, an agent
	// and a management token are let through.
	if (principal{kind: user}).allows(levelNode) || !(principal{kind: agent}).allows(levelNode) || !(principal{kind: management}).allows(levelNode) {
		t.Error("node-level routes: want agents and management tokens only")
	}
}
