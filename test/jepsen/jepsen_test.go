//go:build linux

package jepsen

import (
	"context"
	"flag"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vproc/vproc/internal/wasmtest"
)

// The fault suite's flags. Each defaults to its environment variable, read
// only when VPROC_JEPSEN is set, so that `make jepsen DURATION=10m NODES=5`
// works as well as `go test ... -args -jepsen.run -jepsen.duration=10m`.
var (
	flagRun       = flag.Bool("jepsen.run", envBool("VPROC_JEPSEN"), "run the fault suite against real agents (env VPROC_JEPSEN=1)")
	flagDuration  = flag.Duration("jepsen.duration", envDuration("DURATION", DefaultConfig().Duration), "how long faults and traffic run (env DURATION)")
	flagNodes     = flag.Int("jepsen.nodes", envInt("NODES", DefaultConfig().Nodes), "agents at the start: 3 or 5 (env NODES)")
	flagSeed      = flag.Uint64("jepsen.seed", uint64(envInt("SEED", 0)), "seed of the schedule and the workload; 0 picks one from the clock (env SEED)")
	flagClients   = flag.Int("jepsen.clients", envInt("CLIENTS", DefaultWorkloadConfig().Clients), "concurrent clients (env CLIENTS)")
	flagOut       = flag.String("jepsen.out", envString("JEPSEN_OUT", ""), "output directory; empty makes a temporary one (env JEPSEN_OUT)")
	flagBinary    = flag.String("jepsen.binary", envString("VPROC_BINARY", ""), "a prebuilt vproc binary; empty builds ./cmd/vproc (env VPROC_BINARY)")
	flagNetwork   = flag.String("jepsen.network", envString("JEPSEN_NETWORK", NetworkAuto), "auto, netns or loopback (env JEPSEN_NETWORK)")
	flagFaults    = flag.String("jepsen.faults", envString("FAULTS", "all"), "comma-separated fault kinds, or all (env FAULTS)")
	flagRace      = flag.Bool("jepsen.race", envBool("JEPSEN_RACE"), "build the agent with -race (env JEPSEN_RACE=1)")
	flagSecure    = flag.Bool("jepsen.secure", envBool("JEPSEN_SECURE"), "run the agents with mutual TLS, a gossip key and ACLs (env JEPSEN_SECURE=1)")
	flagKillGrace = flag.Duration("jepsen.kill-grace", envDuration("KILL_GRACE", DefaultConfig().KillGrace), "how long a killed incarnation may still run: the agents' fence timeout and a margin (env KILL_GRACE)")
)

func jepsenEnv() bool { return os.Getenv("VPROC_JEPSEN") != "" && os.Getenv("VPROC_JEPSEN") != "0" }

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" && jepsenEnv() {
		return v
	}
	return def
}

func envBool(name string) bool {
	v, _ := strconv.ParseBool(envString(name, "false"))
	return v
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(envString(name, "")); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(envString(name, "")); err == nil {
		return v
	}
	return def
}

// overhead bounds the time a run takes beyond its duration: the build, the
// start, the healing, the final reads and the checks. A run usually needs
// well under a minute of it.
const overhead = 6 * time.Minute

// TestJepsen is the fault suite against real agents. It is opt-in:
//
//	go test ./test/jepsen -run TestJepsen -count=1 -v -timeout 30m -args -jepsen.run -jepsen.duration=3m -jepsen.nodes=3 -jepsen.seed=N
func TestJepsen(t *testing.T) {
	if !*flagRun {
		t.Skip("the fault suite runs real agents and is opt-in: go test ./test/jepsen -run TestJepsen -args -jepsen.run [-jepsen.duration=3m -jepsen.nodes=3 -jepsen.seed=N], or VPROC_JEPSEN=1")
	}
	cfg := DefaultConfig()
	cfg.Duration, cfg.Nodes, cfg.Seed = *flagDuration, *flagNodes, *flagSeed
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	cfg.OutDir, cfg.Binary, cfg.Network, cfg.Race, cfg.KillGrace = *flagOut, *flagBinary, *flagNetwork, *flagRace, *flagKillGrace
	cfg.Secure = *flagSecure
	cfg.Workload.Clients = *flagClients
	if wasmtest.GoTool() != "" {
		cfg.Workload.Module = wasmtest.Build(t, "../../node/wasm/testdata/hello")
	} else {
		t.Log("no go toolchain: the workload runs no WASI module")
	}
	faults, err := ParseFaults(*flagFaults)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Faults = faults
	if cfg.Retention < cfg.Duration+time.Hour {
		cfg.Retention = cfg.Duration + 24*time.Hour
	}
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		left := time.Until(dl)
		if left < cfg.Duration+time.Minute {
			t.Fatalf("the test deadline leaves %v for a %v run: pass -timeout %v",
				left.Round(time.Second), cfg.Duration, (cfg.Duration + overhead).Round(time.Minute))
		}
		if left < cfg.Duration+overhead {
			t.Logf("the test deadline leaves %v for a %v run, which may need up to %v: a slow run stops early (-timeout raises it)",
				left.Round(time.Second), cfg.Duration, cfg.Duration+overhead)
		}
		// Stop cleanly, healed and cleaned up, before the deadline panics.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		defer cancel()
	}
	rep, err := Run(ctx, cfg)
	if rep != nil && len(rep.Verdicts) > 0 {
		t.Log("\n" + rep.String())
	}
	if err != nil {
		t.Fatalf("seed=%d: the run could not complete: %v", cfg.Seed, err)
	}
	if rep.Failed() {
		t.Fatalf("seed=%d: %s", cfg.Seed, rep.Outcome())
	}
}

var flagCleanup = flag.Bool("jepsen.cleanup", false, "remove what earlier runs whose process is gone left behind: namespaces, the agents in them, links")

// TestCleanup removes what crashed runs left behind. `make jepsen-ci` runs
// it after the suite, whatever the suite's outcome; every run also does it
// at its start.
func TestCleanup(t *testing.T) {
	if !*flagCleanup {
		t.Skip("opt-in: -args -jepsen.cleanup (as root)")
	}
	if ok, why := NetnsAvailable(); !ok {
		t.Skip("nothing to clean: " + why)
	}
	removed, err := CleanStale(context.Background())
	for _, r := range removed {
		t.Logf("removed stale %s", r)
	}
	if err != nil {
		t.Fatal(err)
	}
}
