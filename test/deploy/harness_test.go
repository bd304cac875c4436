package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/testwait"
)

var (
	runFlag     = flag.Bool("deploy.run", false, "build the image and test the Compose cluster (needs a Docker engine)")
	cleanupFlag = flag.Bool("deploy.cleanup", false, "remove the compose projects and images that killed runs of this test left")
)

// namePrefix starts the name of every compose project ("vprocdeploytest-
// PID-N") and image ("vprocdeploytest:PID-N") a run creates, so that
// TestCleanup finds what a killed run left.
const namePrefix = "vprocdeploytest"

// services are the nodes of deploy/docker-compose.yml, which are also
// their node names.
var services = []string{"vproc1", "vproc2", "vproc3"}

// deployment is one run's compose cluster.
type deployment struct {
	t       *testing.T
	root    string // the repository
	dir     string // this run's scratch directory
	bin     string // the vproc binary, static, for the host and the image
	project string
	image   string
	compose []string       // docker-compose, or docker compose
	ports   map[string]int // service → the host port of its HTTP API

	downOnce sync.Once
}

// dockerAnswers reports why no Docker engine can be used, or "".
func dockerAnswers() string {
	if _, err := exec.LookPath("docker"); err != nil {
		return "no docker command"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("no Docker engine answers (%s)", strings.TrimSpace(firstLine(string(out))))
	}
	return ""
}

// composeCommand returns docker-compose, or the compose plugin, or nil.
func composeCommand() []string {
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// newDeployment builds the binary and the image, and writes the compose
// override that publishes every node's API on a free loopback port. The
// cluster is torn down and the image removed when the test ends, or on
// SIGINT or SIGTERM.
func newDeployment(t *testing.T, compose []string) *deployment {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), rand.IntN(1e6))
	d := &deployment{
		t:       t,
		root:    root,
		dir:     t.TempDir(),
		project: namePrefix + "-" + id,
		image:   namePrefix + ":" + id,
		compose: compose,
		ports:   make(map[string]int),
	}
	for _, s := range services {
		d.ports[s] = freePort(t)
	}
	d.bin = filepath.Join(d.dir, "vproc")
	build := exec.Command("go", "build", "-trimpath", "-o", d.bin, "./cmd/vproc")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building vproc: %v\n%s", err, out)
	}
	// From here on, whatever was created is removed however the test ends.
	t.Cleanup(d.down)
	stop := d.downOnSignal()
	t.Cleanup(stop)

	if _, err := d.cmd(10*time.Minute, []string{"VPROC_BINARY=" + d.bin}, "sh", filepath.Join(root, "deploy/build-image.sh"), d.image, "deploytest", "deploytest"); err != nil {
		t.Fatalf("building the image: %v", err)
	}
	// Node 1 is published by the compose file itself; the override
	// publishes the other two, so that the test reaches the cluster
	// whichever node it kills.
	var b strings.Builder
	b.WriteString("services:\n")
	for _, s := range services[1:] {
		fmt.Fprintf(&b, "  %s:\n    ports:\n      - \"127.0.0.1:%d:7070\"\n", s, d.ports[s])
	}
	if err := os.WriteFile(filepath.Join(d.dir, "override.yml"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// freePort returns a loopback TCP port that is free now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// downOnSignal tears the deployment down if the test is interrupted; the
// returned stop ends the watch.
func (d *deployment) downOnSignal() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case sig := <-ch:
			fmt.Fprintf(os.Stderr, "deploy test: %v: tearing down %s\n", sig, d.project)
			d.down()
			os.Exit(1)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
		<-exited
	}
}

// down removes the cluster (containers, network, volumes) and the image.
func (d *deployment) down() {
	d.downOnce.Do(func() {
		if d.t.Failed() {
			if out, err := d.composeCmd(2*time.Minute, "logs", "--no-color", "--tail", "40"); err == nil {
				d.t.Logf("the agents' last logs:\n%s", out)
			}
		}
		if _, err := d.composeCmd(5*time.Minute, "down", "-v", "--remove-orphans", "-t", "10"); err != nil {
			d.t.Errorf("tearing down %s: %v", d.project, err)
		}
		if _, err := d.cmd(2*time.Minute, nil, "docker", "image", "rm", "-f", d.image); err != nil {
			d.t.Errorf("removing %s: %v", d.image, err)
		}
	})
}

