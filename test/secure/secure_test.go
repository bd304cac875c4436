package secure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Markers of the README's block.
const (
	beginMarker = "<!-- secure-cluster-steps"
	endMarker   = "<!-- end secure-cluster-steps -->"
)

// The addresses the block gives its nodes.
const (
	httpAddr = "127.0.0.1:22070"
)

// repoRoot returns the directory of go.mod above the working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("no go.mod above the test's directory")
	return ""
}

// readmeSteps returns the shell block between the README's markers.
func readmeSteps(readme string) (string, error) {
	_, rest, ok := strings.Cut(readme, beginMarker)
	if !ok {
		return "", errors.New("no " + beginMarker + " marker in the README")
	}
	block, _, ok := strings.Cut(rest, endMarker)
	if !ok {
		return "", errors.New("no end marker in the README")
	}
	_, code, ok := strings.Cut(block, "```sh\n")
	if !ok {
		return "", errors.New("no ```sh block between the markers")
	}
	code, _, ok = strings.Cut(code, "```")
	if !ok {
		return "", errors.New("the ```sh block does not end")
	}
	return code, nil
}

func TestReadmeSteps(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"x\n" + beginMarker + " -->\n```sh\nvproc keygen\n```\n" + endMarker, "vproc keygen\n", false},
		{"no markers", "", true},
		{beginMarker + " -->\n```sh\nvproc keygen\n" + endMarker, "", true},
	} {
		got, err := readmeSteps(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("readmeSteps(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestSecureCluster runs the README's "Secure cluster" steps and checks
// what they made.
func TestSecureCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vproc and runs three agents; skipped with -short")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := readmeSteps(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "vproc"), "./cmd/vproc")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building vproc: %v\n%s", err, out)
	}
	work := t.TempDir()
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + work}

	// Files, not pipes: the agents the steps start in the background
	// inherit them and outlive sh, and Wait would wait for a pipe's end.
	stdoutF, err := os.Create(filepath.Join(work, "steps.stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdoutF.Close()
	stderrF, err := os.Create(filepath.Join(work, "steps.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderrF.Close()
	sh := exec.CommandContext(ctx, "sh", "-ec", steps)
	sh.Dir, sh.Env, sh.Stdout, sh.Stderr = work, env, stdoutF, stderrF
	// The agents run in the background of sh, in its process group: the
	// cleanup ends the group.
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := sh.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	logs := func() string {
		var b strings.Builder
		for i := 1; i <= 3; i++ {
			l, _ := os.ReadFile(filepath.Join(work, "secure", fmt.Sprintf("n%d.log", i)))
			fmt.Fprintf(&b, "--- n%d.log\n%s", i, tail(string(l), 40))
		}
		return b.String()
	}
	waitErr := sh.Wait()
	stdout, _ := os.ReadFile(stdoutF.Name())
	stderr, _ := os.ReadFile(stderrF.Name())
	if err := waitErr; err != nil {
		t.Fatalf("the README's steps failed: %v\nstdout:\n%s\nstderr:\n%s\n%s", err, stdout, stderr, logs())
	}
	dir := filepath.Join(work, "secure")
	token := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name+".token"))
		if err != nil || strings.TrimSpace(string(b)) == "" {
			t.Fatalf("the steps left no %s.token: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	mgmt, alice, bob := token("management"), token("alice"), token("bob")
	// vprocAs runs the CLI with the client certificate (or without) and
	// the secret tok ("" for none) as VPROC_TOKEN.
	vprocAs := func(withCerts bool, tok string, args ...string) (string, error) {
		c := exec.CommandContext(ctx, filepath.Join(bin, "vproc"), args...)
		c.Dir = dir
		c.Env = append(env, "VPROC_ADDR=https://"+httpAddr, "VPROC_TOKEN="+tok)
		if withCerts {
			c.Env = append(c.Env, "VPROC_CACERT=vproc-agent-ca.pem", "VPROC_CLIENT_CERT=client-vproc-0.pem", "VPROC_CLIENT_KEY=client-vproc-0-key.pem")
		}
		out, err := c.CombinedOutput()
		return string(out), err
	}
	vproc := func(withCerts bool, args ...string) (string, error) { return vprocAs(withCerts, mgmt, args...) }

	if !strings.Contains(string(stdout), "sleep") {
		t.Errorf("ps after the spawn shows no sleep:\n%s", stdout)
	}
	// The denied steps were denied, each with its reason.
	for _, want := range []string{"vproc: ps: an ACL token is needed", "belongs to alice, not bob"} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("the steps' stderr does not say %q:\n%s", want, stderr)
		}
	}
	// alice's process outlived bob's kill: alice sees it running, owned
	// by her, and bob sees none of her processes' env.
	out, err := vprocAs(true, alice, "ps", "-o", "json")
	if err != nil {
		t.Fatalf("ps as alice: %v\n%s", err, out)
	}
	procs := decodeProcs(t, out)
	var pid uint64
	for _, p := range procs {
		if p.Command == "sleep" && p.Owner == "alice" && p.State == "running" {
			pid = p.PID
		}
	}
	if pid == 0 {
		t.Errorf("alice has no running sleep after bob's kill:\n%s", out)
	}
	if out, err := vprocAs(true, bob, "kill", fmt.Sprint(pid)); err == nil || !strings.Contains(out, "belongs to alice, not bob") {
		t.Errorf("bob's kill of alice's %d: %v %q, want denied", pid, err, out)
	}
	if out, err := vprocAs(true, bob, "operator", "keyring", "list"); err == nil {
		t.Errorf("keyring list as bob succeeded, want a management token needed:\n%s", out)
	}
	// Anonymous requests are denied, through the CLI and the API, but
	// for the health check.
	if out, err := vprocAs(true, "", "ps"); err == nil || !strings.Contains(out, "an ACL token is needed") {
		t.Errorf("anonymous ps: %v %q, want denied", err, out)
	}
	if out, err := vprocAs(true, "", "health"); err != nil {
		t.Errorf("anonymous health: %v %q, want it answered", err, out)
	}
	tc := clientTLS(t, dir)
	if code := status(t, tc, "", "/v1/procs"); code != http.StatusForbidden {
		t.Errorf("anonymous GET /v1/procs: %d, want 403", code)
	}
	if code := status(t, tc, mgmt, "/v1/procs"); code != http.StatusOK {
		t.Errorf("GET /v1/procs with the management token: %d, want 200", code)
	}
	if code := status(t, tc, alice, "/v1/snapshot"); code != http.StatusForbidden {
		t.Errorf("alice's GET /v1/snapshot: %d, want 403", code)
	}
	// Every member holds one key, the new primary one.
	out, err = vproc(true, "operator", "keyring", "list", "-o", "json")
	if err != nil {
		t.Fatalf("keyring list: %v\n%s", err, out)
	}
	var kr struct {
		Nodes []struct {
			Node, Primary, Error string
			Keys                 []string
		}
	}
	if err := json.Unmarshal([]byte(out), &kr); err != nil {
		t.Fatalf("keyring list -o json: %v\n%s", err, out)
	}
	old, _ := os.ReadFile(filepath.Join(dir, "gossip.key"))
	if len(kr.Nodes) != 3 {
		t.Errorf("keyring list: %d nodes, want 3:\n%s", len(kr.Nodes), out)
	}
	for _, n := range kr.Nodes {
		if len(n.Keys) != 1 || n.Keys[0] != n.Primary || n.Primary == strings.TrimSpace(string(old)) {
			t.Errorf("node %s holds %v, primary %q: want only the new key", n.Node, n.Keys, n.Primary)
		}
	}
	// Three voters.
	out, err = vproc(true, "operator", "raft", "list-peers", "-o", "json")
	if err != nil || strings.Count(out, `"voter"`) != 3 {
		t.Errorf("list-peers: %v, want three voters:\n%s", err, out)
	}
	// A client without a certificate is refused, and so is plaintext.
	if out, err := vproc(false, "health"); err == nil {
		t.Errorf("health without a client certificate succeeded:\n%s", out)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if resp, err := hc.Get("http://" + httpAddr + "/v1/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plaintext HTTP answered 200")
		}
	}
}

