package cluster

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

func TestHTTPSpawnBatchPerItem(t *testing.T) {
	h := newHarness(t, nil, false)
	var sess api.Session
	do(t, "POST", h.url+"/v1/session", nil, nil).decode(t, &sess)
	hdr := map[string]string{api.HeaderSession: strconv.FormatUint(sess.ID, 10), api.HeaderAcked: "1"}
	body := api.SpawnBatchRequest{Items: []api.SpawnBatchItem{
		{Request: 1, Spawn: api.SpawnRequest{Command: "sleep", Args: []string{"10"}}},
		{Request: 2, Spawn: api.SpawnRequest{Command: "no-such-program"}},
		{Request: 3, Spawn: api.SpawnRequest{Command: "true", Limits: []string{"cpu=bogus"}}},
		{Request: 4, Spawn: api.SpawnRequest{Command: "true"}},
	}}
	send := func() api.SpawnBatchResponse {
		t.Helper()
		r := do(t, "POST", h.url+"/v1/spawn/batch", body, hdr)
		if r.status != http.StatusOK {
			t.Fatalf("batch: status %d %s", r.status, r.body)
		}
		var out api.SpawnBatchResponse
		r.decode(t, &out)
		if len(out.Results) != len(body.Items) {
			t.Fatalf("batch: got %d results for %d items", len(out.Results), len(body.Items))
		}
		return out
	}
	first := send()
	tests := []struct {
		item   int
		code   string
		status int
	}{
		{0, "", 0},
		{1, api.CodeUnknownProgram, http.StatusBadRequest},
		{2, api.CodeBadRequest, http.StatusBadRequest},
		{3, "", 0},
	}
	for _, tt := range tests {
		r := first.Results[tt.item]
		switch {
		case tt.code == "" && (r.Error != nil || r.PID == 0 || r.Index == 0):
			t.Errorf("item %d: got %+v, want a PID", tt.item, r)
		case tt.code != "" && (r.Error == nil || r.Error.Code != tt.code || r.Status != tt.status || r.PID != 0):
			t.Errorf("item %d: got %+v, want error %s with status %d", tt.item, r, tt.code, tt.status)
		}
	}
	if first.Results[0].PID == first.Results[3].PID {
		t.Errorf("two items got PID %d", first.Results[0].PID)
	}
	// The same batch again, as a client retries one whose outcome it does
	// not know: every spawn gets its first answer and none applies twice.
	again := send()
	for _, i := range []int{0, 3} {
		if again.Results[i] != first.Results[i] {
			t.Errorf("retried item %d: got %+v, want the first answer %+v", i, again.Results[i], first.Results[i])
		}
	}
	if l := h.c.f.List(fsm.Filter{}); len(l) != 3 {
		t.Errorf("table: got %d processes, want 3 (init and two spawns)", len(l))
	}
	// One item retried alone, through the ordinary route, with its id.
	r := do(t, "POST", h.url+"/v1/spawn", api.SpawnRequest{Command: "true"}, map[string]string{
		api.HeaderSession: strconv.FormatUint(sess.ID, 10), api.HeaderRequest: "4", api.HeaderAcked: "1"})
	var one api.SpawnResponse
	r.decode(t, &one)
	if one.PID != first.Results[3].PID {
		t.Errorf("item 4 retried alone: got PID %d, want %d", one.PID, first.Results[3].PID)
	}
}