// cmd runs a command with extra environment and returns its stdout.
func (d *deployment) cmd(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = d.root
	c.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// composeCmd runs a compose command on this run's project.
func (d *deployment) composeCmd(timeout time.Duration, args ...string) (string, error) {
	full := append(append([]string{}, d.compose[1:]...),
		"-p", d.project, "-f", filepath.Join(d.root, "deploy/docker-compose.yml"), "-f", filepath.Join(d.dir, "override.yml"))
	full = append(full, args...)
	env := []string{"VPROC_IMAGE=" + d.image, "VPROC_HTTP_PORT=" + strconv.Itoa(d.ports[services[0]]), "VPROC_HTTP_BIND=127.0.0.1"}
	return d.cmd(timeout, env, d.compose[0], full...)
}

// container returns the container ID of a service.
func (d *deployment) container(service string) string {
	d.t.Helper()
	out, err := d.composeCmd(time.Minute, "ps", "-q", service)
	if err != nil || strings.TrimSpace(out) == "" {
		d.t.Fatalf("container of %s: %q, %v", service, out, err)
	}
	return strings.TrimSpace(out)
}

// result is what one vproc command did.
type result struct {
	stdout, stderr string
	code           int
}

// vproc runs the vproc command line against a node's API.
func (d *deployment) vproc(node string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, d.bin, args...)
	c.Env = append(os.Environ(), "VPROC_ADDR="+d.addr(node))
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		r.code, r.stderr = -1, err.Error()
	}
	return r
}

// addr is the API address of node on the host.
func (d *deployment) addr(node string) string {
	return "http://127.0.0.1:" + strconv.Itoa(d.ports[node])
}

// vprocJSON runs a vproc verb with -o json and decodes its output.
func (d *deployment) vprocJSON(node string, out any, args ...string) error {
	r := d.vproc(node, append(args, "-o", "json")...)
	if r.code != 0 {
		return fmt.Errorf("vproc %s: exit %d: %s", strings.Join(args, " "), r.code, strings.TrimSpace(r.stderr))
	}
	return json.Unmarshal([]byte(r.stdout), out)
}

// nodes lists the nodes as node sees them.
func (d *deployment) nodes(node string) ([]api.Node, error) {
	var ns []api.Node
	err := d.vprocJSON(node, &ns, "nodes")
	return ns, err
}

// procs lists every process, exited and lost ones too.
func (d *deployment) procs(node string) (map[uint64]api.Process, error) {
	var ps []api.Process
	if err := d.vprocJSON(node, &ps, "ps", "-a"); err != nil {
		return nil, err
	}
	m := make(map[uint64]api.Process, len(ps))
	for _, p := range ps {
		m[p.PID] = p
	}
	return m, nil
}

// spawn spawns a process through node and returns its PID.
func (d *deployment) spawn(node string, args ...string) uint64 {
	d.t.Helper()
	r := d.vproc(node, append([]string{"spawn"}, args...)...)
	pid, err := strconv.ParseUint(strings.TrimSpace(r.stdout), 10, 64)
	if r.code != 0 || err != nil {
		d.t.Fatalf("vproc spawn %v: got %+v, want a PID", args, r)
	}
	return pid
}

// state is a node's applied index and state hash (GET /v1/state).
func (d *deployment) state(node string) (api.StateInfo, error) {
	var s api.StateInfo
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(d.addr(node) + "/v1/state")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /v1/state: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// health is the Docker health status of a service's container.
func (d *deployment) health(service string) string {
	out, err := d.cmd(time.Minute, nil, "docker", "inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", d.container(service))
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(out)
}

// waitUntil polls cond every interval until it returns nil, and fails the
// test with cond's last error once timeout has passed.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	testwait.Until(t, what, timeout, 250*time.Millisecond, cond)
}
