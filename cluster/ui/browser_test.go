package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/vproc/vproc/internal/testwait"
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
	return startAgentWith(t, cluster.DevConfig())
}

// startAgentWith starts an agent with cfg on loopback ports the system
// picks and shuts it down when the test ends.
func startAgentWith(t *testing.T, cfg cluster.Config) *cluster.Agent {
	t.Helper()
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
	base := "http://" + a.HTTPAddr()
	testwait.For(t, "a leader", stepTimeout, func() bool {
		return call(t, http.MethodGet, base+"/v1/health", "", nil, nil) == http.StatusOK
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

// call makes one API call with token (none if empty), sends in as JSON
// if not nil, decodes a 2xx answer into out if not nil and returns the
// status.
func call(t *testing.T, method, url, token string, in, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(api.HeaderToken, token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

// process reads pid from the API, as the CLI's `ps` does.
func process(t *testing.T, base, token string, pid int) api.Process {
	t.Helper()
	var p api.Process
	if code := call(t, http.MethodGet, base+"/v1/procs/"+strconv.Itoa(pid), token, nil, &p); code != http.StatusOK {
		t.Fatalf("GET /v1/procs/%d: %d", pid, code)
	}
	return p
}

// browser is a headless Chromium with one tab, for one test.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab's; every step derives its own deadline
}

// openBrowser starts exe headless (without the sandbox as root, where
// Chromium refuses it) and closes it when the test ends: cancelling the
// allocator ends the browser process and chromedp's goroutines.
func openBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// The first Run starts the browser, with no deadline: the browser
	// lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return &browser{t: t, ctx: ctx}
}

// shot saves a screenshot of the whole page as name in the test's
// artifact directory.
func (b *browser) shot(name string) {
	t := b.t
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
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

// step runs actions within stepTimeout, or fails the test with a
// screenshot (failed.png).
func (b *browser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed.png")
		b.t.Fatalf("%s: %v", what, err)
	}
}

// poll waits, within stepTimeout, until the JavaScript expression expr
// is true in the page.
func (b *browser) poll(what, expr string) {
	b.t.Helper()
	b.step(what, void(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(0), chromedp.WithPollingInterval(100*time.Millisecond))))
}

// text returns the text content of the element sel selects.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// eval returns the string value of a JavaScript expression in the page.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return s
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

	b := openBrowser(t, exe)
	step, poll, text, shot := b.step, b.poll, b.text, b.shot

	// A browser asking for / lands on the console.
	step("loading /", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#procs")))
	if loc := b.eval("location.href"); loc != base+"/ui/" {
		t.Fatalf("location after / is %q, want %s/ui/", loc, base)
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
	if p := process(t, base, "", pid); p.State != "exited" || p.Signal == nil || *p.Signal != 15 {
		t.Errorf("after the kill the API says state %s, signal %v; want exited by 15", p.State, p.Signal)
	}

	// The shell's child, sleep, outlives it (a Unix shell's children are
	// not signalled with it); SIGKILL to the shell's process group, from
	// the child's row, ends it.
	child := fmt.Sprintf(`#procs tr[data-pid="%d"]`, pid+1)
	poll("the shell's child running", fmt.Sprintf(`document.querySelector('%s[data-state="running"]') !== null`, child))
	if cmd := text(child + " td.cmd"); cmd != "sleep 600" {
		t.Fatalf("pid %d is %q, want the shell's sleep 600", pid+1, cmd)
	}
	step("selecting the child", chromedp.Click(chromedp.CSS(child)))
	poll("the child selected", fmt.Sprintf(`document.getElementById('detail-pid').textContent === '%d'`, pid+1))
	step("killing the group",
		chromedp.SetValue(chromedp.CSS("#kill-signal"), "9"),
		chromedp.Click(chromedp.CSS("#kill-group")),
		chromedp.Click(chromedp.CSS("#kill-submit")),
	)
	poll("the group kill sent", fmt.Sprintf(`document.getElementById('kill-result').textContent === 'SIGKILL sent to process group %d (1 process)'`, pid))
	poll("the child exited", fmt.Sprintf(`document.querySelector('%s[data-state="exited"]') !== null`, child))
	if p := process(t, base, "", pid+1); p.Signal == nil || *p.Signal != 9 {
		t.Errorf("the child's signal is %v, want 9", p.Signal)
	}

	// The events panel: once the agent serves /v1/events it must show the
	// spawn; until then it must say that the stream is unavailable.
	if events == http.StatusNotFound {
		poll("the events panel says unavailable", `document.getElementById('events-status').textContent === 'event stream unavailable'`)
	} else {
		poll("the spawned event", fmt.Sprintf(`document.querySelector('#events li[data-type="spawned"][data-pid="%d"]') !== null`, pid))
		poll("the exited event", fmt.Sprintf(`document.querySelector('#events li[data-type="exited"][data-pid="%d"]') !== null`, pid))
	}

	// Back to the shell: its whole output, read after its exit.
	step("selecting the shell again", chromedp.Click(chromedp.CSS(row)))
	poll("the shell's output again", `document.getElementById('log-output').textContent === 'hello-console\n' &&
		document.getElementById('log-status').textContent === 'end of output'`)
	shot("console.png")
}

// TestConsoleWithACLs: with ACLs on, the console's files load without a
// token, its API calls are refused until a token is typed in, and then
// they carry it: the spawn belongs to the token's user, and the token
// stays for the browser tab's session (sessionStorage), across a reload.
func TestConsoleWithACLs(t *testing.T) {
	exe := chromium(t)
	cfg := cluster.DevConfig()
	cfg.ACLEnabled, cfg.AgentToken = true, "console-test-agent-token-0123456789"
	a := startAgentWith(t, cfg)
	base := "http://" + a.HTTPAddr()
	var mgmt, alice api.ACLToken
	if code := call(t, http.MethodPost, base+"/v1/acl/bootstrap", "", nil, &mgmt); code != http.StatusOK {
		t.Fatalf("ACL bootstrap: %d", code)
	}
	if code := call(t, http.MethodPost, base+"/v1/acl/tokens", mgmt.SecretID, api.ACLTokenRequest{User: "alice"}, &alice); code != http.StatusOK {
		t.Fatalf("creating alice's token: %d", code)
	}

	b := openBrowser(t, exe)
	b.step("loading the console without a token", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#procs")))
	b.poll("the nodes refused", `(e => !e.hidden && e.textContent.includes('ACL token is needed'))(document.getElementById('nodes-error'))`)

	b.step("typing alice's token",
		chromedp.SetValue(chromedp.CSS("#token"), alice.SecretID),
		chromedp.Click(chromedp.CSS("#token-form button")),
	)
	b.poll("the nodes shown", `document.querySelector('#nodes tr[data-node="dev"]') !== null && document.getElementById('nodes-error').hidden`)
	if got := b.eval(`sessionStorage.getItem('vproc-token')`); got != alice.SecretID {
		t.Errorf("sessionStorage holds %q, want alice's secret", got)
	}

	b.step("reloading", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#procs")))
	b.step("spawning as alice",
		chromedp.SetValue(chromedp.CSS("#spawn-cmd"), "sleep 600"),
		chromedp.Click(chromedp.CSS("#spawn-submit")),
	)
	b.poll("the spawn's pid", `document.getElementById('spawn-result').dataset.pid !== undefined`)
	pid, err := strconv.Atoi(b.text("#detail-pid"))
	if err != nil {
		t.Fatalf("the selected process is %q: %v", b.text("#detail-pid"), err)
	}
	row := fmt.Sprintf(`#procs tr[data-pid="%d"]`, pid)
	b.poll("alice's process running", fmt.Sprintf(`document.querySelector('%s[data-state="running"]') !== null`, row))
	if owner := b.text(row + " td.owner"); owner != "alice" {
		t.Errorf("the table's owner is %q, want alice", owner)
	}
	b.step("killing with SIGKILL",
		chromedp.SetValue(chromedp.CSS("#kill-signal"), "9"),
		chromedp.Click(chromedp.CSS("#kill-submit")),
	)
	b.poll("the process exited", fmt.Sprintf(`document.querySelector('%s[data-state="exited"]') !== null`, row))
	if p := process(t, base, mgmt.SecretID, pid); p.Owner != "alice" || p.Signal == nil || *p.Signal != 9 {
		t.Errorf("the API says owner %s, signal %v; want alice's, killed by 9", p.Owner, p.Signal)
	}
	b.shot("console-acl.png")
}
