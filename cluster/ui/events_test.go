package ui_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/vproc/vproc/cluster/ui"
)

// eventsFake serves the console and a GET /v1/events that follows the
// event stream's contract: the first stream sends a heartbeat, two events
// and then drops the reader, as the agent drops a slow one; the next must
// resume after the last index it read, and is told 410 (the index is older
// than the buffer); the one after that starts afresh and gets the exit.
// The other API routes answer 404, which the page shows as errors.
type eventsFake struct {
	mu      sync.Mutex
	queries []string // each /v1/events request's query
}

func (f *eventsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/events" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	n := len(f.queries)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl := w.(http.Flusher)
	line := func(s string) {
		fmt.Fprintln(w, s)
		fl.Flush()
	}
	switch {
	case n == 1:
		line(`{"type":"heartbeat","index":40}`)
		line(`{"index":41,"topic":"proc","type":"spawned","pid":7,"time":"2026-12-07T04:00:00Z"}`)
		line(`{"index":42,"topic":"node","type":"up","node":"n1","time":"2026-12-07T04:00:01Z"}`)
		line(`{"topic":"stream","type":"dropped","index":42,"detail":{"reason":"slow reader"}}`)
	case n == 2 && r.URL.RawQuery == "index=42":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGone)
		line(`{"error":"index 42 is older than the buffer","oldest_index":50}`)
	case n == 3 && r.URL.RawQuery == "":
		line(`{"index":60,"topic":"proc","type":"exited","pid":7,"time":"2026-12-07T04:00:02Z","detail":{"exit_code":0}}`)
		<-r.Context().Done()
	default:
		http.Error(w, "unexpected query "+r.URL.RawQuery, http.StatusBadRequest)
	}
}

func (f *eventsFake) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

// TestEventsPanel checks the events panel against the stream's contract:
// events listed newest first, heartbeats not listed, a dropped stream
// shown and resumed from the last index read, a 410 shown as a gap and
// followed by a fresh stream.
func TestEventsPanel(t *testing.T) {
	exe := chromium(t)
	h, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	fake := &eventsFake{}
	mux := http.NewServeMux()
	mux.Handle(ui.Prefix, h)
	mux.Handle("/", fake)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := openBrowser(t, exe)
	b.step("loading the console", chromedp.Navigate(srv.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#events")))
	b.poll("the exit after the gap", `(l => l.length === 5 &&
		l[0].dataset.type === 'exited' && l[0].dataset.pid === '7' && l[1].dataset.type === 'gap' &&
		l[2].dataset.type === 'dropped' && l[3].dataset.type === 'up' &&
		l[4].dataset.type === 'spawned' && l[4].dataset.pid === '7')(document.querySelectorAll('#events li'))`)
	b.poll("the stream live", `document.getElementById('events-status').textContent === 'live'`)
	if got := b.text(`#events li[data-type="dropped"]`); !strings.Contains(got, "slow reader") {
		t.Errorf("the dropped line is %q, want its reason", got)
	}
	if got := b.text(`#events li[data-type="gap"]`); !strings.Contains(got, "oldest index 50") {
		t.Errorf("the gap line is %q, want the oldest index the agent has", got)
	}
	if q := fake.seen(); len(q) != 3 || q[0] != "" || q[1] != "index=42" || q[2] != "" {
		t.Errorf("event stream queries %q, want a first stream, a resume after index 42, a fresh stream", q)
	}
}
