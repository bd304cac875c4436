package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vproc/vproc/cluster"
	"github.com/vproc/vproc/cluster/api"
)

// stepTimeout bounds each step in the browser: generous, for a busy
// machine.
const stepTimeout = 60 * time.Second

// chromium returns the browser's path. Without one the test is skipped,
// unless VPROC_REQUIRE_BROWSER=1 (set by `make unit`, after test/deps.sh
// installed it), when it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("VPROC_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium binary on PATH, and VPROC_REQUIRE_BROWSER=1 (test/deps.sh installs it)")
	}
	t.Skip("no chromium binary on PATH (install Debian's chromium package, or run test/deps.sh as root)")
	return ""
}

// startAgent starts a dev agent on loopback ports the system picks and
// shuts it down when the test ends.
func startAgent(t *testing.T) *cluster.Agent {
	t.Helper()
	cfg := cluster.DevConfig()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	a, err := cluster.New(cfg)
	if err != nil {
		t.Fatalf("starting a dev agent: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("agent shutdown: %v", err)
		}
	})
	return a
}

// httpClient keeps no idle connection, so that no goroutine outlives the
// test.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// eventsStatus asks GET /v1/events once and returns its status: 404 while
// the agent has no event stream, 200 once it has.
func eventsStatus(t *testing.T, base string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/events: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// process reads pid from the API, as the CLI's `ps` does.
func process(t *testing.T, base string, pid int) api.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/procs/"+strconv.Itoa(pid), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/procs/%d: %v", pid, err)
	}
	defer resp.Body.Close()
	var p api.Process
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/procs/%d: %s", pid, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("GET /v1/procs/%d: %v", pid, err)
	}
	return p
}

// void drops an action's value, for chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// TestConsoleInBrowser drives the console in headless Chromium against a
// real agent: it spawns a process from the page, sees it in the table and
// its output in the log view, kills it with the chosen signal, sees it
// exit and the events, and saves a screenshot in the test's artifact
// directory (kept with go test -artifacts).
func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	a := startAgent(t)
	base := "http://" + a.HTTPAddr()
	events := eventsStatus(t, base)
	t.Logf("GET /v1/events: %d", events)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// The first Run starts the browser, with no deadline: the browser
	// lives as long as ctx. Each step below has its own deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	shot := func(name string) {
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("screenshot: %v", err)
			return
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("screenshot is not a PNG (%d bytes)", len(png))
			return
		}
		path := filepath.Join(t.ArtifactDir(), name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Errorf("saving the screenshot: %v", err)
			return
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(png))
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			shot("failed.png")
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll := func(what, expr string) {
		t.Helper()
		step(what, void(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(0), chromedp.WithPollingInterval(100*time.Millisecond))))
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}

	// A browser asking for / lands on the console.
	step("loading /", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#procs")))
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	loc, err := chromedp.Run(sctx, chromedp.Location())
	cancel()
	if err != nil || loc != base+"/ui/" {
		t.Fatalf("location after / is %q (%v), want %s/ui/", loc, err, base)
	}

	// The node, with its lease held and its slots.
	poll("the dev node with its lease", `document.querySelector('#nodes tr[data-node="dev"] .lease-held') !== null`)
	poll("the health line", `document.getElementById('health').textContent.includes('leader dev')`)

	// Spawn from the form: the page selects the new process.
	step("spawning",
		chromedp.SetValue(chromedp.CSS("#spawn-cmd"), `sh -c 'echo hello-console; sleep 600'`),
		chromedp.Click(chromedp.CSS("#spawn-submit")),
	)
	poll("the spawn's pid", `document.getElementById('spawn-result').dataset.pid !== undefined`)
	pid, err := strconv.Atoi(text("#detail-pid"))
	if err != nil || pid < 2 {
		t.Fatalf("the selected process after the spawn is %q (%v)", text("#detail-pid"), err)
	}
	row := fmt.Sprintf(`#procs tr[data-pid="%d"]`, pid)
	poll("the process running in the table", fmt.Sprintf(`document.querySelector('%s[data-state="running"]') !== null`, row))
	if cmd := text(row + " td.cmd"); cmd != `sh -c 'echo hello-console; sleep 600'` {
		t.Errorf("the table's command is %q", cmd)
	}
	poll("its output in the log view", `document.getElementById('log-output').textContent.includes('hello-console')`)

	// The filter keeps only the matching rows; sorting by PID descending
	// puts the newest first.
	step("filtering", chromedp.SendKeys(chromedp.CSS("#proc-filter"), "hello-console"))
	poll("one row left", fmt.Sprintf(`document.querySelectorAll('#procs tbody tr').length === 1 && document.querySelector('%s') !== null`, row))
	step("clearing the filter", void(chromedp.Evaluate[bool](
		`(f => { f.value = ''; f.dispatchEvent(new Event('input')); return true; })(document.getElementById('proc-filter'))`)))
	poll("init back in the table", `document.querySelector('#procs tr[data-pid="1"]') !== null`)
	// The table starts sorted by PID ascending; a click on the header
	// reverses it (the shell's child, sleep, is the newest).
	step("sorting by PID", chromedp.Click(chromedp.CSS(`#procs th[data-key="pid"]`)))
	poll("the newest first", `(rows => rows.length >= 3 && Number(rows[0].dataset.pid) > Number(rows[1].dataset.pid) &&
		Number(rows[1].dataset.pid) > Number(rows[rows.length-1].dataset.pid))(document.querySelectorAll('#procs tbody tr')) &&
		document.querySelector('#procs th[data-key="pid"]').classList.contains('sorted-desc')`)
	step("sorting by command", chromedp.Click(chromedp.CSS(`#procs th[data-key="command"]`)))
	poll("init first by command", `document.querySelector('#procs tbody tr').dataset.pid === '1'`)
	step("clicking the row", chromedp.Click(chromedp.CSS(row)))
	poll("the row selected", fmt.Sprintf(`document.querySelector('%s').classList.contains('selected')`, row))

	// Kill it with SIGTERM chosen in the form.
	step("killing",
		chromedp.SetValue(chromedp.CSS("#kill-signal"), "15"),
		chromedp.Click(chromedp.CSS("#kill-submit")),
	)
	poll("the kill sent", `document.getElementById('kill-result').textContent.includes('SIGTERM sent')`)
	poll("the process exited in the table", fmt.Sprintf(`document.querySelector('%s[data-state="exited"]') !== null`, row))
	poll("the log's end", `document.getElementById('log-status').textContent === 'end of output'`)
	if p := process(t, base, pid); p.State != "exited" || p.Signal == nil || *p.Signal != 15 {
		t.Errorf("after the kill the API says state %s, signal %v; want exited by 15", p.State, p.Signal)
	}

	// The events panel: once the agent serves /v1/events it must show the
	// spawn; until then it must say that the stream is unavailable.
	if events == http.StatusNotFound {
		poll("the events panel says unavailable", `document.getElementById('events-status').textContent === 'event stream unavailable'`)
	} else {
		poll("the spawned event", fmt.Sprintf(`document.querySelector('#events li[data-type="spawned"][data-pid="%d"]') !== null`, pid))
		poll("the exited event", fmt.Sprintf(`document.querySelector('#events li[data-type="exited"][data-pid="%d"]') !== null`, pid))
	}

	shot("console.png")
}