// proc is what the checks read of `vproc ps -o json`.
type proc struct {
	PID     uint64 `json:"pid"`
	Command string `json:"command"`
	Owner   string `json:"owner"`
	State   string `json:"state"`
}

// decodeProcs reads `vproc ps -o json`: a list of processes, bare or in
// an object's "processes".
func decodeProcs(t *testing.T, out string) []proc {
	t.Helper()
	var list []proc
	if err := json.Unmarshal([]byte(out), &list); err == nil {
		return list
	}
	var obj struct {
		Processes []proc `json:"processes"`
	}
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("ps -o json: %v\n%s", err, out)
	}
	return obj.Processes
}

// clientTLS is the CLI's TLS configuration the steps made: the CA and the
// client certificate.
func clientTLS(t *testing.T, dir string) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(dir, "vproc-agent-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("vproc-agent-ca.pem holds no certificate")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client-vproc-0.pem"), filepath.Join(dir, "client-vproc-0-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "server.vproc", MinVersion: tls.VersionTLS12}
}

// status returns the status of GET path on the block's node 2 over tc,
// with tok as X-Vproc-Token unless it is "".
func status(t *testing.T, tc *tls.Config, tok, path string) int {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: tc}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	req, err := http.NewRequest(http.MethodGet, "https://"+httpAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("X-Vproc-Token", tok)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
