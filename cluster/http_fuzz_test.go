package cluster

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vproc/vproc/cluster/api"
)

// FuzzSpawnRequest sends random bodies to the spawn route: the handler
// never panics and answers 2xx or 4xx, with a JSON error body for 4xx.
// Run it with: go test -fuzz FuzzSpawnRequest ./cluster/
func FuzzSpawnRequest(f *testing.F) {
	seeds := []string{
		`{"command":"true"}`,
		`{"command":"sleep","args":["1"],"priority":100,"limits":["cpu=2s:5s,wall=1m","nofile=64,nproc=16,mem=64M,fsize=1M"],"restart":"on-failure:3:1s","constraints":["rack=a"],"uses":["mq:/q,fifo:/run/f,shm:/s"],"env":["A=b"],"cwd":"/","owner":"alice","stdin":true}`,
		`{"command":"true","limits":["cpu=unlimited"]}`,
		`{"command":"true","limits":["mem=18446744073709551615"]}`,
		`{"command":"true","restart":"always:0:1ns"}`,
		`{"command":"true","node":"elsewhere"}`,
		`{"command":"true","priority":0}`,
		`{"command":"true","uses":["shm:/` + string(bytes.Repeat([]byte("a"), 300)) + `"]}`,
		`{"command":""}`,
		`[]`,
		`null`,
		`{"command":"true","args":null,"env":[""]}`,
		`{"command":"true","limits":[":"]}`,
		`{"command":"true","restart":"::"}`,
		`{"command":"true","restart":"always:99999999999"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	c := newFakeCore(f, "n1")
	c.autoPlace.Store(false) // a spawn bound to an unknown node would stay pending
	h := newHarness(f, c, false)
	handler := h.s.handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/spawn", bytes.NewReader(body))
		handler.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 200 && rec.Code < 300:
			var out api.SpawnResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.PID == 0 {
				t.Fatalf("body %q: 2xx answer %q", body, rec.Body.Bytes())
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e api.Error
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" {
				t.Fatalf("body %q: %d answer without a JSON error: %q", body, rec.Code, rec.Body.Bytes())
			}
		default:
			t.Fatalf("body %q: status %d %q", body, rec.Code, rec.Body.Bytes())
		}
	})
}
