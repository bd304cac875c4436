package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The agent's garbage collector settings. The table holds a record for
// every process until init reaps it, so an agent's live heap is large and
// pointer-rich, and with Go's default GOGC=100 marking it is a quarter of
// the agent's CPU under load. The agent therefore lets the heap grow to
// five times the live heap (GOGC=400) by default, and bounds that growth
// with a soft memory limit (GOMEMLIMIT): half of the memory of the machine,
// or of the agent's cgroup when that is smaller. Near the limit the
// collector runs as often as it needs to.
const (
	defaultGCPercent = 400
	// memoryLimitShare is the part of the machine's memory that the
	// default soft limit allows, as 1/memoryLimitShare.
	memoryLimitShare = 2
)

// gcSettings are the collector settings the agent applies.
type gcSettings struct {
	percent int   // debug.SetGCPercent; -1 turns the collector off
	limit   int64 // debug.SetMemoryLimit in bytes; math.MaxInt64 is none
}

// resolveGC decides the collector settings from the flags (percent and
// limit, each used only when set), the environment (GOGC and GOMEMLIMIT,
// which the Go runtime has already applied, and which a default does not
// override) and the memory the machine has (0 when unknown).
func resolveGC(percent int, percentSet bool, limit string, limitSet bool, getenv func(string) string, machine int64) (gcSettings, error) {
	g := gcSettings{percent: -2, limit: -1} // -2 and -1: leave as the runtime has it
	switch {
	case percentSet:
		if percent < -1 {
			return g, fmt.Errorf("bad --gc-percent %d: want -1 (off) or more", percent)
		}
		g.percent = percent
	case getenv("GOGC") == "":
		g.percent = defaultGCPercent
	}
	switch {
	case limitSet && (limit == "" || limit == "none"):
		g.limit = math.MaxInt64
	case limitSet:
		n, err := parseSize(limit)
		if err != nil || n <= 0 {
			return g, fmt.Errorf("bad --memory-limit %q: want a size such as 2G, or none", limit)
		}
		g.limit = n
	case getenv("GOMEMLIMIT") == "" && machine > 0:
		g.limit = machine / memoryLimitShare
	}
	if g.percent == -1 && (g.limit == math.MaxInt64 || g.limit == -1 && getenv("GOMEMLIMIT") == "") {
		return g, fmt.Errorf("--gc-percent -1 turns the collector off and needs a memory limit")
	}
	return g, nil
}

// apply sets the collector as g says.
func (g gcSettings) apply() {
	if g.percent != -2 {
		debug.SetGCPercent(g.percent)
	}
	if g.limit != -1 {
		debug.SetMemoryLimit(g.limit)
	}
}

// machineMemory returns the memory this process may use: the smaller of
// the machine's (MemTotal in /proc/meminfo) and its cgroup v2 limit
// (memory.max); 0 when neither can be read.
func machineMemory() int64 {
	total := memTotal("/proc/meminfo")
	if c := cgroupLimit("/proc/self/cgroup", "/sys/fs/cgroup"); c > 0 && (total == 0 || c < total) {
		total = c
	}
	return total
}

// memTotal reads MemTotal, in bytes, from a meminfo file; 0 on failure.
func memTotal(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb <= 0 || kb > math.MaxInt64/1024 {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// cgroupLimit reads the cgroup v2 memory.max of this process's cgroup
// (named in the cgroup file, as "0::/path"), under the cgroup mount root;
// 0 when there is none or it is "max".
func cgroupLimit(cgroupFile, root string) int64 {
	b, err := os.ReadFile(cgroupFile)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		rest, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		v, err := os.ReadFile(root + "/" + strings.TrimPrefix(rest, "/") + "/memory.max")
		if err != nil {
			return 0
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		if err != nil || n <= 0 {
			return 0 // "max", or unreadable
		}
		return n
	}
	return 0
}
