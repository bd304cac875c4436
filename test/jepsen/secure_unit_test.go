//go:build linux

package jepsen

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vproc/vproc/cluster/api"
)

// TestClientTransportSendsToken checks that the workload's clients send
// the endpoints' ACL token with every request, and none without one,
// leaving the caller's request as it was.
func TestClientTransportSendsToken(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(api.HeaderToken)
	}))
	defer srv.Close()
	for _, tc := range []struct{ token string }{{"s3cret-management"}, {""}} {
		hc := &http.Client{Transport: clientTransport([]Endpoint{{Name: "n1", URL: srv.URL, Token: tc.token}})}
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/procs", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		hc.CloseIdleConnections()
		if h := <-got; h != tc.token {
			t.Errorf("token %q: the agent got %q", tc.token, h)
		}
		if h := req.Header.Get(api.HeaderToken); h != "" {
			t.Errorf("token %q: the caller's request was changed: %q", tc.token, h)
		}
	}
}
