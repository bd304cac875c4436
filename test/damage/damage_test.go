package damage

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vproc/vproc/internal/testwait"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds ./cmd/vproc once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the vproc binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vproc-damage-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vproc")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/vproc")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// node is one single-server agent of the real binary over a data dir.
type node struct {
	t    *testing.T
	bin  string
	dir  string
	args []string
	http string
}

func newNode(t *testing.T) *node {
	n := &node{t: t, bin: binary(t), dir: t.TempDir(), http: freePort(t)}
	n.args = []string{"agent", "--name", "n1", "--data-dir", n.dir, "--http-addr", n.http,
		"--raft-addr", freePort(t), "--gossip-addr", freePort(t), "--bootstrap-expect", "1"}
	return n
}

// start starts the agent; stop (SIGTERM) is in the cleanup too.
func (n *node) start() (*exec.Cmd, *bytes.Buffer) {
	n.t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &out
}

// cli runs a client verb against the node.
func (n *node) cli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin, args...)
	cmd.Env = append(os.Environ(), "VPROC_ADDR=http://"+n.http)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run starts the agent, waits until it is healthy, spawns a few
// processes, runs extra, and stops it cleanly.
func (n *node) run(extra func()) {
	n.t.Helper()
	cmd, out := n.start()
	testwait.For(n.t, "a healthy agent", 60*time.Second, func() bool {
		_, err := n.cli("health")
		return err == nil
	})
	for range 5 {
		if o, err := n.cli("spawn", "--", "true"); err != nil {
			n.t.Fatalf("spawn: %v: %s", err, o)
		}
	}
	if extra != nil {
		extra()
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	if err := waitExit(cmd, 60*time.Second); err != nil {
		n.t.Fatalf("clean stop: %v\n%s", err, out)
	}
}

func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("did not exit within %v", d)
	}
}

// TestDamagedDataRefused stops an agent cleanly, damages its data in one
// way, and starts it again: it must exit with status 1 and one error line
// naming the file and the reason, with no stack trace.
func TestDamagedDataRefused(t *testing.T) {
	page := int64(os.Getpagesize())
	for _, tc := range []struct {
		name     string
		snapshot bool
		damage   func(t *testing.T, dir string) string // returns the file named
		want     string
	}{
		{"empty file", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "raft.db")
			must(t, os.Truncate(p, 0))
			return p
		}, "was applied"},
		{"cut file", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "raft.db")
			must(t, os.Truncate(p, 3*page))
			return p
		}, "cut short"},
		{"garbled pages", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "raft.db")
			garble(t, p, page)
			return p
		}, "damaged store"},
		{"garbled snapshot", true, func(t *testing.T, dir string) string {
			ents, err := os.ReadDir(filepath.Join(dir, "snapshots"))
			if err != nil || len(ents) == 0 {
				t.Fatalf("no snapshot: %v", err)
			}
			p := filepath.Join(dir, "snapshots", ents[len(ents)-1].Name(), "state.bin")
			garble(t, p, 64)
			return filepath.Join(dir, "snapshots", ents[len(ents)-1].Name())
		}, "CRC mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			var extra func()
			if tc.snapshot {
				// An operator restore writes a snapshot of raft's own.
				extra = func() {
					f := filepath.Join(t.TempDir(), "table.snap")
					for _, args := range [][]string{{"snapshot", "save", f}, {"snapshot", "restore", f}} {
						if o, err := n.cli(args...); err != nil {
							t.Fatalf("%v: %v: %s", args, err, o)
						}
					}
				}
			}
			n.run(extra)
			file := tc.damage(t, n.dir)
			cmd, out := n.start()
			err := waitExit(cmd, 60*time.Second)
			text := out.String()
			if err == nil {
				t.Fatalf("the agent exited 0 on damaged data:\n%s", text)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("the agent: %v, want exit status 1\n%s", err, text)
			}
			for _, bad := range []string{"goroutine ", "SIGSEGV", "SIGBUS", "panic:"} {
				if strings.Contains(text, bad) {
					t.Fatalf("the agent crashed (%q) instead of refusing:\n%s", bad, text)
				}
			}
			if !strings.Contains(text, file) || !strings.Contains(text, tc.want) {
				t.Fatalf("the agent's output does not name %s and %q:\n%s", file, tc.want, text)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// garble writes 16 random bytes into every page-sized stretch of the file.
func garble(t *testing.T, path string, page int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 16)
	for off := int64(0); off+16 <= st.Size(); off += page {
		for i := range buf {
			buf[i] = byte(rng.IntN(256))
		}
		at := off + int64(rng.IntN(int(min(page, st.Size()-off)-16+1)))
		if _, err := f.WriteAt(buf, at); err != nil {
			t.Fatal(err)
		}
	}
}
