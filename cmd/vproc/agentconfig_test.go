package main

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vproc/vproc/cluster"
)

// agentCmd returns vproc agent's command as the CLI builds it.
func agentCmd(t *testing.T) *cobra.Command {
	t.Helper()
	root := newRootCmd(&env{getenv: noEnv})
	cmd, _, err := root.Find([]string{"agent"})
	if err != nil {
		t.Fatal(err)
	}
	cmd.InitDefaultHelpFlag()
	return cmd
}

// settings parses args as vproc agent's command line and loads the
// settings it names.
func settings(t *testing.T, args ...string) (*agentSettings, error) {
	t.Helper()
	var f agentFlags
	var file fileFlags
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	f.register(fs)
	file.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return loadAgentSettings(file.cli, file.paths, noEnv)
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// valueOf returns the effective value of key as HCL text.
func valueOf(s *agentSettings, key string) string {
	var b bytes.Buffer
	s.print(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fileSamples holds, for each config key, a value that differs from the
// default. A key added without a sample fails TestAgentFlagsHaveFileKeys.
var fileSamples = map[string]string{
	"name":                      `"n9"`,
	"data_dir":                  `"/var/lib/vproc9"`,
	"http_addr":                 `"127.0.0.1:9070"`,
	"raft_addr":                 `"127.0.0.1:9071"`,
	"gossip_addr":               `"127.0.0.1:9072"`,
	"advertise":                 `"10.9.9.9"`,
	"join":                      `["10.0.0.2:7072"]`,
	"bootstrap_expect":          `3`,
	"cpus":                      `3`,
	"memory":                    `"64M"`,
	"labels":                    `{ rack = "a" }`,
	"retention":                 `"2h"`,
	"fence_timeout":             `"3s"`,
	"lost_timeout":              `"4s"`,
	"procs_per_slot":            `7`,
	"event_buffer":              `100`,
	"preempt_grace":             `"9s"`,
	"log_level":                 `"debug"`,
	"log_format":                `"json"`,
	"shutdown_timeout":          `"1m"`,
	"enable_debug":              `true`,
	"acl_enabled":               `true`,
	"agent_token":               `"agent-token-0123456789"`,
	"gc_percent":                `150`,
	"memory_limit":              `"1G"`,
	"max_program_size":          `"8M"`,
	"http_max_conns_per_client": `50`,
	"ca_file":                   `"/etc/vproc/vproc-agent-ca.pem"`,
	"cert_file":                 `"/etc/vproc/server-vproc-n9.pem"`,
	"key_file":                  `"/etc/vproc/server-vproc-n9-key.pem"`,
	"encrypt":                   `"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="`,
}

// TestAgentFlagsHaveFileKeys fails for any flag of vproc agent that has no
// config key and is not deliberately command-line only, and checks that
// each key sets its flag.
func TestAgentFlagsHaveFileKeys(t *testing.T) {
	keyOf := make(map[string]string)
	for _, k := range agentFileKeys {
		keyOf[k.flag] = k.key
	}
	agentCmd(t).LocalFlags().VisitAll(func(fl *pflag.Flag) {
		_, cliOnly := cliOnlyFlags[fl.Name]
		key, inFile := keyOf[fl.Name]
		switch {
		case !cliOnly && !inFile:
			t.Errorf("flag --%s has no config file key: add it to agentFileKeys (or, if it is no setting, to cliOnlyFlags)", fl.Name)
		case cliOnly && inFile:
			t.Errorf("flag --%s is both command-line only and the key %q", fl.Name, key)
		}
	})
	def, err := settings(t, "--name", "n0", "--data-dir", "/d")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, k := range agentFileKeys {
		sample, ok := fileSamples[k.key]
		if !ok {
			t.Errorf("key %q has no sample in fileSamples", k.key)
			continue
		}
		p := writeFile(t, dir, k.key+".hcl", k.key+" = "+sample+"\n")
		s, err := settings(t, "--config", p)
		if err != nil {
			t.Errorf("%s = %s: %v", k.key, sample, err)
			continue
		}
		if !s.fs.Changed(k.flag) {
			t.Errorf("%s = %s: --%s not set", k.key, sample, k.flag)
		}
		if got, was := valueOf(s, k.key), valueOf(def, k.key); got == was {
			t.Errorf("%s = %s: got effective value %s, want it changed from the default", k.key, sample, got)
		}
	}
}

const sampleHCL = `# a three-node cluster
name             = "n1"
data_dir         = "/var/lib/vproc"
http_addr        = "127.0.0.1:8080"
advertise        = "10.0.0.1"
join             = ["10.0.0.2:7072", "10.0.0.3:7072"]
bootstrap_expect = 3
cpus             = 4
memory           = "64M"
labels           = { rack = "a", ssd = "yes" }
retention        = "10m"
enable_debug     = true
log_level        = "warn"
`

const sampleJSON = `{
  "name": "n1",
  "data_dir": "/var/lib/vproc",
  "http_addr": "127.0.0.1:8080",
  "advertise": "10.0.0.1",
  "join": ["10.0.0.2:7072", "10.0.0.3:7072"],
  "bootstrap_expect": 3,
  "cpus": 4,
  "memory": "64M",
  "labels": {"rack": "a", "ssd": "yes"},
  "retention": "10m",
  "enable_debug": true,
  "log_level": "warn"
}
`

func TestAgentConfigFile(t *testing.T) {
	dir := t.TempDir()
	want := cluster.DefaultConfig()
	want.Name, want.DataDir, want.HTTPAddr, want.AdvertiseHost = "n1", "/var/lib/vproc", "127.0.0.1:8080", "10.0.0.1"
	want.Join = []string{"10.0.0.2:7072", "10.0.0.3:7072"}
	want.BootstrapExpect, want.CPUs, want.Memory = 3, 4, 64<<20
	want.Labels = map[string]string{"rack": "a", "ssd": "yes"}
	want.Retention, want.EnableDebug = 10*time.Minute, true
	for _, p := range []string{writeFile(t, dir, "agent.hcl", sampleHCL), writeFile(t, dir, "agent.json", sampleJSON)} {
		s, err := settings(t, "--config", p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !reflect.DeepEqual(s.cfg, want) {
			t.Errorf("%s: got %+v\nwant %+v", p, s.cfg, want)
		}
		if s.level != slog.LevelWarn {
			t.Errorf("%s: got log level %v, want warn", p, s.level)
		}
		if err := s.cfg.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", p, err)
		}
	}
}

func TestAgentFlagsOverrideFile(t *testing.T) {
	p := writeFile(t, t.TempDir(), "agent.hcl", sampleHCL)
	s, err := settings(t, "--config", p, "--name", "n7", "--join", "10.0.0.9:7072", "--labels", "zone=b", "--log-level", "error", "--enable-debug=false")
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Name != "n7" || !reflect.DeepEqual(s.cfg.Join, []string{"10.0.0.9:7072"}) ||
		!reflect.DeepEqual(s.cfg.Labels, map[string]string{"zone": "b"}) || s.level != slog.LevelError || s.cfg.EnableDebug {
		t.Errorf("got name %q join %v labels %v level %v debug %v; want the flags' values",
			s.cfg.Name, s.cfg.Join, s.cfg.Labels, s.level, s.cfg.EnableDebug)
	}
	if s.cfg.DataDir != "/var/lib/vproc" || s.cfg.CPUs != 4 {
		t.Errorf("got data dir %q cpus %d; want the file's", s.cfg.DataDir, s.cfg.CPUs)
	}
}

// TestAgentConfigDir reads a directory's files in order; a later file's
// key replaces an earlier one's.
func TestAgentConfigDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "10-base.hcl", "name = \"a\"\ndata_dir = \"/d\"\njoin = [\"x:1\", \"y:2\"]\n")
	writeFile(t, dir, "20-site.json", `{"name": "b", "join": ["z:3"]}`)
	writeFile(t, dir, "README", "not a config file")
	s, err := settings(t, "--config", dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Name != "b" || s.cfg.DataDir != "/d" || !reflect.DeepEqual(s.cfg.Join, []string{"z:3"}) {
		t.Errorf("got name %q data dir %q join %v; want b, /d, [z:3]", s.cfg.Name, s.cfg.DataDir, s.cfg.Join)
	}
}

func TestAgentConfigFileErrors(t *testing.T) {
	cases := []struct {
		name, content string
		want          string // after "file:"
	}{
		{"a.hcl", "name = \"n\"\nbogus = 1\n", `2: unknown key "bogus"`},
		{"a.hcl", "data-dir = \"/d\"\n", `1: unknown key "data-dir" (did you mean "data_dir"?)`},
		{"a.hcl", "config = \"x\"\n", `1: unknown key "config": --config is a command-line flag only`},
		{"a.hcl", "name = \"n\"\n\ncpus = \"four\"\n", "3: cpus: want a whole number"},
		{"a.hcl", "cpus = 1.5\n", "1: cpus: want a whole number"},
		{"a.hcl", "cpus = -2\n", "1: bad cpus -2"},
		{"a.hcl", "memory = \"lots\"\n", `1: bad memory "lots"`},
		{"a.hcl", "retention = \"10 minutes\"\n", "1: retention: "},
		{"a.hcl", "retention = \"0s\"\n", "1: bad retention 0s"},
		{"a.hcl", "log_level = \"loud\"\n", `1: bad log_level "loud"`},
		{"a.hcl", "gc_percent = -5\n", "1: bad gc_percent -5"},
		{"a.hcl", "memory_limit = \"lots\"\n", `1: bad memory_limit "lots"`},
		{"a.hcl", "join = 7\n", "1: join: want a list of strings"},
		{"a.hcl", "labels = [\"a\"]\n", "1: labels: want a map of strings"},
		{"a.hcl", "enable_debug = \"maybe\"\n", "1: enable_debug: want true or false"},
		{"a.hcl", "name = null\n", "1: name: null is not a value"},
		{"a.hcl", "name = var.x\n", "1: variables not allowed"},
		{"a.hcl", "server {\n  name = \"x\"\n}\n", "1: unexpected \"server\" block"},
		{"a.hcl", "name = \"n\"\nname = \"m\"\n", "2: attribute redefined"},
		{"a.hcl", "name = \n", "1: "},
		{"a.json", "{\n  \"name\": \"n\",\n  \"cpu\": 2\n}\n", `3: unknown key "cpu"`},
		{"a.json", "{\n  \"cpus\": \"x\"\n}\n", "2: cpus: want a whole number"},
		{"a.json", "{\"name\": }", "1: "},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		p := writeFile(t, dir, tc.name, tc.content)
		_, err := settings(t, "--config", p)
		if err == nil || !strings.HasPrefix(err.Error(), p+":") || !strings.Contains(err.Error(), p+":"+tc.want) {
			t.Errorf("%q: got %v, want an error %q", tc.content, err, p+":"+tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got a multi-line error %q", tc.content, err)
		}
	}
	if _, err := settings(t, "--config", filepath.Join(dir, "missing.hcl")); err == nil || !strings.Contains(err.Error(), "missing.hcl") {
		t.Errorf("missing file: got %v, want an error naming it", err)
	}
}

// TestPrintConfigRoundTrip checks that --print-config's output, read back
// as a config file, gives the same settings.
func TestPrintConfigRoundTrip(t *testing.T) {
	p := writeFile(t, t.TempDir(), "agent.hcl", sampleHCL+"gc_percent = 200\nmemory_limit = \"3G\"\nprocs_per_slot = 9\n")
	s, err := settings(t, "--config", p, "--cpus", "2")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := s.print(&out); err != nil {
		t.Fatal(err)
	}
	q := writeFile(t, t.TempDir(), "printed.hcl", out.String())
	s2, err := settings(t, "--config", q)
	if err != nil {
		t.Fatalf("reading the printed config: %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(s.cfg, s2.cfg) || s.level != s2.level || s.gc != s2.gc || s.f.shutdownTimeout != s2.f.shutdownTimeout {
		t.Errorf("got %+v\nwant %+v\nfrom\n%s", s2.cfg, s.cfg, out.String())
	}
	if keys := s.changedKeys(s2); len(keys) != 0 {
		t.Errorf("got changed keys %v after a round trip, want none", keys)
	}
}

func TestPrintConfigCommand(t *testing.T) {
	p := writeFile(t, t.TempDir(), "agent.hcl", "name = \"n1\"\ndata_dir = \"/d\"\n")
	r := runCLI(t, "", "", "agent", "--config", p, "--print-config", "--cpus", "3")
	if r.code != 0 || !hasSetting(r.stdout, "name", `"n1"`) || !hasSetting(r.stdout, "cpus", "3") {
		t.Errorf("got %+v, want the effective settings", r)
	}
	r = runCLI(t, "", "", "agent", "--name", "n1", "--print-config")
	checkOneLine(t, []string{"agent", "--print-config"}, r.stderr)
	if r.code != 1 || !hasSetting(r.stdout, "name", `"n1"`) || !strings.Contains(r.stderr, "data dir") {
		t.Errorf("no data_dir: got %+v, want the settings, then exit 1 and the reason", r)
	}
	r = runCLI(t, "", "", "agent", "--config", p+".missing", "--print-config")
	checkOneLine(t, []string{"agent", "--config"}, r.stderr)
	if r.code != 1 {
		t.Errorf("missing file: got exit %d, want 1", r.code)
	}
}

func TestAdvertise(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.1.2.3", "10.1.2.3"},
		{"localhost", "127.0.0.1"},
	} {
		cfg, err := agentConfig(t, cluster.DefaultConfig(), "--advertise", tc.in)
		if err != nil || cfg.AdvertiseHost != tc.want {
			t.Errorf("--advertise %s: got %q, %v; want %s", tc.in, cfg.AdvertiseHost, err, tc.want)
		}
	}
	if _, err := agentConfig(t, cluster.DefaultConfig(), "--advertise", "10.0.0.1:7071"); err == nil || !strings.Contains(err.Error(), "bad --advertise") {
		t.Errorf("--advertise with a port: got %v, want an error", err)
	}
}

// fakeReloadable records the configs a reload applies.
type fakeReloadable struct{ got []cluster.Config }

func (f *fakeReloadable) Reload(cfg cluster.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	f.got = append(f.got, cfg)
	return nil
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "agent.hcl", "name = \"n1\"\ndata_dir = \"/d\"\nretention = \"1h\"\nlog_level = \"info\"\n")
	var f agentFlags
	var file fileFlags
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	f.register(fs)
	file.register(fs)
	if err := fs.Parse([]string{"--config", p, "--cpus", "2"}); err != nil {
		t.Fatal(err)
	}
	s, err := loadAgentSettings(file.cli, file.paths, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	level := new(slog.LevelVar)
	level.Set(s.level)
	r := &reloader{e: &env{getenv: noEnv}, cli: file.cli, paths: file.paths, level: level, cur: s}
	a := &fakeReloadable{}

	writeFile(t, dir, "agent.hcl", "name = \"n1\"\ndata_dir = \"/d\"\nretention = \"2h\"\nlog_level = \"debug\"\ncpus = 8\nfence_timeout = \"3s\"\nlost_timeout = \"4s\"\n")
	r.reload(a)
	if len(a.got) != 1 || a.got[0].Retention != 2*time.Hour || a.got[0].CPUs != 2 {
		t.Fatalf("got reloads %+v, want one with retention 2h and the flag's cpus 2", a.got)
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("got log level %v, want debug", level.Level())
	}
	if !strings.Contains(logs.String(), "applied=\"[retention log_level]\"") ||
		!strings.Contains(logs.String(), "keys=\"[fence_timeout lost_timeout]\"") {
		t.Errorf("got log %q, want log_level and retention applied, the timeouts pending and not cpus (the flag wins)", logs.String())
	}
	if r.cur.cfg.Retention != 2*time.Hour || r.cur.cfg.FenceTimeout != cluster.DefaultConfig().FenceTimeout {
		t.Errorf("got settings in effect %+v, want the new retention and the old fence timeout", r.cur.cfg)
	}

	// A bad file keeps the settings in effect.
	logs.Reset()
	writeFile(t, dir, "agent.hcl", "retention = \"soon\"\n")
	r.reload(a)
	if len(a.got) != 1 || level.Level() != slog.LevelDebug || !strings.Contains(logs.String(), "reload failed") {
		t.Errorf("bad file: got %d reloads, level %v, log %q; want no reload and an error logged", len(a.got), level.Level(), logs.String())
	}
}

func TestSdNotify(t *testing.T) {
	if err := sdNotify(noEnv, "READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: got %v, want nil", err)
	}
	for _, name := range []string{
		filepath.Join(t.TempDir(), "notify"),
		"@vproc-notify-test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000000"),
	} {
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		getenv := func(k string) string {
			if k == "NOTIFY_SOCKET" {
				return name
			}
			return ""
		}
		if err := sdNotify(getenv, "READY=1"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		buf := make([]byte, 64)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != "READY=1" {
			t.Errorf("%s: got %q, %v; want READY=1", name, buf[:n], err)
		}
		conn.Close()
	}
	bad := func(k string) string { return "relative/path" }
	if err := sdNotify(bad, "READY=1"); err == nil {
		t.Error("relative NOTIFY_SOCKET: got nil, want an error")
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, "", "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "vproc ") || !strings.Contains(r.stdout, "\ncommit ") {
		t.Errorf("got %+v, want the version and the commit", r)
	}
	version, commit = "v1.2.3", "abc123"
	t.Cleanup(func() { version, commit = "", "" })
	r = runCLI(t, "", "", "version")
	if !strings.HasPrefix(r.stdout, "vproc v1.2.3\ncommit abc123\n") {
		t.Errorf("stamped: got %q, want v1.2.3 and abc123", r.stdout)
	}
}

// TestExampleConfigs checks that the example config files of deploy/ load
// and give a valid configuration.
func TestExampleConfigs(t *testing.T) {
	paths, err := filepath.Glob("../../deploy/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../deploy/*/*.hcl")
	paths = append(paths, more...)
	if len(paths) < 2 {
		t.Fatalf("found %v, want the compose and systemd examples", paths)
	}
	for _, p := range paths {
		s, err := settings(t, "--config", p, "--name", "n1")
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if err := s.cfg.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if s.cfg.BootstrapExpect != 3 || s.cfg.DataDir == "" {
			t.Errorf("%s: got bootstrap_expect %d, data_dir %q; want a three-server cluster with a data directory", p, s.cfg.BootstrapExpect, s.cfg.DataDir)
		}
	}
}

// hasSetting reports whether printed settings hold the line key = val,
// however the keys are aligned.
func hasSetting(out, key, val string) bool {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` +=\s*` + regexp.QuoteMeta(val) + `$`).MatchString(out)
}
