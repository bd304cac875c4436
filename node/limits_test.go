package node

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

func TestParseLimits(t *testing.T) {
	good := []struct {
		in   string
		r    Resource
		want Rlimit
	}{
		{"cpu=2s", RCPU, Rlimit{uint64(2 * time.Second), uint64(2 * time.Second)}},
		{"cpu=2s:5s", RCPU, Rlimit{uint64(2 * time.Second), uint64(5 * time.Second)}},
		{"wall=1m", RWall, Rlimit{uint64(time.Minute), uint64(time.Minute)}},
		{"nofile=64", RNoFile, Rlimit{64, 64}},
		{"nproc=16:32", RNProc, Rlimit{16, 32}},
		{"mem=64M", RMem, Rlimit{64 << 20, 64 << 20}},
		{"mem=1KiB:2k", RMem, Rlimit{1024, 2048}},
		{"fsize=1M", RFSize, Rlimit{1 << 20, 1 << 20}},
		{"fsize=100", RFSize, Rlimit{100, 100}},
		{"nofile=8:unlimited", RNoFile, Rlimit{8, Infinity}},
		{" CPU = 1s ", RCPU, Rlimit{uint64(time.Second), uint64(time.Second)}},
	}
	for _, c := range good {
		t.Run(c.in, func(t *testing.T) {
			l, err := ParseLimits(nil, strings.ReplaceAll(c.in, " = ", "="))
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Get(c.r); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
	bad := []string{"cpu", "cpu=", "=1", "bogus=1", "cpu=fast", "cpu=-1s", "nofile=-1", "nofile=1.5",
		"mem=12Q", "mem=99999999999999999999", "mem=20000000T", "nofile=5:4", "cpu=1s:", "cpu=2s,,"}
	for _, in := range bad {
		t.Run("bad/"+in, func(t *testing.T) {
			_, err := ParseLimits(nil, in)
			if !errors.Is(err, ErrBadLimit) || !errors.Is(err, ipc.EINVAL) {
				t.Fatalf("got %v, want a bad-limit error", err)
			}
		})
	}
	// Repeated flags accumulate; String gives the grammar back.
	l, _ := ParseLimits(nil, "cpu=1s:2s")
	l, _ = ParseLimits(l, "nofile=9")
	if got := l.String(); got != "cpu=1s:2s,nofile=9" {
		t.Fatalf("String = %q", got)
	}
}

func limited(t *testing.T, spec string) *ResourceLimits {
	t.Helper()
	l, err := ParseLimits(nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCPULimit(t *testing.T) {
	clk := &stepClock{}
	k := newKernel(t, func(c *Config) { c.Clock = clk }, withPrograms(map[string]Program{
		"xcpu-ignorer": func(s *Sys) int {
			s.Sigaction(ipc.SIGXCPU, &SigAction{Ignore: true})
			for {
				s.Yield()
			}
		},
	}))
	// Soft limit: SIGXCPU, whose default action kills (with a core). As on
	// Linux, a soft limit equal to the hard one gives SIGKILL instead.
	st, _ := run(t, k, Spec{Command: "spin", Limits: limited(t, "cpu=20ms:10s")})
	if st.Signal() != ipc.SIGXCPU || !st.CoreDump() {
		t.Fatalf("soft: got %v, want death by SIGXCPU", st)
	}
	// Hard limit: SIGKILL, even when SIGXCPU is ignored.
	pid := mustSpawn(t, k, Spec{Command: "xcpu-ignorer", Limits: limited(t, "cpu=10ms:30ms")})
	p := mustWait(t, k, pid)
	if p.Status.Signal() != ipc.SIGKILL || !strings.Contains(p.Reason, "CPU") {
		t.Fatalf("hard: got %v (%s), want SIGKILL for CPU", p.Status, p.Reason)
	}
	if p.CPUTime < 30*time.Millisecond {
		t.Fatalf("killed after %v of CPU, before the hard limit", p.CPUTime)
	}
}

func TestWallLimit(t *testing.T) {
	k := newKernel(t)
	pid := mustSpawn(t, k, Spec{Command: "sleep", Args: []string{"60"}, Limits: limited(t, "wall=30ms")})
	p := mustWait(t, k, pid)
	if p.Status.Signal() != ipc.SIGKILL || !strings.Contains(p.Reason, "wall") {
		t.Fatalf("got %v (%s), want SIGKILL for wall time", p.Status, p.Reason)
	}
}

func TestDescriptorProcessAndMemoryLimits(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"fds": func(s *Sys) int { // 3 stdio descriptors, limit 6: one pipe fits
			if _, _, err := s.Pipe(); err != nil {
				return 1
			}
			if _, err := s.Dup(0); err != nil {
				return 2
			}
			if _, err := s.Dup(0); !errors.Is(err, ipc.EMFILE) {
				return 3
			}
			if _, _, err := s.Pipe(); !errors.Is(err, ipc.EMFILE) {
				return 4
			}
			return 0
		},
		"kids": func(s *Sys) int {
			var kids []int
			for i := range 3 {
				pid, err := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"60"}})
				if i < 2 && err != nil {
					return 1
				}
				if i == 2 && !errors.Is(err, ipc.EAGAIN) {
					return 2
				}
				kids = append(kids, pid)
			}
			s.Kill(kids[0], ipc.SIGKILL)
			s.Wait4(kids[0], 0)
			// A child slot is free again.
			pid, err := s.Spawn(SpawnAttr{Command: "true"})
			if err != nil {
				return 3
			}
			s.Wait4(pid, 0)
			s.Kill(kids[1], ipc.SIGKILL)
			return 0
		},
		"mem": func(s *Sys) int { // 64 KiB pipes against a 100 KiB limit
			r, w, err := s.Pipe()
			if err != nil {
				return 1
			}
			if _, err := s.Dup(r); err != nil { // the same pipe is charged once
				return 2
			}
			if _, _, err := s.Pipe(); !errors.Is(err, ipc.ENOMEM) {
				return 3
			}
			s.Close(r)
			s.Close(w)
			s.Close(3 + 2) // the dup
			if _, _, err := s.Pipe(); err != nil {
				return 4 // freed when its last descriptor closed
			}
			return 0
		},
		"inherit": func(s *Sys) int {
			_, err := s.Spawn(SpawnAttr{Command: "true", Limits: limited(t, "nofile=10:100")})
			if !errors.Is(err, ipc.EPERM) {
				return 1 // above the parent's hard limit
			}
			c, err := s.Spawn(SpawnAttr{Command: "true", Limits: limited(t, "nofile=5")})
			if err != nil {
				return 2
			}
			s.Wait4(c, 0)
			lim, _ := s.Getrlimit(RNoFile)
			if lim.Soft != 20 {
				return 3
			}
			if err := s.Setrlimit(RNoFile, Rlimit{10, 30}); !errors.Is(err, ipc.EPERM) {
				return 4
			}
			return 0
		},
	}))
	cases := []struct{ cmd, limits string }{
		{"fds", "nofile=6"},
		{"kids", "nproc=2"},
		{"mem", "mem=100K"},
		{"inherit", "nofile=20:20"},
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			st, out := run(t, k, Spec{Command: c.cmd, Limits: limited(t, c.limits)})
			if st.ExitStatus() != 0 {
				t.Fatalf("got %v %s", st, out)
			}
		})
	}
}

