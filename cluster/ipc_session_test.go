package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// TestIPCNamesTakeSessions: creating and unlinking FIFO and queue names
// take client sessions, as spawns do (Guarantee 9). A request sent again
// with the same session and request id, as after an unknown outcome and
// through any node, gets the first answer, never EEXIST or ENOENT for its
// own first attempt; a new request id meets the name as it is.
func TestIPCNamesTakeSessions(t *testing.T) {
	c := MakeCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Registering the session retries across leader changes, which a
	// loaded machine sees: a session whose registration had an unknown
	// outcome is merely never used.
	sid := c.session()
	addrs := make([]string, 0, 3)
	for _, a := range c.up() {
		addrs = append(addrs, a.HTTPAddr())
	}
	rid := uint64(0)
	// do sends one request, and sends it again with the same request id
	// while the answer is 503 (no leader for a moment, as a loaded
	// machine may see): what the Go client does, and what the session
	// makes safe.
	var do func(addr, method, path string, body any, rid uint64) (int, string)
	once := func(addr, method, path string, body any, rid uint64) (int, string) {
		t.Helper()
		return sessionCall(t, ctx, addr, method, path, body, sid, rid)
	}
	do = func(addr, method, path string, body any, rid uint64) (int, string) {
		t.Helper()
		return retryUnavailable(func() (int, string) { return once(addr, method, path, body, rid) })
	}
	for _, tc := range []struct {
		name           string
		method, path   string
		body           any
		create, unlink string // the paths of the create and unlink
	}{
		{"queue", http.MethodPost, "/v1/mq", api.MQCreateRequest{Name: "/sq"}, "/v1/mq", "/v1/mq?name=" + url.QueryEscape("/sq")},
		{"fifo", http.MethodPost, "/v1/fifo", api.FIFOCreateRequest{Path: "/sf"}, "/v1/fifo", "/v1/fifo?path=" + url.QueryEscape("/sf")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rid++
			create := rid
			for i, addr := range append(addrs, addrs[0]) {
				if st, code := do(addr, tc.method, tc.create, tc.body, create); st != http.StatusOK {
					t.Fatalf("create, attempt %d through %s: got %d %s, want 200", i, addr, st, code)
				}
			}
			rid++
			if st, code := do(addrs[1], tc.method, tc.create, tc.body, rid); st == http.StatusOK || code != "EEXIST" {
				t.Fatalf("create in a new request: got %d %s, want EEXIST", st, code)
			}
			rid++
			unlink := rid
			for i, addr := range append(addrs, addrs[0]) {
				if st, code := do(addr, http.MethodDelete, tc.unlink, nil, unlink); st != http.StatusOK {
					t.Fatalf("unlink, attempt %d through %s: got %d %s, want 200", i, addr, st, code)
				}
			}
			rid++
			if st, code := do(addrs[2], http.MethodDelete, tc.unlink, nil, rid); st == http.StatusOK || code != "ENOENT" {
				t.Fatalf("unlink in a new request: got %d %s, want ENOENT", st, code)
			}
		})
	}
}

// sessionCall sends one IPC request in request rid of session sid and
// returns the status and error code of the answer.
func sessionCall(t *testing.T, ctx context.Context, addr, method, path string, body any, sid, rid uint64) (int, string) {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, in)
	if err != nil {
		t.Fatal(err)
	}
	api.SetSession(req.Header, sid, rid, 1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.Error
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	if resp.StatusCode != http.StatusOK {
		t.Logf("%s %s through %s, request %d: %d %s: %s", method, path, addr, rid, resp.StatusCode, e.Code, e.Message)
	}
	return resp.StatusCode, e.Code
}

// TestIPCSessionsOfConcurrentCalls: a create and an unlink of one name,
// in two requests sent at once through one node, each commit in their own
// request: sent again, each gets its own first answer; the unlink never
// takes the create's answer for its own; and what they answer is what the
// registry then holds.
func TestIPCSessionsOfConcurrentCalls(t *testing.T) {
	c := MakeCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sid := c.session()
	addr := c.agents[0].HTTPAddr()
	rid := uint64(0)
	next := func() uint64 { rid++; return rid }
	// call retries a 503 (no leader for a moment) in the same request.
	call := func(method, path string, body any, rid uint64) (int, string) {
		return retryUnavailable(func() (int, string) { return sessionCall(t, ctx, addr, method, path, body, sid, rid) })
	}
	for _, k := range []struct {
		name   string
		create string
		body   any
		unlink string
	}{
		{"queue", "/v1/mq", api.MQCreateRequest{Name: "/cq"}, "/v1/mq?name=" + url.QueryEscape("/cq")},
		{"fifo", "/v1/fifo", api.FIFOCreateRequest{Path: "/cf"}, "/v1/fifo?path=" + url.QueryEscape("/cf")},
	} {
		for round := range 20 {
			created, unlinked := next(), next()
			var cst, ust int
			var ccode, ucode string
			done := make(chan struct{})
			go func() {
				defer close(done)
				ust, ucode = call(http.MethodDelete, k.unlink, nil, unlinked)
			}()
			cst, ccode = call(http.MethodPost, k.create, k.body, created)
			<-done
			if cst != http.StatusOK {
				t.Fatalf("%s round %d: create got %d %s, want 200", k.name, round, cst, ccode)
			}
			// A request sent again, as after an unknown outcome, gets its
			// first answer: each of the two ran in its own request.
			if st, code := call(http.MethodPost, k.create, k.body, created); st != http.StatusOK {
				t.Fatalf("%s round %d: the create again got %d %s, want its first answer, 200", k.name, round, st, code)
			}
			if ust == http.StatusOK {
				if st, code := call(http.MethodDelete, k.unlink, nil, unlinked); st != http.StatusOK {
					t.Fatalf("%s round %d: the unlink again got %d %s, want its first answer, 200", k.name, round, st, code)
				}
			}
			// The unlink came after the create (200: the name is gone) or
			// before it (ENOENT: the name is there).
			switch {
			case ust == http.StatusOK:
				if st, code := call(http.MethodPost, k.create, k.body, next()); st != http.StatusOK {
					t.Fatalf("%s round %d: the unlink answered 200, yet a create then got %d %s", k.name, round, st, code)
				}
			case ucode == "ENOENT":
			default:
				t.Fatalf("%s round %d: unlink got %d %s, want 200 or ENOENT", k.name, round, ust, ucode)
			}
			if st, code := call(http.MethodDelete, k.unlink, nil, next()); st != http.StatusOK {
				t.Fatalf("%s round %d: the name should be there; an unlink got %d %s", k.name, round, st, code)
			}
		}
	}
}
