package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/vproc/vproc/cluster/api"
)

func TestMQVerbs(t *testing.T) {
	f := newFakeAPI(t)
	var created api.MQCreateRequest
	var sent api.MQSendRequest
	f.mux.HandleFunc("POST /v1/mq", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&created)
		writeAnswer(w, 200, struct{}{})
	})
	f.mux.HandleFunc("POST /v1/mq/send", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&sent)
		writeAnswer(w, 503, api.Error{Code: "EAGAIN", Message: "resource temporarily unavailable"})
	})
	f.mux.HandleFunc("POST /v1/mq/recv", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.MQMessage{Message: []byte("hello"), Priority: 3})
	})
	f.mux.HandleFunc("GET /v1/ipc/mq", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.IPCList{Objects: []api.IPCObject{
			{Kind: "mq", Name: "/a", Node: "n1", Owner: "root", Mode: 0o600, MaxMsg: 10, MsgSize: 8192},
			{Kind: "mq", Name: "/b", Node: "n3", Owner: "bob", Mode: 0o640, MaxMsg: 4, MsgSize: 64, Lost: true},
		}})
	})

	r := runCLI(t, f.srv.URL, "", "mq", "create", "--node", "n2", "--maxmsg", "4", "--msgsize", "64", "--mode", "0640", "/q")
	if r.code != 0 || created != (api.MQCreateRequest{Name: "/q", Node: "n2", Mode: 0o640, MaxMsg: 4, MsgSize: 64}) {
		t.Errorf("mq create: exit %d, stderr %q, request %+v", r.code, r.stderr, created)
	}
	args := []string{"mq", "send", "-p", "5", "--nonblock", "/q", "hi"}
	r = runCLI(t, f.srv.URL, "", args...)
	if r.code != 1 || sent.Priority != 5 || !sent.NonBlock || string(sent.Message) != "hi" {
		t.Errorf("mq send on a full queue: exit %d, request %+v; want exit 1", r.code, sent)
	}
	checkOneLine(t, args, r.stderr)
	if r = runCLI(t, f.srv.URL, "", "mq", "recv", "/q"); r.code != 0 || r.stdout != "hello\n" {
		t.Errorf("mq recv: exit %d, stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, f.srv.URL, "", "mq", "ls")
	want := "" +
		"NAME  NODE  OWNER  MODE  MAXMSG  MSGSIZE  STATE\n" +
		"/a    n1    root   0600  10      8192     ok\n" +
		"/b    n3    bob    0640  4       64       lost\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("mq ls: got\n%s\nwant\n%s", r.stdout, want)
	}
	args = []string{"mq", "create", "--mode", "999", "/q"}
	if r = runCLI(t, f.srv.URL, "", args...); r.code == 0 {
		t.Errorf("mq create with a bad mode: exit 0")
	}
}

func TestFIFOAndShmVerbs(t *testing.T) {
	f := newFakeAPI(t)
	var removed []string
	f.mux.HandleFunc("DELETE /v1/fifo", func(w http.ResponseWriter, r *http.Request) {
		removed = append(removed, "fifo:"+r.URL.Query().Get("path"))
		writeAnswer(w, 200, struct{}{})
	})
	f.mux.HandleFunc("DELETE /v1/shm", func(w http.ResponseWriter, r *http.Request) {
		removed = append(removed, "shm:"+r.URL.Query().Get("name"))
		writeAnswer(w, 404, api.Error{Code: "ENOENT", Message: "no such file or directory"})
	})
	f.mux.HandleFunc("GET /v1/ipc/fifo", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.IPCList{Objects: []api.IPCObject{{Kind: "fifo", Name: "/run/f", Node: "n2", Owner: "root", Mode: 0o644}}})
	})
	if r := runCLI(t, f.srv.URL, "", "fifo", "rm", "/run/f"); r.code != 0 {
		t.Errorf("fifo rm: exit %d, %q", r.code, r.stderr)
	}
	if r := runCLI(t, f.srv.URL, "", "shm", "rm", "/s"); r.code != 1 {
		t.Errorf("shm rm of a missing segment: exit %d, want 1", r.code)
	}
	if len(removed) != 2 || removed[0] != "fifo:/run/f" || removed[1] != "shm:/s" {
		t.Errorf("removals reaching the agent: %v", removed)
	}
	r := runCLI(t, f.srv.URL, "", "fifo", "ls", "-o", "json")
	var objs []api.IPCObject
	if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil || len(objs) != 1 || objs[0].Node != "n2" {
		t.Errorf("fifo ls -o json: %q, %v", r.stdout, err)
	}
}
