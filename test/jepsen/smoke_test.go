//go:build linux

package jepsen

import (
	"context"
	"flag"
	"fmt"
	"github.com/vproc/vproc/internal/testwait"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The smoke test runs the harness, as root, with a stand-in agent: the test
// binary itself, serving the fake API. It checks the parts that need a real
// machine (namespaces, iptables, processes, cleanup) without the real
// agent. It changes the host's network (and cleans up), so it is opt-in.
var flagSmoke = flag.Bool("jepsen.smoke", os.Getenv("VPROC_JEPSEN_SMOKE") == "1",
	"as root, run the harness with a stand-in agent in network namespaces (env VPROC_JEPSEN_SMOKE=1)")

// helperEnv marks a run of the test binary as the stand-in agent.
const helperEnv = "JEPSEN_HELPER_AGENT"

// TestHelperAgent is the stand-in agent: `vproc agent` flags after "--".
// Node n1 serves the fake API; the others forward to n1 over the network,
// so that partitions and pauses show. Every node answers GET /ping itself,
// and GET /probe?to=URL by fetching URL from its own namespace.
func TestHelperAgent(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("the stand-in agent of the smoke test")
	}
	args := flag.Args()
	get := func(name string) string {
		if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
			return args[i+1]
		}
		return ""
	}
	name, addr, leader := get("--name"), get("--http-addr"), get("--fake-leader")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "pong") })
	mux.HandleFunc("GET /probe", func(w http.ResponseWriter, r *http.Request) {
		hc := &http.Client{Timeout: 700 * time.Millisecond}
		resp, err := hc.Get(r.URL.Query().Get("to"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		fmt.Fprintln(w, "ok")
	})
	if "http://"+addr == leader {
		f := newFakeAPI()
		f.sleepUnit, f.beatEvery, f.leader = 50*time.Millisecond, 100*time.Millisecond, name
		mux.Handle("/v1/", f.handler())
	} else {
		u, err := url.Parse(leader)
		if err != nil {
			t.Fatal(err)
		}
		p := httputil.NewSingleHostReverseProxy(u)
		p.FlushInterval = -1
		p.Transport = &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext}
		p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			fail(w, http.StatusServiceUnavailable, "unavailable", name+": "+err.Error())
		}
		mux.Handle("/v1/", p)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = http.Serve(ln, mux) // until killed
}

// helperBinary writes a script that runs the test binary as the stand-in
// agent.
func helperBinary(t *testing.T) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vproc")
	script := fmt.Sprintf("#!/bin/sh\n%s=1 exec %q -test.run='^TestHelperAgent$' -- \"$@\"\n", helperEnv, self)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func smokeOnly(t *testing.T) {
	if !*flagSmoke {
		t.Skip("opt-in: -args -jepsen.smoke (or VPROC_JEPSEN_SMOKE=1), as root")
	}
	if ok, why := NetnsAvailable(); !ok {
		t.Skip("network namespaces unavailable: " + why)
	}
}

