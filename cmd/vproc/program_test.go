package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vproc/vproc/cluster/api"
)

// fakePrograms installs program routes on f that keep uploads in memory.
func fakePrograms(f *fakeAPI) (uploads func() map[string][]byte) {
	var mu sync.Mutex
	got := map[string][]byte{}
	f.mux.HandleFunc("PUT /v1/programs/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		name := r.PathValue("name")
		if name == "sleep" {
			writeAnswer(w, 409, api.Error{Code: api.CodeNameTaken, Message: `"sleep" is a builtin`})
			return
		}
		mu.Lock()
		got[name] = b
		mu.Unlock()
		writeAnswer(w, 200, api.Program{Name: name, Hash: strings.Repeat("ab", 32), Size: uint64(len(b)), Owner: r.URL.Query().Get("owner"), Holders: []string{"n1", "n2"}})
	})
	f.mux.HandleFunc("GET /v1/programs", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.ProgramList{Programs: []api.Program{{Name: "wc2", Hash: strings.Repeat("cd", 32), Size: 7, Holders: []string{"n1", "n3"}}}})
	})
	f.mux.HandleFunc("GET /v1/programs/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "wc2" {
			writeAnswer(w, 404, api.Error{Code: api.CodeNoSuchProgram, Message: "no program " + r.PathValue("name")})
			return
		}
		writeAnswer(w, 200, api.Program{Name: "wc2", Hash: strings.Repeat("cd", 32), Size: 7, Holders: []string{"n1"}})
	})
	f.mux.HandleFunc("DELETE /v1/programs/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "wc2" {
			writeAnswer(w, 404, api.Error{Code: api.CodeNoSuchProgram, Message: "no program " + r.PathValue("name")})
			return
		}
		writeAnswer(w, 200, struct{}{})
	})
	return func() map[string][]byte {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

func TestProgramVerbs(t *testing.T) {
	f := newFakeAPI(t)
	uploads := fakePrograms(f)
	file := filepath.Join(t.TempDir(), "wc2.wasm")
	if err := os.WriteFile(file, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, f.srv.URL, "", "program", "add", "wc2", file)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "wc2 abababababab 8 bytes on n1,n2") {
		t.Fatalf("program add: %+v", r)
	}
	if string(uploads()["wc2"]) != "\x00asm\x01\x00\x00\x00" {
		t.Fatalf("uploaded %q", uploads()["wc2"])
	}
	r = runCLI(t, f.srv.URL, "", "program", "add", "sleep", file)
	if r.code != 1 || !strings.Contains(r.stderr, "builtin") {
		t.Fatalf("program add sleep: %+v, want refused", r)
	}
	r = runCLI(t, f.srv.URL, "", "program", "add", "x", filepath.Join(t.TempDir(), "missing.wasm"))
	if r.code != 1 || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("program add of a missing file: %+v", r)
	}

	r = runCLI(t, f.srv.URL, "", "program", "ls")
	if r.code != 0 || !strings.Contains(r.stdout, "NAME") || !strings.Contains(r.stdout, "wc2") || !strings.Contains(r.stdout, "n1,n3") {
		t.Fatalf("program ls: %+v", r)
	}
	r = runCLI(t, f.srv.URL, "", "program", "ls", "-o", "json")
	var list []api.Program
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].Name != "wc2" {
		t.Fatalf("program ls -o json: %+v (%v)", r, err)
	}
	r = runCLI(t, f.srv.URL, "", "program", "show", "wc2")
	if r.code != 0 || !strings.Contains(r.stdout, "sha256:  "+strings.Repeat("cd", 32)) {
		t.Fatalf("program show: %+v", r)
	}
	r = runCLI(t, f.srv.URL, "", "program", "show", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, "no program nope") {
		t.Fatalf("program show nope: %+v", r)
	}
	if r = runCLI(t, f.srv.URL, "", "program", "rm", "wc2"); r.code != 0 {
		t.Fatalf("program rm: %+v", r)
	}
	if r = runCLI(t, f.srv.URL, "", "program", "rm", "nope"); r.code != 1 {
		t.Fatalf("program rm nope: %+v", r)
	}
	if r = runCLI(t, f.srv.URL, "", "program"); r.code == 0 {
		t.Fatalf("program without a verb: %+v", r)
	}
}

func TestRunWasmUploadsThenSpawns(t *testing.T) {
	f := newFakeAPI(t)
	uploads := fakePrograms(f)
	file := filepath.Join(t.TempDir(), "hello.wasm")
	if err := os.WriteFile(file, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The spawn is refused, which ends run with 127: what matters here is
	// what was uploaded and what was asked for.
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		var req api.SpawnRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.spawns = append(f.spawns, req)
		f.mu.Unlock()
		writeAnswer(w, 400, api.Error{Code: api.CodeUnknownProgram, Message: "unknown program: " + req.Command})
	})
	r := runCLI(t, f.srv.URL, "", "run", "--wasm", file, "--", "a", "b")
	if _, ok := uploads()["hello"]; !ok {
		t.Fatalf("run --wasm uploaded %v, want hello", uploads())
	}
	req := f.lastSpawn(t)
	if req.Command != "hello" || strings.Join(req.Args, " ") != "a b" {
		t.Fatalf("spawned %+v, want hello a b", req)
	}
	if r.code != 127 {
		t.Fatalf("run: %+v, want 127 from the refused spawn", r)
	}
	if r = runCLI(t, f.srv.URL, "", "run"); r.code == 0 {
		t.Fatalf("run without a command: %+v", r)
	}
}
