package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/fsm"
)

// TestListPages: GET /v1/procs?limit=&after= returns the table in PID
// order, one page at a time, each with the after= of the next; every
// process once, with exited ones only under all.
func TestListPages(t *testing.T) {
	h := newHarness(t, nil, false)
	var pids []uint64
	for i := 0; i < 7; i++ {
		res := h.c.apply(&fsm.Spawn{Spec: fsm.Spec{Command: "sleep"}})
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		pids = append(pids, res.PID)
	}
	// One exits before it runs: it is listed only with all.
	h.c.apply(&fsm.Signal{Target: int64(pids[3]), Signal: fsm.SIGKILL})
	for _, tc := range []struct {
		all  bool
		want int
	}{{false, 1 + 6}, {true, 1 + 7}} { // init is listed too
		var got []uint64
		var after uint64
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("more than 10 pages of 3")
			}
			url := fmt.Sprintf("%s/v1/procs?stale&limit=3&after=%d&all=%v", h.url, after, tc.all)
			r := do(t, "GET", url, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", url, r.status, r.body)
			}
			var list api.ProcessList
			r.decode(t, &list)
			if len(list.Processes) > 3 {
				t.Fatalf("page of %d, want at most 3", len(list.Processes))
			}
			for _, p := range list.Processes {
				got = append(got, p.PID)
			}
			if list.Next == 0 {
				break
			}
			if list.Next != got[len(got)-1] {
				t.Fatalf("next %d, want the page's last PID %d", list.Next, got[len(got)-1])
			}
			after = list.Next
		}
		if len(got) != tc.want {
			t.Fatalf("all=%v: got PIDs %v, want %d processes", tc.all, got, tc.want)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("all=%v: PIDs %v not in order or repeated", tc.all, got)
			}
		}
	}
	for _, q := range []string{"limit=-1", "limit=x", fmt.Sprintf("limit=%d", api.MaxListPage+1), "after=x"} {
		if r := do(t, "GET", h.url+"/v1/procs?stale&"+q, nil, nil); r.status != http.StatusBadRequest {
			t.Errorf("GET /v1/procs?%s: got %d, want 400", q, r.status)
		}
	}
}