// TestSmokeNetwork builds the namespaces, starts stand-in agents in them,
// and checks, for each partition kind, which nodes reach which.
func TestSmokeNetwork(t *testing.T) {
	smokeOnly(t)
	ctx := context.Background()
	const slots = 4
	network, err := NewNetnsNetwork(ctx, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := network.Teardown(); err != nil {
			t.Errorf("teardown: %v", err)
		}
		assertGone(t)
	})
	if err := network.Setup(ctx, slots); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Nodes, cfg.OutDir = 3, t.TempDir()
	h1, _, _ := network.Addrs(1)
	cfg.AgentArgs = []string{"--fake-leader", "http://" + h1}
	hist := NewHistory(NewClock())
	cl, err := newCluster(cfg, network, helperBinary(t), hist, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.shutdown)
	if err := cl.startAll(ctx); err != nil {
		t.Fatal(err)
	}
	name, err := cl.AddNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nodes := cl.Members()
	eps := cl.endpoints()
	addrOf := func(n string) string {
		for _, ep := range eps {
			if ep.Name == n {
				return ep.URL
			}
		}
		t.Fatalf("no node %s", n)
		return ""
	}
	waitFor(t, 10*time.Second, func() bool {
		_, err := ReadHealth(ctx, Endpoint{Name: name, URL: addrOf(name)}, time.Second)
		return err == nil
	})

	// reaches asks node from to fetch node to's /ping.
	hc := &http.Client{Timeout: 3 * time.Second}
	reaches := func(from, to string) bool {
		resp, err := hc.Get(addrOf(from) + "/probe?to=" + url.QueryEscape(addrOf(to)+"/ping"))
		if err != nil {
			t.Fatalf("the harness cannot reach %s: %v", from, err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	rng := picker(5)
	mm, _ := MajorityMinority(nodes, rng)
	br, _ := Bridge(nodes, rng)
	for _, tc := range []struct {
		name string
		g    Grudge
	}{
		{"none", Grudge{}},
		{"isolate-one", Isolate(nodes, "n2")},
		{"majority-minority", mm},
		{"bridge", br},
		{"majorities-ring", MajoritiesRing(nodes, rng)},
	} {
		if err := cl.Partition(tc.g); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, a := range nodes {
			for _, b := range nodes {
				if a == b {
					continue
				}
				// TCP needs both directions.
				want := !slices.Contains(tc.g[a], b) && !slices.Contains(tc.g[b], a)
				if got := reaches(a, b); got != want {
					t.Errorf("%s (%s): %s reaches %s: got %v, want %v", tc.name, tc.g, a, b, got, want)
				}
			}
		}
		if err := cl.HealPartition(); err != nil {
			t.Fatal(err)
		}
	}
	if ok, why := network.NetemSupport(ctx); ok {
		if err := cl.Netem(nodes, NetemSpecs[0]); err != nil {
			t.Errorf("netem: %v", err)
		}
		if err := cl.HealNetem(nodes); err != nil {
			t.Errorf("netem heal: %v", err)
		}
	} else {
		t.Logf("netem skipped: %s", why)
	}

	// Pause, kill and restart, remove.
	if err := cl.Pause("n2"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadHealth(ctx, Endpoint{Name: "n2", URL: addrOf("n2")}, 500*time.Millisecond); err == nil {
		t.Error("a paused node answered")
	}
	if err := cl.Resume("n2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool {
		_, err := ReadHealth(ctx, Endpoint{Name: "n2", URL: addrOf("n2")}, time.Second)
		return err == nil
	})
	if err := cl.Kill("n3"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Start("n3"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool {
		_, err := ReadHealth(ctx, Endpoint{Name: "n3", URL: addrOf("n3")}, time.Second)
		return err == nil
	})
	if err := cl.RemoveNode(ctx, name); err != nil {
		t.Error(err)
	}
	if c := cl.Crashes(); len(c) != 0 {
		t.Errorf("crashes: %+v", c)
	}
}

// TestSmokeRun runs the whole harness for a short while with stand-in
// agents, with every fault that keeps the stand-in's single copy of the
// state (n1) alive, and expects every check to pass: in namespaces, and on
// loopback.
func TestSmokeRun(t *testing.T) {
	smokeOnly(t)
	ctx := context.Background()
	t.Run("netns", func(t *testing.T) {
		cfg := smokeConfig(t, 40*time.Second)
		cfg.Network = NetworkNetns
		cfg.Faults = []FaultKind{FaultPauseOne, FaultPauseLeader, FaultIsolateOne, FaultIsolateLeader,
			FaultMajorityMinority, FaultBridge, FaultMajoritiesRing, FaultNetem, FaultMembership}
		// n1's address is known only once the network exists, and the
		// stand-ins find it from --fake-leader: choose the subnet the
		// network will choose.
		out, err := runCmd(ctx, []string{"ip", "-4", "-o", "addr", "show"})
		if err != nil {
			t.Fatal(err)
		}
		x, err := ChooseSubnet(ParseUsedSubnets(out), os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		cfg.AgentArgs = []string{"--fake-leader", fmt.Sprintf("http://%s:%d", NewNames(os.Getpid(), x).IP(1), nsHTTPPort)}
		smokeRun(t, cfg, "netns")
	})
	t.Run("loopback", func(t *testing.T) {
		cfg := smokeConfig(t, 20*time.Second)
		cfg.Network = NetworkLoopback
		cfg.LoopbackBasePort = 27070
		cfg.Faults = []FaultKind{FaultPauseOne, FaultPauseLeader, FaultMembership, FaultIsolateOne}
		cfg.AgentArgs = []string{"--fake-leader", fmt.Sprintf("http://%s:%d", loopbackIP(1), cfg.LoopbackBasePort)}
		rep := smokeRun(t, cfg, "loopback")
		if !strings.Contains(strings.Join(rep.Skipped, "\n"), "isolate-one") {
			t.Errorf("loopback did not report isolate-one as skipped: %q", rep.Skipped)
		}
	})
}

func smokeConfig(t *testing.T, d time.Duration) Config {
	cfg := DefaultConfig()
	cfg.Duration, cfg.Seed, cfg.OutDir = d, 11, t.TempDir()
	cfg.Binary = helperBinary(t)
	cfg.KillGrace = time.Second
	cfg.Workload.SleepMax = 10
	cfg.Workload.HeartbeatLife = 5 * time.Second
	return cfg
}

func smokeRun(t *testing.T, cfg Config, mode string) *Report {
	rep, err := Run(context.Background(), cfg)
	if rep != nil {
		t.Log("\n" + rep.String())
	}
	assertGone(t)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != mode {
		t.Errorf("got mode %s, want %s", rep.Mode, mode)
	}
	if rep.Failed() {
		t.Fatal(rep.Outcome())
	}
	if len(rep.Faults) == 0 {
		t.Error("no fault was injected")
	}
	return rep
}

// TestSmokeStaleCleanup leaves a namespace and a link behind under a dead
// owner's name and checks that CleanStale removes them.
func TestSmokeStaleCleanup(t *testing.T) {
	smokeOnly(t)
	ctx := context.Background()
	dead := 0
	for pid := 4194000; pid < 4194300; pid++ {
		if !pidAlive(pid) {
			dead = pid
			break
		}
	}
	if dead == 0 {
		t.Skip("no dead PID found")
	}
	n := NewNames(dead, 249)
	t.Cleanup(func() {
		_, _ = runCmd(ctx, []string{"ip", "netns", "del", n.NS(1)})
		_, _ = runCmd(ctx, []string{"ip", "link", "del", n.HostLink()})
	})
	for _, argv := range [][]string{
		{"ip", "netns", "add", n.NS(1)},
		{"ip", "link", "add", n.HostLink(), "type", "veth", "peer", "name", n.HostPeer()},
	} {
		if _, err := runCmd(ctx, argv); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := CleanStale(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, "netns "+n.NS(1)) {
		t.Errorf("CleanStale removed %v, not namespace %s", removed, n.NS(1))
	}
	out, _ := runCmd(ctx, []string{"ip", "netns", "list"})
	links, _ := runCmd(ctx, []string{"ip", "-o", "link", "show"})
	for _, name := range append(ParseNetnsList(out), ParseLinkList(links)...) {
		if pid, ok := OwnerPID(name); ok && pid == dead {
			t.Errorf("%s still exists", name)
		}
	}
}

// assertGone checks that nothing of this process's runs is left.
func assertGone(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	prefix := NamePrefix + fmt.Sprint(os.Getpid())
	out, err := runCmd(ctx, []string{"ip", "netns", "list"})
	if err != nil {
		t.Error(err)
	}
	for _, ns := range ParseNetnsList(out) {
		if strings.HasPrefix(ns, prefix) {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	out, err = runCmd(ctx, []string{"ip", "-o", "link", "show"})
	if err != nil {
		t.Error(err)
	}
	for _, l := range ParseLinkList(out) {
		if strings.HasPrefix(l, prefix) {
			t.Errorf("link %s left behind", l)
		}
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	testwait.For(t, "the condition", timeout, cond)
}
