package main

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/ipc"
)

func TestParseKillArgs(t *testing.T) {
	cases := []struct {
		args    []string
		signal  ipc.Signal
		targets []int64
		addr    string
	}{
		{[]string{"42"}, ipc.SIGTERM, []int64{42}, ""},
		{[]string{"42", "43"}, ipc.SIGTERM, []int64{42, 43}, ""},
		{[]string{"-s", "KILL", "42"}, ipc.SIGKILL, []int64{42}, ""},
		{[]string{"-s", "9", "42"}, ipc.SIGKILL, []int64{42}, ""},
		{[]string{"-s", "sigusr1", "42"}, ipc.SIGUSR1, []int64{42}, ""},
		{[]string{"-sHUP", "42"}, ipc.SIGHUP, []int64{42}, ""},
		{[]string{"--signal", "INT", "42"}, ipc.SIGINT, []int64{42}, ""},
		{[]string{"--signal=QUIT", "42"}, ipc.SIGQUIT, []int64{42}, ""},
		{[]string{"-s", "TERM", "--", "-42"}, ipc.SIGTERM, []int64{-42}, ""},
		{[]string{"--", "-42", "7"}, ipc.SIGTERM, []int64{-42, 7}, ""},
		{[]string{"-s", "TERM", "-42"}, ipc.SIGTERM, []int64{-42}, ""},
		{[]string{"-9", "42"}, ipc.SIGKILL, []int64{42}, ""},
		{[]string{"-KILL", "42"}, ipc.SIGKILL, []int64{42}, ""},
		{[]string{"-SIGSTOP", "42"}, ipc.SIGSTOP, []int64{42}, ""},
		{[]string{"-9", "--", "-42"}, ipc.SIGKILL, []int64{-42}, ""},
		{[]string{"42", "-43"}, ipc.SIGTERM, []int64{42, -43}, ""},
		{[]string{"-s", "0", "42"}, 0, []int64{42}, ""},
		{[]string{"-0", "42"}, 0, []int64{42}, ""},
		{[]string{"--addr", "http://x:1", "42"}, ipc.SIGTERM, []int64{42}, "http://x:1"},
		{[]string{"--addr=http://x:1", "-s", "KILL", "42"}, ipc.SIGKILL, []int64{42}, "http://x:1"},
	}
	for _, tc := range cases {
		ka, err := parseKillArgs(tc.args)
		if err != nil {
			t.Errorf("%v: got error %v", tc.args, err)
			continue
		}
		if ka.signal != tc.signal || !reflect.DeepEqual(ka.targets, tc.targets) || ka.addr != tc.addr {
			t.Errorf("%v: got signal %v targets %v addr %q, want %v %v %q",
				tc.args, ka.signal, ka.targets, ka.addr, tc.signal, tc.targets, tc.addr)
		}
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{}, "no process given"},
		{[]string{"-s", "KILL"}, "no process given"},
		{[]string{"-42"}, "put '--' before a process group"},
		{[]string{"-s", "NOPE", "1"}, `bad signal "NOPE"`},
		{[]string{"--", "-1"}, `bad PID "-1"`},
		{[]string{"-s", "32", "1"}, `bad signal "32"`},
		{[]string{"-s"}, "flag needs an argument"},
		{[]string{"-s", "KILL", "-s", "TERM", "1"}, "more than one signal"},
		{[]string{"abc"}, `bad PID "abc"`},
		{[]string{"0"}, `bad PID "0"`},
		{[]string{"--", "-x"}, `bad PID "-x"`},
		{[]string{"--bogus", "1"}, "unknown flag: --bogus"},
	}
	for _, tc := range bad {
		if _, err := parseKillArgs(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

func TestKill(t *testing.T) {
	f := newFakeAPI(t)
	f.onKill()
	cases := []struct {
		args []string
		want api.KillRequest
	}{
		{[]string{"kill", "42"}, api.KillRequest{Targets: []int64{42}, Signal: 15}},
		{[]string{"kill", "-s", "TERM", "--", "-42"}, api.KillRequest{Targets: []int64{-42}, Signal: 15}},
		{[]string{"kill", "-9", "1", "2"}, api.KillRequest{Targets: []int64{1, 2}, Signal: 9}},
		{[]string{"kill", "-s", "USR1", "--", "-7", "8"}, api.KillRequest{Targets: []int64{-7, 8}, Signal: 10}},
	}
	for _, tc := range cases {
		r := runCLI(t, f.srv.URL, "", tc.args...)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("%v: got %+v, want a silent exit 0", tc.args, r)
			continue
		}
		f.mu.Lock()
		got := f.kills[len(f.kills)-1]
		f.mu.Unlock()
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
	// --addr before the verb reaches kill too.
	r := runCLI(t, unreachable(t), "", "--addr", f.srv.URL, "kill", "-s", "KILL", "5")
	if r.code != 0 {
		t.Errorf("--addr before kill: got %+v, want exit 0", r)
	}
	r = runCLI(t, f.srv.URL, "", "kill", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "vproc kill [-s SIG] PID|-PGID...") {
		t.Errorf("kill --help: got %+v", r)
	}
}

func TestKillPartialFailure(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/kill", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.KillResponse{
			Reached: []api.Target{{PID: 1, Incarnation: 1}},
			Errors: []api.TargetError{
				{Target: 43, Code: api.CodeNoSuchProcess, Message: "no such process: pid 43"},
				{Target: -9, Code: "permission", Message: "operation not permitted"},
			},
		})
	})
	r := runCLI(t, f.srv.URL, "", "kill", "--", "1", "43", "-9")
	want := "vproc: no such process: 43\nvproc: kill -9: operation not permitted\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("got %+v, want exit 1 and stderr %q", r, want)
	}
}

func TestKillErrors(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/kill", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 404, api.Error{Code: api.CodeNoSuchProcess, Message: "no such process: pid 42"})
	})
	cases := []struct {
		args   []string
		stderr string
	}{
		{[]string{"kill", "42"}, "vproc: no such process: 42\n"},
		{[]string{"kill", "--", "-42"}, "vproc: no such process: -42\n"},
		{[]string{"kill", "-s", "BOGUS", "42"}, "vproc: bad signal \"BOGUS\": want a name such as TERM or SIGTERM, or a number from 1 to 31\n"},
		{[]string{"kill", "-42"}, "vproc: bad signal \"42\" (put '--' before a process group: kill -- -42)\n"},
		{[]string{"kill", "x"}, "vproc: bad PID \"x\": want a whole number from 1 up\n"},
	}
	usage := [][]string{{"kill"}, {"kill", "--bogus", "1"}, {"kill", "-s"}}
	for _, args := range usage {
		r := runCLI(t, f.srv.URL, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "Usage: vproc kill") {
			t.Errorf("%v: got %+v, want exit 1 and the usage line", args, r)
		}
	}
	for _, tc := range cases {
		r := runCLI(t, f.srv.URL, "", tc.args...)
		if r.code != 1 || r.stderr != tc.stderr {
			t.Errorf("%v: got %+v, want exit 1 and stderr %q", tc.args, r, tc.stderr)
		}
	}
}