// TestListRows: GET /v1/procs?format=ndjson answers each page as the
// JSON listing does, a process a line, with the next page's after= in
// X-Vproc-Next; the Go client reads it, and reads the JSON object from an
// agent that answers that instead.
func TestListRows(t *testing.T) {
	h := newHarness(t, nil, false)
	for i := 0; i < 7; i++ {
		args := []string{"-c", fmt.Sprintf("echo \"job %d\" \\ <&> \u2028 é\t", i)}
		if res := h.c.apply(&fsm.Spawn{Spec: fsm.Spec{Command: "sh", Args: args}}); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	h.c.apply(&fsm.Signal{Target: 4, Signal: fsm.SIGKILL})
	var after uint64
	var all []api.Process
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages of 3")
		}
		base := fmt.Sprintf("%s/v1/procs?stale&all&limit=3&after=%d", h.url, after)
		var want api.ProcessList
		do(t, "GET", base, nil, nil).decode(t, &want)
		r := do(t, "GET", base+"&format=ndjson", nil, nil)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("rows: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
		}
		var got []api.Process
		for _, line := range strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n") {
			var p api.Process
			if err := json.Unmarshal([]byte(line), &p); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			got = append(got, p)
		}
		if !reflect.DeepEqual(got, want.Processes) {
			t.Fatalf("rows after %d:\n got %+v\nwant %+v", after, got, want.Processes)
		}
		if next := r.header.Get(api.HeaderNext); next != fmt.Sprint(want.Next) && (want.Next != 0 || next != "") {
			t.Fatalf("%s %q, want %d", api.HeaderNext, next, want.Next)
		}
		if r.header.Get(api.HeaderIndex) != fmt.Sprint(want.Index) {
			t.Fatalf("%s %q, want %d", api.HeaderIndex, r.header.Get(api.HeaderIndex), want.Index)
		}
		all = append(all, got...)
		if want.Next == 0 {
			break
		}
		after = want.Next
	}
	if len(all) != 1+7 {
		t.Fatalf("%d processes in rows, want 8", len(all))
	}
	if r := do(t, "GET", h.url+"/v1/procs?stale&format=xml", nil, nil); r.status != http.StatusBadRequest {
		t.Fatalf("format=xml: got %d, want 400", r.status)
	}

	// fields= keeps the PID and the fields asked for, in rows only.
	r := do(t, "GET", h.url+"/v1/procs?stale&all&format=ndjson&fields=state,args", nil, nil)
	lines := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
	if r.status != http.StatusOK || len(lines) != len(all) {
		t.Fatalf("fields=state,args: %d, %d lines, want 200 and %d", r.status, len(lines), len(all))
	}
	for i, line := range lines {
		var keys map[string]json.RawMessage
		var p api.Process
		if err := json.Unmarshal([]byte(line), &keys); err != nil || json.Unmarshal([]byte(line), &p) != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		want := api.Process{PID: all[i].PID, State: all[i].State, Args: all[i].Args}
		if len(keys) != 3 || !reflect.DeepEqual(p, want) {
			t.Fatalf("fields=state,args: %s, want %+v alone", line, want)
		}
	}
	for _, q := range []string{"format=ndjson&fields=state,nosuch", "fields=state"} {
		if r := do(t, "GET", h.url+"/v1/procs?stale&"+q, nil, nil); r.status != http.StatusBadRequest {
			t.Fatalf("%s: got %d %s, want 400", q, r.status, r.body)
		}
	}

	// The client, against this agent and against one that answers JSON
	// whatever the format asked.
	jsonOnly := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("format")
		resp, err := http.Get(h.url + r.URL.Path + "?" + q.Encode())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, resp.Body)
	}))
	defer jsonOnly.Close()
	for _, addr := range []string{h.url, jsonOnly.URL} {
		cfg := client.DefaultConfig()
		cfg.Addr = addr
		c, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got []api.Process
		opts := client.ListOpts{All: true, Stale: true, Limit: 3}
		for {
			list, err := c.List(context.Background(), opts)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			got = append(got, list.Processes...)
			if list.Next == 0 {
				break
			}
			opts.After = list.Next
		}
		c.Close()
		if !reflect.DeepEqual(got, all) {
			t.Fatalf("client against %s:\n got %+v\nwant %+v", addr, got, all)
		}
	}
}

