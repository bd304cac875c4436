package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/internal/wasmtest"
)

// wasmCluster starts three nodes that share the test binary's compilation
// cache, with a client to each.
func wasmCluster(t *testing.T, opts ...func(i int, c *Config)) (*testCluster, []*client.Client, []string) {
	cache := wasmtest.CacheDir(t)
	c := MakeCluster(t, 3, func(i int, cfg *Config) {
		cfg.WasmCacheDir = cache
		for _, o := range opts {
			o(i, cfg)
		}
	})
	return c, wasmClients(t, c), agentNames(c)
}

func wasmClients(t *testing.T, c *testCluster) []*client.Client {
	out := make([]*client.Client, len(c.agents))
	for i, a := range c.agents {
		if a == nil {
			continue
		}
		cfg := client.DefaultConfig()
		cfg.Addr = "http://" + a.HTTPAddr()
		cl, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		out[i] = cl
	}
	return out
}

func agentNames(c *testCluster) []string {
	out := make([]string, len(c.agents))
	for i, a := range c.agents {
		out[i] = a.Name()
	}
	return out
}

// nonHolder returns the index of a node that does not hold p's bytes.
func nonHolder(t *testing.T, p api.Program, names []string) int {
	for i, n := range names {
		if !slices.Contains(p.Holders, n) {
			return i
		}
	}
	t.Fatalf("every node holds %s: %v", p.Name, p.Holders)
	return -1
}

func TestProgramsRunAcrossNodes(t *testing.T) {
	hello := wasmtest.Build(t, "../node/wasm/testdata/hello")
	tools := wasmtest.Build(t, "../node/wasm/testdata/tools")
	c, cls, names := wasmCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The upload is acknowledged once two of the three nodes hold it.
	p, err := cls[0].AddProgram(ctx, "hellow", "alice", hello)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Holders) != 2 || p.Size != uint64(len(hello)) || p.Owner != "alice" {
		t.Fatalf("add: %+v, want two holders, size %d, owner alice", p, len(hello))
	}
	// A builtin's name is refused.
	if _, err := cls[1].AddProgram(ctx, "sleep", "", hello); err == nil || !strings.Contains(err.Error(), "builtin") {
		t.Fatalf("adding a program called sleep: %v, want refused", err)
	}

	// Run on the node that does not hold it: it fetches the bytes and
	// joins the holders.
	far := nonHolder(t, p, names)
	res, err := cls[1].Spawn(ctx, api.SpawnRequest{Command: "hellow", Node: names[far]})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := cls[2].Wait(ctx, res.PID)
	if err != nil {
		t.Fatal(err)
	}
	if proc.ExitCode == nil || *proc.ExitCode != 0 || proc.Node != names[far] {
		t.Fatalf("hellow: %+v, want exit 0 on %s", proc, names[far])
	}
	if out := waitLog(t, ctx, cls[far], res.PID, "hello, world\n"); out != "hello, world\n" {
		t.Fatalf("output %q", out)
	}
	poll(t, 30*time.Second, func() error {
		q, err := cls[2].Program(ctx, "hellow")
		if err != nil {
			return err
		}
		if len(q.Holders) != 3 {
			return fmt.Errorf("holders %v, want all three nodes", q.Holders)
		}
		return nil
	})
	l, err := cls[far].Programs(ctx)
	if err != nil || len(l.Programs) != 1 || l.Programs[0].Name != "hellow" {
		t.Fatalf("ls: %+v %v", l, err)
	}

	// A pipeline of builtins and a module, through sh.
	if _, err := cls[0].AddProgram(ctx, "wcwasm", "", tools); err != nil {
		t.Fatal(err)
	}
	res, err = cls[0].Spawn(ctx, api.SpawnRequest{Command: "sh", Args: []string{"-c", "yes | head -n 5 | wcwasm"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cls[0].Wait(ctx, res.PID); err != nil {
		t.Fatal(err)
	}
	waitLog(t, ctx, cls[0], res.PID, "5 5 10\n")

	// Removing a program: its name is gone; a second remove is not found.
	if err := cls[2].RemoveProgram(ctx, "hellow"); err != nil {
		t.Fatal(err)
	}
	if err := cls[2].RemoveProgram(ctx, "hellow"); err == nil {
		t.Fatal("removing hellow twice succeeded")
	}
	if _, err := cls[1].Spawn(ctx, api.SpawnRequest{Command: "hellow"}); !errors.Is(err, client.ErrUnknownProgram) {
		t.Fatalf("spawn of a removed program: %v, want unknown program", err)
	}
	_ = c
}

func TestCorruptedProgramRefused(t *testing.T) {
	tools := wasmtest.Build(t, "../node/wasm/testdata/tools")
	c, cls, names := wasmCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := cls[0].AddProgram(ctx, "echoenv", "", tools)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the bytes on every holder's disk.
	for i, n := range names {
		if slices.Contains(p.Holders, n) {
			file := filepath.Join(c.agents[i].cfg.DataDir, "programs", p.Hash)
			if err := os.WriteFile(file, []byte("\x00asm damaged"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	far := nonHolder(t, p, names)
	res, err := cls[far].Spawn(ctx, api.SpawnRequest{Command: "echoenv", Node: names[far]})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := cls[far].Wait(ctx, res.PID)
	if err != nil {
		t.Fatal(err)
	}
	if proc.ExitCode == nil || *proc.ExitCode != 126 {
		t.Fatalf("a module whose every copy is damaged: %+v, want exit 126", proc)
	}
	out := waitLog(t, ctx, cls[far], res.PID, "fetching program")
	if !strings.Contains(out, "do not match their hash") {
		t.Fatalf("output %q, want the hash refusal", out)
	}
}

func TestRestartAlwaysModuleAfterNodeCrash(t *testing.T) {
	tools := wasmtest.Build(t, "../node/wasm/testdata/tools")
	c, cls, names := wasmCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := cls[0].AddProgram(ctx, "sleeper", "", tools); err != nil {
		t.Fatal(err)
	}
	res, err := cls[0].Spawn(ctx, api.SpawnRequest{Command: "sleeper", Args: []string{"1h"}, Restart: "always"})
	if err != nil {
		t.Fatal(err)
	}
	victim := -1
	poll(t, 60*time.Second, func() error {
		p, err := cls[0].Get(ctx, res.PID, client.ReadOpts{})
		if err != nil {
			return err
		}
		if p.State != "running" {
			return fmt.Errorf("%+v: want running", p)
		}
		victim = slices.Index(names, p.Node)
		return nil
	})
	survivor := (victim + 1) % 3
	c.crash(victim)
	poll(t, 2*time.Minute, func() error {
		p, err := cls[survivor].Get(ctx, res.PID, client.ReadOpts{})
		if err != nil {
			return err
		}
		if p.State != "running" || p.Node == names[victim] || p.Incarnation < 2 {
			return fmt.Errorf("%+v: want a new incarnation running off %s", p, names[victim])
		}
		return nil
	})
}