// RLIMIT_FSIZE counts bytes written to regular files only: output to the
// log, to pipes and to devices is not limited (as on Linux, yes | head runs
// under fsize=1K), and a file write past the limit is cut short, then the
// next one raises SIGXFSZ and fails with EFBIG.
func TestFileSizeLimit(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"file-writer": func(s *Sys) int {
			if s.Getenv("IGNORE") != "" {
				s.Sigaction(ipc.SIGXFSZ, &SigAction{Ignore: true})
			}
			fd, err := s.Open("/f", O_WRONLY|O_CREAT|O_TRUNC, 0o644)
			if err != nil {
				return 3
			}
			n, err := s.Write(fd, []byte("0123456789abcdef"))
			if n != 10 || err != nil {
				return 1
			}
			if _, err := s.Write(fd, []byte("x")); !errors.Is(err, ipc.EFBIG) {
				return 2
			}
			return 0
		},
		"pipe-writer": func(s *Sys) int {
			r, w, err := s.Pipe()
			if err != nil {
				return 1
			}
			buf := make([]byte, 2048)
			for range 4 { // 8 KiB through the pipe, 2 KiB at a time
				if n, err := s.Write(w, buf); n != len(buf) || err != nil {
					return 2
				}
				if n, err := s.Read(r, buf); n != len(buf) || err != nil {
					return 3
				}
			}
			return 0
		},
	}))
	var big [2048]byte
	for i := range big {
		big[i] = 'y'
	}
	st, out := run(t, k, Spec{Command: "echo", Args: []string{string(big[:])}, Limits: limited(t, "fsize=1K")})
	if st.ExitStatus() != 0 || len(out) != len(big)+1 {
		t.Fatalf("2 KiB to the log under fsize=1K: %v with %d bytes out, want exit 0 with all %d", st, len(out), len(big)+1)
	}
	if st, out := run(t, k, Spec{Command: "pipe-writer", Limits: limited(t, "fsize=1K")}); st.ExitStatus() != 0 {
		t.Fatalf("8 KiB through a pipe under fsize=1K: %v %s", st, out)
	}
	if st, out := run(t, k, Spec{Command: "file-writer", Limits: limited(t, "fsize=10")}); st.Signal() != ipc.SIGXFSZ {
		t.Fatalf("file writer: %v %q, want death by SIGXFSZ after 10 bytes", st, out)
	}
	if st, out := run(t, k, Spec{Command: "file-writer", Env: []string{"IGNORE=1"}, Limits: limited(t, "fsize=10")}); st.ExitStatus() != 0 {
		t.Fatalf("file writer with SIGXFSZ ignored: %v %q, want EFBIG", st, out)
	}
}
