package cluster

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/vproc/vproc/cluster/api"
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
