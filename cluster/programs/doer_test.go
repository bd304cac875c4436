package programs

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// signingDoer presents a credential on every request, as a node's client
// presents the agent token.
type signingDoer struct{ n atomic.Int32 }

func (d *signingDoer) Do(req *http.Request) (*http.Response, error) {
	d.n.Add(1)
	req.Header.Set("X-Test-Credential", "node")
	return http.DefaultClient.Do(req)
}

// TestPeerTrafficGoesThroughConfigHTTP checks that pushes and fetches go
// through Config.HTTP, which carries the node's credentials: peers that
// refuse requests without them still take the upload and serve the fetch.
func TestPeerTrafficGoesThroughConfigHTTP(t *testing.T) {
	ft := newFakeTable(t)
	names := []string{"n1", "n2", "n3"}
	svcs := make([]*Service, 3)
	doers := make([]*signingDoer, 3)
	for i, n := range names {
		doers[i] = &signingDoer{}
		s, err := New(Config{Name: n, Dir: t.TempDir(), View: ft.view, Send: ft.send, HTTP: doers[i]})
		if err != nil {
			t.Fatal(err)
		}
		svcs[i] = s
		h := s.Handler()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Test-Credential") != "node" || r.Header.Get(api.HeaderNode) == "" {
				writeJSON(w, http.StatusForbidden, api.Error{Code: api.CodeForbidden, Message: "node traffic needs credentials"})
				return
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		if _, err := ft.send(context.Background(), &fsm.NodeUpsert{ID: n, Name: n, HTTPAddr: srv.Listener.Addr().String()}); err != nil {
			t.Fatal(err)
		}
	}
	bin := []byte("\x00asm signed")
	p, err := svcs[0].Add(context.Background(), "signed", "alice", bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Holders) != 2 || doers[0].n.Load() == 0 {
		t.Fatalf("add: holders %v, %d requests through Config.HTTP", p.Holders, doers[0].n.Load())
	}
	got, err := svcs[2].Bytes(context.Background(), p.Hash)
	if err != nil || !bytes.Equal(got, bin) || doers[2].n.Load() == 0 {
		t.Fatalf("n3's fetch: %q %v, %d requests through Config.HTTP", got, err, doers[2].n.Load())
	}

	// A service whose client presents nothing is refused by such peers,
	// and says why.
	bare, err := New(Config{Name: "n4", Dir: t.TempDir(), View: ft.view, Send: ft.send})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Bytes(context.Background(), p.Hash); err == nil || !bytes.Contains([]byte(err.Error()), []byte("node traffic needs credentials")) {
		t.Fatalf("fetch without credentials: %v, want the peers' refusal", err)
	}
}