func TestHTTPSpawnBatchWithoutSession(t *testing.T) {
	h := newHarness(t, nil, false)
	r := do(t, "POST", h.url+"/v1/spawn/batch", api.SpawnBatchRequest{Items: []api.SpawnBatchItem{
		{Spawn: api.SpawnRequest{Command: "true"}}, {Spawn: api.SpawnRequest{Command: "true"}}}}, nil)
	var out api.SpawnBatchResponse
	r.decode(t, &out)
	if r.status != http.StatusOK || len(out.Results) != 2 || out.Results[0].PID == 0 || out.Results[1].PID == 0 ||
		out.Results[0].PID == out.Results[1].PID || out.Index == 0 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestHTTPSpawnBatchBadInput(t *testing.T) {
	h := newHarness(t, nil, false)
	var sess api.Session
	do(t, "POST", h.url+"/v1/session", nil, nil).decode(t, &sess)
	sid := strconv.FormatUint(sess.ID, 10)
	item := func(rid uint64) string {
		return `{"request":` + strconv.FormatUint(rid, 10) + `,"spawn":{"command":"true"}}`
	}
	many := make([]string, api.MaxSpawnBatch+1)
	for i := range many {
		many[i] = item(uint64(i + 1))
	}
	huge := `{"items":[{"request":1,"spawn":{"command":"true","args":["` + strings.Repeat("x", api.MaxBodyBytes) + `"]}}]}`
	tests := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"not JSON", `{"items":`, map[string]string{api.HeaderSession: sid}, 400, api.CodeBadRequest},
		{"unknown field", `{"items":[` + item(1) + `],"x":1}`, map[string]string{api.HeaderSession: sid}, 400, api.CodeBadRequest},
		{"no items", `{"items":[]}`, map[string]string{api.HeaderSession: sid}, 400, api.CodeBadRequest},
		{"too many items", `{"items":[` + strings.Join(many, ",") + `]}`, map[string]string{api.HeaderSession: sid}, 413, api.CodeTooLarge},
		{"body over the cap", huge, map[string]string{api.HeaderSession: sid}, 413, api.CodeTooLarge},
		{"request header", `{"items":[` + item(1) + `]}`, map[string]string{api.HeaderSession: sid, api.HeaderRequest: "1"}, 400, api.CodeBadRequest},
		{"no request id", `{"items":[{"spawn":{"command":"true"}}]}`, map[string]string{api.HeaderSession: sid}, 400, api.CodeBadRequest},
		{"repeated request id", `{"items":[` + item(3) + `,` + item(3) + `]}`, map[string]string{api.HeaderSession: sid}, 400, api.CodeBadRequest},
		{"request id below acked", `{"items":[` + item(3) + `]}`, map[string]string{api.HeaderSession: sid, api.HeaderAcked: "5"}, 400, api.CodeBadRequest},
		{"bad session", `{"items":[` + item(1) + `]}`, map[string]string{api.HeaderSession: "x"}, 400, api.CodeBadRequest},
		{"request id without session", `{"items":[` + item(1) + `]}`, nil, 400, api.CodeBadRequest},
		{"acked without session", `{"items":[{"spawn":{"command":"true"}}]}`, map[string]string{api.HeaderAcked: "1"}, 400, api.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "POST", h.url+"/v1/spawn/batch", tt.body, tt.hdr)
			if r.status != tt.status || r.err().Code != tt.code {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	if l := h.c.f.List(fsm.Filter{}); len(l) != 1 {
		t.Errorf("table: got %d processes, want only init", len(l))
	}
	// An expired (unknown) session: every item says so, none applies.
	r := do(t, "POST", h.url+"/v1/spawn/batch", `{"items":[`+item(1)+`,`+item(2)+`]}`, map[string]string{api.HeaderSession: "999"})
	var out api.SpawnBatchResponse
	r.decode(t, &out)
	if r.status != 200 || len(out.Results) != 2 {
		t.Fatalf("unknown session: got %d %s", r.status, r.body)
	}
	for i, res := range out.Results {
		if res.Error == nil || res.Error.Code != api.CodeSessionExpired || res.Status != http.StatusGone {
			t.Errorf("unknown session, item %d: got %+v, want session_expired 410", i, res)
		}
	}
}

func TestHTTPSpawnBatchForwarded(t *testing.T) {
	// A follower forwards the batch to the leader like any write.
	lead := newHarness(t, nil, false)
	fc := newFakeCore(t, "n2")
	fc.setLeader("n1", lead.url, false)
	fol := newHarness(t, fc, false)
	r := do(t, "POST", fol.url+"/v1/spawn/batch", api.SpawnBatchRequest{Items: []api.SpawnBatchItem{
		{Spawn: api.SpawnRequest{Command: "true"}}, {Spawn: api.SpawnRequest{Command: "true"}}}}, nil)
	var out api.SpawnBatchResponse
	r.decode(t, &out)
	if r.status != http.StatusOK || len(out.Results) != 2 || r.header.Get(api.HeaderNode) != "n1" {
		t.Fatalf("got %d %s (node %q)", r.status, r.body, r.header.Get(api.HeaderNode))
	}
}