// TestListFilters: node=, state= and owner= keep what they name, in both
// formats; asking for exited or lost processes lists them without all.
func TestListFilters(t *testing.T) {
	h := newHarness(t, nil, false)
	h.c.autoPlace.Store(false)
	h.c.apply(&fsm.NodeUpsert{ID: "id-n2", Name: "n2", Capacity: fsm.Capacity{Slots: 8}})
	spawn := func(owner, node string) uint64 {
		res := h.c.apply(&fsm.Spawn{Owner: owner, Spec: fsm.Spec{Command: "sleep"}})
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if node != "" {
			if r := h.c.apply(&fsm.Place{PID: res.PID, Incarnation: 1, ExpectState: fsm.StatePending, Node: node}); r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		return res.PID
	}
	a1 := spawn("alice", "id-n2")
	b1 := spawn("bob", "id-n2")
	a2 := spawn("alice", "")
	b2 := spawn("bob", "")
	h.c.apply(&fsm.Signal{Target: int64(b2), Signal: fsm.SIGKILL})
	for _, tc := range []struct {
		query string
		want  []uint64
	}{
		{"owner=alice", []uint64{a1, a2}},
		{"node=n2", []uint64{a1, b1}},
		{"node=id-n2&owner=bob", []uint64{b1}},
		{"state=pending", []uint64{a2}},
		{"state=exited", []uint64{b2}},
		{"state=placed,exited&owner=bob", []uint64{b1, b2}},
		{"owner=bob", []uint64{b1}},
		{"owner=bob&all", []uint64{b1, b2}},
		{"node=nowhere&all", nil},
	} {
		for _, format := range []string{"json", "ndjson"} {
			r := do(t, "GET", h.url+"/v1/procs?stale&format="+format+"&"+tc.query, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", tc.query, r.status, r.body)
			}
			var got []uint64
			if format == "json" {
				var list api.ProcessList
				r.decode(t, &list)
				for _, p := range list.Processes {
					got = append(got, p.PID)
				}
			} else {
				for _, line := range strings.Split(strings.TrimSpace(string(r.body)), "\n") {
					if line == "" {
						continue
					}
					var p api.Process
					if err := api.ParseProcessJSON([]byte(line), &p); err != nil {
						t.Fatal(err)
					}
					got = append(got, p.PID)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s (%s): got PIDs %v, want %v", tc.query, format, got, tc.want)
			}
		}
	}
	if r := do(t, "GET", h.url+"/v1/procs?stale&state=zombie", nil, nil); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "zombie") {
		t.Fatalf("state=zombie: got %d %s, want 400 naming it", r.status, r.body)
	}
}

// TestExitedRecordThroughAPI: an exited record, compacted, still answers
// wait, get and the listing with its status, its cut command line and its
// scalar fields; stdin to it is refused because it has exited.
func TestExitedRecordThroughAPI(t *testing.T) {
	h := newHarness(t, nil, false)
	h.c.autoPlace.Store(false)
	long := strings.Repeat("echo step; ", 40)
	res := h.c.apply(&fsm.Spawn{Owner: "root", Spec: fsm.Spec{
		Command: "sh", Args: []string{"-c", long}, Env: []string{"SECRET=" + strings.Repeat("s", 1000)},
		Cwd: "/tmp", Limits: fsm.Limits{NoFile: fsm.Limit{Soft: 8, Hard: 16}}, Promises: "stdio",
		Restart: fsm.Restart{Policy: fsm.RestartOnFailure, MaxRestarts: 3}, Stdin: true,
	}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	pid := res.PID
	for _, c := range []fsm.Command{
		&fsm.Place{PID: pid, Incarnation: 1, ExpectState: fsm.StatePending, Node: "n1"},
		&fsm.Exited{PID: pid, Incarnation: 1, Node: "n1", Started: true, Status: fsm.Status{Exited: true, Code: 0}},
	} {
		if r := h.c.apply(c); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	var waited, got api.Process
	do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/wait?stale", h.url, pid), nil, nil).decode(t, &waited)
	do(t, "GET", fmt.Sprintf("%s/v1/procs/%d?stale", h.url, pid), nil, nil).decode(t, &got)
	for _, p := range []api.Process{waited, got} {
		cmdline := p.Command + " " + strings.Join(p.Args, " ")
		if p.State != "exited" || p.ExitCode == nil || *p.ExitCode != 0 || len(p.Args) != 2 || p.Args[0] != "-c" ||
			!strings.HasSuffix(p.Args[1], fsm.CutMark) || len(cmdline) > fsm.ExitedCmdline || !strings.HasPrefix(long, strings.TrimSuffix(p.Args[1], fsm.CutMark)) {
			t.Fatalf("exited record: %+v", p)
		}
		if p.Limits == "" || p.Pledge != "stdio" || !strings.HasPrefix(p.Restart, "on-failure") || len(p.Env) != 0 {
			t.Fatalf("exited record's spec fields: limits %q pledge %q restart %q env %d", p.Limits, p.Pledge, p.Restart, len(p.Env))
		}
	}
	if r := do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, pid), "x", nil); r.status != http.StatusConflict {
		t.Fatalf("stdin to the exited process: got %d %s, want 409", r.status, r.body)
	}
}
