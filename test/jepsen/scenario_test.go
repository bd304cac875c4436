//go:build linux

package jepsen

import (
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var flagScenarios = flag.Bool("jepsen.scenarios", envBool("JEPSEN_SCENARIOS"),
	"run the scripted scenarios against real agents (env VPROC_JEPSEN=1 JEPSEN_SCENARIOS=1); naming them with -run TestScenario does too")

// scenariosWanted reports whether TestScenario runs: it runs real agents,
// so it is opt-in, by flag or by naming it in -run.
func scenariosWanted() bool {
	if *flagScenarios || *flagRun {
		return true
	}
	if f := flag.Lookup("test.run"); f != nil {
		return strings.Contains(f.Value.String(), "TestScenario")
	}
	return false
}

// TestScenario runs every scripted scenario against each of its builds:
//
//	go test ./test/jepsen -run 'TestScenario/StaleReadWithoutReadRecipe' -count=1 -v -timeout 20m
func TestScenario(t *testing.T) {
	if !scenariosWanted() {
		t.Skip("the scenarios run real agents and are opt-in: go test ./test/jepsen -run TestScenario[/Name], or -args -jepsen.scenarios")
	}
	fencing, err := FencingInTree("")
	if err != nil {
		t.Fatal(err)
	}
	bins := &binaryCache{dir: t.TempDir(), race: *flagRace}
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			if sc.Fencing && !fencing {
				t.Skipf("needs node leases (Guarantee 3): this tree has no %s build tag yet", TagUnsafeNoFence)
			}
			for _, b := range sc.Builds {
				t.Run(b.Name, func(t *testing.T) { runScenario(t, sc, b, bins) })
			}
		})
	}
}

func runScenario(t *testing.T, sc Scenario, b Build, bins *binaryCache) {
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		defer cancel()
	}
	bin := *flagBinary // a prebuilt binary stands for the normal build
	if bin == "" || len(b.Tags) > 0 {
		var err error
		if bin, err = bins.get(ctx, b.Tags, t.Logf); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.Seed, cfg.Binary, cfg.Network, cfg.KillGrace = 1, bin, *flagNetwork, *flagKillGrace
	cfg.Duration = time.Minute // only bounds the retention check
	cfg.OutDir = *flagOut
	if cfg.OutDir != "" {
		cfg.OutDir = filepath.Join(cfg.OutDir, sc.Name, b.Name)
	}
	rep, err := RunScenario(ctx, cfg, sc, b)
	if rep != nil && len(rep.Verdicts) > 0 {
		t.Log("\n" + rep.String())
	}
	if errors.Is(err, ErrScenarioSkipped) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("scenario %s/%s could not complete: %v", sc.Name, b.Name, err)
	}
	if err := b.Judge(rep); err != nil {
		t.Fatalf("scenario %s on the %s build: %v (output in %s)", sc.Name, b.Name, err, rep.OutDir)
	}
}

// binaryCache builds each set of build tags once per test run.
type binaryCache struct {
	dir  string
	race bool

	mu   sync.Mutex
	bins map[string]string // guarded by mu; tags → binary
}

func (c *binaryCache) get(ctx context.Context, tags []string, logf func(string, ...any)) (string, error) {
	key := strings.Join(tags, ",")
	c.mu.Lock()
	defer c.mu.Unlock()
	if bin, ok := c.bins[key]; ok {
		return bin, nil
	}
	name := "vproc"
	if key != "" {
		name += "-" + strings.ReplaceAll(key, ",", "-")
	}
	bin := filepath.Join(c.dir, name)
	if err := BuildBinary(ctx, "", bin, c.race, tags, logf); err != nil {
		return "", err
	}
	if c.bins == nil {
		c.bins = make(map[string]string)
	}
	c.bins[key] = bin
	return bin, nil
}
