package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// writeLog answers a fake logs request from off with chunks, as the API
// does: as JSON chunks with ?format=chunks, else the bytes of the stream
// asked for.
func writeLog(w http.ResponseWriter, r *http.Request, off int64, chunks ...api.LogChunk) {
	q := r.URL.Query()
	w.Header().Set(api.HeaderOffset, fmt.Sprint(off))
	if q.Get("format") == api.LogFormatChunks {
		w.Header().Set("Content-Type", api.ContentTypeChunks)
	}
	for _, c := range chunks {
		c.Off = off
		off += int64(len(c.Data))
		if s := q.Get("stream"); s != "" && s != c.Stream {
			continue
		}
		if q.Get("format") == api.LogFormatChunks {
			json.NewEncoder(w).Encode(c)
		} else {
			w.Write(c.Data)
		}
	}
}

// TestRunSplitsStderr: run writes the process's stderr to its own stderr,
// so that "vproc run -- sh -c 'echo out; echo err >&2' 2>/dev/null" shows
// only out.
func TestRunSplitsStderr(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(8)
	f.onKill()
	f.mux.HandleFunc("GET /v1/procs/8/wait", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.Process{PID: 8, State: "exited", ExitCode: intp(0)})
	})
	f.mux.HandleFunc("GET /v1/procs/8/logs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "" {
			writeLog(w, r, 0, api.LogChunk{Stream: "stdout", Data: []byte("out\n")}, api.LogChunk{Stream: "stderr", Data: []byte("err\n")})
		}
	})
	r := runCLI(t, f.srv.URL, "", "run", "--", "sh", "-c", "echo out; echo err >&2")
	if r.code != 0 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("got %+v, want out on stdout and err on stderr", r)
	}
}

// TestLogsStreamsAndTimes: logs --stream asks the API for one stream;
// --timestamps starts each line with its chunk's time; --since leaves out
// older chunks and those of unknown time.
func TestLogsStreamsAndTimes(t *testing.T) {
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t2 := time.Now().UTC().Add(-time.Minute)
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /v1/procs/5/logs", func(w http.ResponseWriter, r *http.Request) {
		writeLog(w, r, 0,
			api.LogChunk{Stream: "stdout", Data: []byte("old\n")},
			api.LogChunk{Stream: "stdout", At: t1, Data: []byte("a\nb")},
			api.LogChunk{Stream: "stderr", At: t2, Data: []byte("e\n")},
			api.LogChunk{Stream: "stdout", At: t2, Data: []byte("c\n")})
	})
	cases := []struct {
		args           []string
		stdout, stderr string
	}{
		{nil, "old\na\nbc\n", "e\n"},
		{[]string{"--stream", "stdout"}, "old\na\nbc\n", ""},
		{[]string{"--stream", "stderr"}, "", "e\n"},
		{[]string{"--timestamps"}, "- old\n" + t1.Format(time.RFC3339Nano) + " a\n" + t1.Format(time.RFC3339Nano) + " bc\n",
			t2.Format(time.RFC3339Nano) + " e\n"},
		{[]string{"--since", "10m"}, "c\n", "e\n"},
		{[]string{"--since", "2026-01-01T00:00:00Z", "--stream", "stdout"}, "a\nbc\n", ""},
	}
	for _, tc := range cases {
		args := append(append([]string{"logs"}, tc.args...), "5")
		r := runCLI(t, f.srv.URL, "", args...)
		if r.code != 0 || r.stdout != tc.stdout || r.stderr != tc.stderr {
			t.Errorf("%v: got %+v, want stdout %q stderr %q", args, r, tc.stdout, tc.stderr)
		}
	}
	for _, bad := range [][]string{{"--stream", "nope"}, {"--since", "yesterday"}} {
		if r := runCLI(t, f.srv.URL, "", append(append([]string{"logs"}, bad...), "5")...); r.code != 2 && r.code != 1 || r.stderr == "" {
			t.Errorf("logs %v: got %+v, want a usage error", bad, r)
		}
	}
}

