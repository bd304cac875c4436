package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster"
)

// agentConfig parses args as vproc agent's flags over base.
func agentConfig(t *testing.T, base cluster.Config, args ...string) (cluster.Config, error) {
	t.Helper()
	var f agentFlags
	cmd := &cobra.Command{Use: "agent"}
	f.register(cmd.Flags())
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f.config(cmd.Flags(), base)
}

func TestAgentConfig(t *testing.T) {
	base := cluster.DefaultConfig()
	cfg, err := agentConfig(t, base,
		"--name", "n1", "--data-dir", "/var/lib/vproc", "--http-addr", "127.0.0.1:8080",
		"--raft-addr", "127.0.0.1:8081", "--gossip-addr", "127.0.0.1:8082",
		"--join", "10.0.0.2:7072", "--join", "10.0.0.3:7072,10.0.0.4:7072",
		"--bootstrap-expect", "3", "--cpus", "4", "--memory", "64M",
		"--labels", "rack=a,ssd=yes", "--retention", "10m", "--enable-debug")
	if err != nil {
		t.Fatal(err)
	}
	want := base
	want.Name, want.DataDir = "n1", "/var/lib/vproc"
	want.HTTPAddr, want.RaftAddr, want.GossipAddr = "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082"
	want.Join = []string{"10.0.0.2:7072", "10.0.0.3:7072", "10.0.0.4:7072"}
	want.BootstrapExpect, want.CPUs, want.Memory = 3, 4, 64<<20
	want.Labels = map[string]string{"rack": "a", "ssd": "yes"}
	want.Retention = 10 * time.Minute
	want.EnableDebug = true
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestAgentConfigKeepsBase(t *testing.T) {
	dev := cluster.DevConfig()
	cfg, err := agentConfig(t, dev, "--dev", "--http-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:0" || cfg.RaftAddr != dev.RaftAddr || cfg.Name != dev.Name || !cfg.Dev {
		t.Errorf("got %+v, want DevConfig with only the HTTP address changed", cfg)
	}
	noName := cluster.DefaultConfig()
	noName.Name = ""
	if cfg, err := agentConfig(t, noName); err != nil || cfg.Name == "" {
		t.Errorf("no name: got %q, %v; want the host name", cfg.Name, err)
	}
}

func TestAgentConfigBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "lots"}, "bad --memory"},
		{[]string{"--memory", "64Q"}, "bad --memory"},
		{[]string{"--cpus", "-1"}, "bad --cpus"},
		{[]string{"--retention", "0s"}, "bad --retention"},
		{[]string{"--bootstrap-expect", "-2"}, "bad --bootstrap-expect"},
		{[]string{"--labels", "=x"}, "empty label name"},
	}
	for _, tc := range cases {
		_, err := agentConfig(t, cluster.DefaultConfig(), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1024", 1024}, {"64M", 64 << 20}, {"4G", 4 << 30}, {"512K", 512 << 10}, {"1GiB", 1 << 30}, {"unlimited", 0},
	}
	for _, tc := range cases {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q): got %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestAgentBadConfigIsOneLine(t *testing.T) {
	// No data directory and not --dev: the cluster refuses the config.
	r := runCLI(t, "", "", "agent", "--name", "n1")
	checkOneLine(t, []string{"agent"}, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "data dir") {
		t.Errorf("got %+v, want exit 1 and a data directory error", r)
	}
	// Bad collector settings: refused before anything starts.
	for _, args := range [][]string{{"--gc-percent", "-5"}, {"--memory-limit", "lots"}, {"--gc-percent", "-1", "--memory-limit", "none"}} {
		r := runCLI(t, "", "", append([]string{"agent", "--dev"}, args...)...)
		checkOneLine(t, args, r.stderr)
		if r.code != 1 || !strings.Contains(r.stderr, args[0]) {
			t.Errorf("%v: got %+v, want exit 1 and an error about %s", args, r, args[0])
		}
	}
}
