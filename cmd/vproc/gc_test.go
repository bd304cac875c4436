package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveGC(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	const gib = int64(1) << 30
	for _, tc := range []struct {
		name       string
		percent    int
		percentSet bool
		limit      string
		limitSet   bool
		env        func(string) string
		machine    int64
		want       gcSettings
		err        string
	}{
		{name: "defaults", env: env(), machine: 8 * gib, want: gcSettings{percent: 400, limit: 4 * gib}},
		{name: "unknown machine memory", env: env(), want: gcSettings{percent: 400, limit: -1}},
		{name: "GOGC and GOMEMLIMIT stand", env: env("GOGC", "100", "GOMEMLIMIT", "1GiB"), machine: 8 * gib, want: gcSettings{percent: -2, limit: -1}},
		{name: "flags beat the environment", percent: 200, percentSet: true, limit: "2G", limitSet: true, env: env("GOGC", "100", "GOMEMLIMIT", "1GiB"), machine: 8 * gib, want: gcSettings{percent: 200, limit: 2 * gib}},
		{name: "no limit", limit: "none", limitSet: true, env: env(), machine: 8 * gib, want: gcSettings{percent: 400, limit: math.MaxInt64}},
		{name: "off with a limit", percent: -1, percentSet: true, limit: "1G", limitSet: true, env: env(), want: gcSettings{percent: -1, limit: gib}},
		{name: "off with the default limit", percent: -1, percentSet: true, env: env(), machine: 2 * gib, want: gcSettings{percent: -1, limit: gib}},
		{name: "off without a limit", percent: -1, percentSet: true, limit: "none", limitSet: true, env: env(), machine: 8 * gib, err: "needs a memory limit"},
		{name: "off with nothing known", percent: -1, percentSet: true, env: env(), err: "needs a memory limit"},
		{name: "bad percent", percent: -5, percentSet: true, env: env(), err: "bad --gc-percent -5"},
		{name: "bad limit", limit: "lots", limitSet: true, env: env(), err: "bad --memory-limit"},
		{name: "zero limit", limit: "0", limitSet: true, env: env(), err: "bad --memory-limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := resolveGC(tc.percent, tc.percentSet, tc.limit, tc.limitSet, tc.env, tc.machine)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || g != tc.want {
				t.Fatalf("resolveGC = %+v, %v; want %+v", g, err, tc.want)
			}
		})
	}
}

func TestMachineMemoryFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meminfo := write("meminfo", "MemTotal:       24576000 kB\nMemFree:         1000 kB\n")
	if got := memTotal(meminfo); got != 24576000*1024 {
		t.Fatalf("memTotal = %d", got)
	}
	if got := memTotal(write("bad", "MemTotal: lots kB\n")); got != 0 {
		t.Fatalf("memTotal of garbage = %d", got)
	}
	if got := memTotal(filepath.Join(dir, "missing")); got != 0 {
		t.Fatalf("memTotal of a missing file = %d", got)
	}
	root := filepath.Join(dir, "cg")
	write("cg/system.slice/vproc.service/memory.max", "1073741824\n")
	write("cg/unlimited/memory.max", "max\n")
	if got := cgroupLimit(write("self1", "0::/system.slice/vproc.service\n"), root); got != 1<<30 {
		t.Fatalf("cgroupLimit = %d", got)
	}
	if got := cgroupLimit(write("self2", "0::/unlimited\n"), root); got != 0 {
		t.Fatalf("cgroupLimit of max = %d", got)
	}
	if got := cgroupLimit(write("self3", "12:memory:/v1/only\n"), root); got != 0 {
		t.Fatalf("cgroupLimit without a v2 line = %d", got)
	}
	if m := machineMemory(); m < 0 {
		t.Fatalf("machineMemory = %d", m)
	}
}