// TestRunWithANodeWithoutChunks: a node of an older release answers the
// log's bytes where chunks were asked for; run prints them as stdout.
func TestRunWithANodeWithoutChunks(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(8)
	f.onKill()
	f.mux.HandleFunc("GET /v1/procs/8/wait", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.Process{PID: 8, State: "exited", ExitCode: intp(0)})
	})
	f.mux.HandleFunc("GET /v1/procs/8/logs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "" {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte("out\nerr\n"))
		}
	})
	r := runCLI(t, f.srv.URL, "", "run", "prog")
	if r.code != 0 || r.stdout != "out\nerr\n" || r.stderr != "" {
		t.Fatalf("got %+v, want the bytes on stdout", r)
	}
}

// TestTailChunks: the last n lines over both streams, a last line
// without its newline counting as one, the first chunk cut at its line.
func TestTailChunks(t *testing.T) {
	cs := []api.LogChunk{
		{Stream: "stdout", Off: 0, Data: []byte("a\nb")},
		{Stream: "stderr", Off: 3, Data: []byte("e\n")},
		{Stream: "stdout", Off: 5, Data: []byte("c\nd\n")},
	}
	join := func(cs []api.LogChunk) string {
		var s string
		for _, c := range cs {
			s += fmt.Sprintf("%s@%d:%q ", c.Stream, c.Off, c.Data)
		}
		return s
	}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, ""},
		{1, `stdout@7:"d\n" `},
		{2, `stdout@5:"c\nd\n" `},
		{3, `stdout@2:"b" stderr@3:"e\n" stdout@5:"c\nd\n" `},
		{4, `stdout@0:"a\nb" stderr@3:"e\n" stdout@5:"c\nd\n" `},
		{9, `stdout@0:"a\nb" stderr@3:"e\n" stdout@5:"c\nd\n" `},
	} {
		if got := join(tailChunks(cs, tc.n)); got != tc.want {
			t.Errorf("tail %d: got %s, want %s", tc.n, got, tc.want)
		}
	}
	partial := []api.LogChunk{{Stream: "stdout", Data: []byte("x\ny")}}
	if got := join(tailChunks(partial, 1)); got != `stdout@2:"y" ` {
		t.Errorf("a last line without its newline: got %s", got)
	}
}

// TestLogsTail: --tail N prints the last N lines of the log; with -f it
// then follows from where the log ended.
func TestLogsTail(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /v1/procs/5/logs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("follow") == "" && q.Get("offset") == "":
			writeLog(w, r, 0, api.LogChunk{Stream: "stdout", Data: []byte("1\n2\n3\n")}, api.LogChunk{Stream: "stderr", Data: []byte("4\n")})
		case q.Get("follow") != "" && q.Get("offset") == "8":
			writeLog(w, r, 8, api.LogChunk{Stream: "stdout", Data: []byte("5\n")})
		default:
			t.Errorf("unexpected request %s", r.URL.RawQuery)
		}
	})
	if r := runCLI(t, f.srv.URL, "", "logs", "--tail", "2", "5"); r.code != 0 || r.stdout != "3\n" || r.stderr != "4\n" {
		t.Fatalf("--tail 2: got %+v, want 3 on stdout and 4 on stderr", r)
	}
	if r := runCLI(t, f.srv.URL, "", "logs", "--tail", "1", "-f", "5"); r.code != 0 || r.stdout != "5\n" || r.stderr != "4\n" {
		t.Fatalf("--tail 1 -f: got %+v, want 4 then 5", r)
	}
	if r := runCLI(t, f.srv.URL, "", "logs", "--tail", "-2", "5"); r.code == 0 || !strings.Contains(r.stderr, "--tail -2") {
		t.Fatalf("--tail -2: got %+v, want a usage error naming it", r)
	}
}
