package builtins

import (
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// progHeartbeat is the fault suite's witness: "heartbeat [interval]" prints
// one line per interval (default 100ms)
//
//	hb pid=P inc=I node=N mono=T
//
// where T is CLOCK_MONOTONIC in nanoseconds, read with clock_gettime so that
// readings from processes on one host compare. It catches SIGUSR1 and
// SIGUSR2 and prints "sig pid=P inc=I node=N sig=S mono=T" for each
// delivery. The incarnation and node come from VPROC_INCARNATION and
// VPROC_NODE, which the cluster's runner sets (0 and "-" outside a cluster).
// Every line is written with one write, so lines never interleave.
func progHeartbeat(s *node.Sys) int {
	interval := 100 * time.Millisecond
	if a := s.Args(); len(a) > 0 {
		d, err := parseDuration(a[0])
		if err != nil || d <= 0 {
			s.Errorf("bad interval %q", a[0])
			return 2
		}
		interval = d
	}
	inc := s.Getenv("VPROC_INCARNATION")
	if inc == "" {
		inc = "0"
	}
	nodeName := s.Getenv("VPROC_NODE")
	if nodeName == "" {
		nodeName = "-"
	}
	prefix := " pid=" + strconv.Itoa(s.Getpid()) + " inc=" + inc + " node=" + nodeName
	line := func(kind, extra string) []byte {
		return []byte(kind + prefix + extra + " mono=" + strconv.FormatInt(monotonicNow(), 10) + "\n")
	}
	onSig := func(s *node.Sys, sig ipc.Signal) {
		s.Write(1, line("sig", " sig="+strconv.Itoa(int(sig))))
	}
	s.Signal(ipc.SIGUSR1, onSig)
	s.Signal(ipc.SIGUSR2, onSig)
	for {
		if _, err := s.Write(1, line("hb", "")); err != nil {
			return 1
		}
		s.Sleep(interval) // EINTR after a handled signal: just beat again
	}
}

// monotonicNow reads CLOCK_MONOTONIC, comparable across processes of one
// host (Go's own monotonic reading starts afresh in each process).
func monotonicNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
