package programs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

func TestStore(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bin := []byte("\x00asm module bytes")
	h, err := s.Put(bin)
	if err != nil || h != Hash(bin) {
		t.Fatalf("Put: %q, %v; want %q", h, err, Hash(bin))
	}
	if got, err := s.Get(h); err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("Get: %q, %v", got, err)
	}
	if _, err := s.Get(Hash([]byte("other"))); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Get of an absent hash: %v, want ErrNotHeld", err)
	}
	for _, bad := range []string{"", "../etc/passwd", strings.Repeat("A", 64)} {
		if _, err := s.Get(bad); !errors.Is(err, ErrBadHash) {
			t.Fatalf("Get(%q): %v, want ErrBadHash", bad, err)
		}
	}
	// Damaged bytes are refused and removed.
	if err := os.WriteFile(s.Path(h), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(h); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of damaged bytes: %v, want ErrCorrupt", err)
	}
	if s.Has(h) {
		t.Fatal("damaged file kept")
	}
}

// fakeTable is a table of one node with a commit function that applies
// to a real FSM.
type fakeTable struct {
	mu  sync.Mutex
	f   *fsm.FSM
	idx uint64
}

func newFakeTable(t *testing.T, nodes ...string) *fakeTable {
	f, err := fsm.New(fsm.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTable{f: f}
	for _, n := range nodes {
		if _, err := ft.send(context.Background(), &fsm.NodeUpsert{ID: n, Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	return ft
}

func (ft *fakeTable) view() *fsm.View { return ft.f.View() }

func (ft *fakeTable) send(_ context.Context, cmd fsm.Command) (*fsm.Result, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.idx++
	r, _ := ft.f.Apply(ft.idx, fsm.Encode(cmd)).(*fsm.Result)
	return r, nil
}

func newService(t *testing.T, ft *fakeTable, max int64) *Service {
	s, err := New(Config{
		Name: "n1", Dir: t.TempDir(), MaxBytes: max,
		Builtin: func(n string) bool { return n == "sleep" },
		View:    ft.view, Send: ft.send,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(t *testing.T, h http.Handler, method, path string, body []byte) (*httptest.ResponseRecorder, api.Error) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var e api.Error
	if w.Code/100 != 2 {
		json.Unmarshal(w.Body.Bytes(), &e)
	}
	return w, e
}

func TestServiceRoutes(t *testing.T) {
	ft := newFakeTable(t, "n1")
	s := newService(t, ft, 64)
	h := s.Handler()
	bin := []byte("\x00asm small")

	// A single-node cluster: the upload is acknowledged with one holder.
	w, _ := do(t, h, "PUT", "/v1/programs/small", bin)
	var p api.Program
	if err := json.Unmarshal(w.Body.Bytes(), &p); w.Code != 200 || err != nil || p.Hash != Hash(bin) || len(p.Holders) != 1 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	if got, ok := s.Lookup("small"); !ok || got != Hash(bin) {
		t.Fatalf("Lookup: %q %v", got, ok)
	}
	if got, err := s.Bytes(context.Background(), Hash(bin)); err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("Bytes: %q %v", got, err)
	}

	cases := []struct {
		name, method, path string
		body               []byte
		status             int
		code               string
	}{
		{"too large", "PUT", "/v1/programs/big", bytes.Repeat([]byte("x"), 65), 413, api.CodeTooLarge},
		{"builtin name", "PUT", "/v1/programs/sleep", bin, 409, api.CodeNameTaken},
		{"empty", "PUT", "/v1/programs/empty", nil, 400, api.CodeBadRequest},
		{"bad name", "PUT", "/v1/programs/a%20b", bin, 400, api.CodeBadRequest},
		{"declared hash differs", "PUT", "/v1/programs/x?sha256=" + strings.Repeat("0", 64), bin, 400, api.CodeHashMismatch},
		{"show missing", "GET", "/v1/programs/nope", nil, 404, api.CodeNoSuchProgram},
		{"remove missing", "DELETE", "/v1/programs/nope", nil, 404, api.CodeNoSuchProgram},
		{"blob under another hash", "PUT", "/v1/internal/programs/" + strings.Repeat("0", 64), bin, 400, api.CodeHashMismatch},
		{"blob not held", "GET", "/v1/internal/programs/" + strings.Repeat("0", 64), nil, 404, api.CodeNotFound},
		{"blob bad hash", "GET", "/v1/internal/programs/xyz", nil, 400, api.CodeBadRequest},
	}
	for _, c := range cases {
		w, e := do(t, h, c.method, c.path, c.body)
		if w.Code != c.status || e.Code != c.code {
			t.Errorf("%s: got %d %q (%s), want %d %q", c.name, w.Code, e.Code, w.Body, c.status, c.code)
		}
	}

	w, _ = do(t, h, "GET", "/v1/programs", nil)
	var l api.ProgramList
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil || len(l.Programs) != 1 || l.Programs[0].Name != "small" {
		t.Fatalf("list: %s", w.Body)
	}
	if w, _ := do(t, h, "DELETE", "/v1/programs/small", nil); w.Code != 200 {
		t.Fatalf("remove: %d %s", w.Code, w.Body)
	}
	if _, ok := s.Lookup("small"); ok {
		t.Fatal("small still found after remove")
	}
}

// TestUploadReplicatesAndPeersFetch runs two services over HTTP: an upload
// to one is pushed to the other, and a third fetches from a holder.
func TestUploadReplicatesAndPeersFetch(t *testing.T) {
	ft := newFakeTable(t)
	names := []string{"n1", "n2", "n3"}
	svcs := make([]*Service, 3)
	for i, n := range names {
		s, err := New(Config{Name: n, Dir: t.TempDir(), View: ft.view, Send: ft.send})
		if err != nil {
			t.Fatal(err)
		}
		svcs[i] = s
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		if _, err := ft.send(context.Background(), &fsm.NodeUpsert{ID: n, Name: n, HTTPAddr: srv.Listener.Addr().String()}); err != nil {
			t.Fatal(err)
		}
	}
	bin := []byte("\x00asm replicated")
	p, err := svcs[0].Add(context.Background(), "rep", "", bin)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Holders, ",") != "n1,n2" || !svcs[1].Store().Has(p.Hash) || svcs[2].Store().Has(p.Hash) {
		t.Fatalf("holders %v; want n1 and n2 holding it, n3 not", p.Holders)
	}
	got, err := svcs[2].Bytes(context.Background(), p.Hash)
	if err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("n3's fetch: %q %v", got, err)
	}
	if rec, _ := ft.view().Program("rep"); strings.Join(rec.Holders, ",") != "n1,n2,n3" {
		t.Fatalf("holders after the fetch: %v", rec.Holders)
	}
	// A holder whose copy is damaged refuses it, and the fetch fails
	// rather than run it.
	for _, s := range svcs {
		os.WriteFile(s.Store().Path(p.Hash), []byte("damaged"), 0o644)
	}
	fresh, err := New(Config{Name: "n4", Dir: t.TempDir(), View: ft.view, Send: ft.send})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Bytes(context.Background(), p.Hash); err == nil || !strings.Contains(err.Error(), "do not match their hash") {
		t.Fatalf("fetch of damaged copies: %v, want a hash refusal", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{}, {Name: "n"}, {Name: "n", Dir: "d"}, {Name: "n", Dir: "d", View: func() *fsm.View { return nil }, Send: func(context.Context, fsm.Command) (*fsm.Result, error) { return nil, nil }, MaxBytes: -1}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
}
