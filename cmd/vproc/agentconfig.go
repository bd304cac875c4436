package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/pflag"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/vproc/vproc/cluster"
	"github.com/vproc/vproc/cluster/api"
)

// The agent's config file. `vproc agent --config FILE` reads HCL (FILE.hcl,
// or any name not ending in .json) or JSON (FILE.json), as Consul and Nomad
// do. A file holds top-level keys only, one per agent flag, named as the
// flag with '_' for '-':
//
//	name             = "n1"
//	data_dir         = "/var/lib/vproc"
//	bootstrap_expect = 3
//	join             = ["10.0.0.2:7072", "10.0.0.3:7072"]
//	labels           = { rack = "a" }
//	retention        = "2h"
//
// --config may be given more than once, and may name a directory, whose
// *.hcl and *.json files are read in lexical order. A key in a later file
// replaces the same key of an earlier one; a flag on the command line
// replaces the key of every file. An unknown key, a value of the wrong type
// or a bad value is an error that names the file, the line and the reason.

// fileKey ties an agent flag to its key in a config file.
type fileKey struct {
	flag string
	key  string
}

// agentFileKeys lists every agent flag that a config file may set, in the
// order --print-config shows them. A flag that vproc agent registers must
// be here or in cliOnlyFlags; TestAgentFlagsHaveFileKeys fails otherwise.
var agentFileKeys = []fileKey{
	{"name", "name"},
	{"data-dir", "data_dir"},
	{"http-addr", "http_addr"},
	{"raft-addr", "raft_addr"},
	{"gossip-addr", "gossip_addr"},
	{"advertise", "advertise"},
	{"join", "join"},
	{"bootstrap-expect", "bootstrap_expect"},
	{"cpus", "cpus"},
	{"memory", "memory"},
	{"labels", "labels"},
	{"retention", "retention"},
	{"fence-timeout", "fence_timeout"},
	{"lost-timeout", "lost_timeout"},
	{"procs-per-slot", "procs_per_slot"},
	{"event-buffer", "event_buffer"},
	{"http-max-conns-per-client", "http_max_conns_per_client"},
	{"preempt-grace", "preempt_grace"},
	{"log-level", "log_level"},
	{"log-format", "log_format"},
	{"shutdown-timeout", "shutdown_timeout"},
	{"enable-debug", "enable_debug"},
	{"acl-enabled", "acl_enabled"},
	{"agent-token", "agent_token"},
	{"gc-percent", "gc_percent"},
	{"memory-limit", "memory_limit"},
	{"max-program-size", "max_program_size"},
	{"ca-file", "ca_file"},
	{"cert-file", "cert_file"},
	{"key-file", "key_file"},
	{"encrypt", "encrypt"},
}

// cliOnlyFlags are the agent flags that have no key in a config file, and
// why.
var cliOnlyFlags = map[string]string{
	"config":       "it names the files",
	"print-config": "it is a command, not a setting",
	"dev":          "it chooses the defaults that the files' keys change",
	"help":         "it is a command, not a setting",
}

// reloadableKeys are the keys SIGHUP applies to a running agent. A change
// of any other key is logged and waits for a restart.
var reloadableKeys = []string{"log_level", "retention"}

// fileFlags are the flags of vproc agent about config files.
type fileFlags struct {
	paths []string
	print bool
	// cli records the raw values of the other agent flags given on the
	// command line, so that a reload can apply them again over the files.
	cli *flagRecord
}

// register adds --config and --print-config to fs, and records every flag
// registered on fs before them.
func (f *fileFlags) register(fs *pflag.FlagSet) {
	f.cli = recordFlags(fs)
	fs.StringArrayVar(&f.paths, "config", nil, "a config file (HCL, or JSON when named *.json) or a directory of them; repeatable, later files win, flags override files")
	fs.BoolVar(&f.print, "print-config", false, "print the effective settings, in the config file's syntax, and exit")
}

// flagRecord holds the values given to flags on the command line, in
// order, as pflag received them.
type flagRecord struct {
	order []string            // flag names, in the order first set
	sets  map[string][]string // flag name → the raw values, in order
}

// recordFlags wraps every flag of fs so that each value set is recorded.
func recordFlags(fs *pflag.FlagSet) *flagRecord {
	r := &flagRecord{sets: make(map[string][]string)}
	fs.VisitAll(func(fl *pflag.Flag) {
		fl.Value = &recordedValue{Value: fl.Value, name: fl.Name, rec: r}
	})
	return r
}

// replay sets the recorded values on fs, which holds the same flags.
func (r *flagRecord) replay(fs *pflag.FlagSet) error {
	for _, name := range r.order {
		for _, v := range r.sets[name] {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("--%s: %w", name, err)
			}
		}
	}
	return nil
}

// recordedValue is a flag value that records each value set.
type recordedValue struct {
	pflag.Value
	name string
	rec  *flagRecord
}

// Set sets the value and records it.
func (v *recordedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return err
	}
	if _, ok := v.rec.sets[v.name]; !ok {
		v.rec.order = append(v.rec.order, v.name)
	}
	v.rec.sets[v.name] = append(v.rec.sets[v.name], s)
	return nil
}

// changedFlags reports which flags were given.
type changedFlags interface {
	Changed(name string) bool
}

// onlyFlag is a changedFlags in which one flag was given.
type onlyFlag string

// Changed reports whether name is the flag.
func (o onlyFlag) Changed(name string) bool { return string(o) == name }

// ErrConfigFile is wrapped by every error about a config file's content.
var ErrConfigFile = errors.New("bad config file")

// configError is a mistake in a config file: where it is and why.
type configError struct {
	file string
	line int // 0 when the mistake is not on one line
	err  error
}

// Error returns "file:line: reason".
func (e *configError) Error() string {
	if e.line == 0 {
		return fmt.Sprintf("%s: %v", e.file, e.err)
	}
	return fmt.Sprintf("%s:%d: %v", e.file, e.line, e.err)
}

// Unwrap returns the reason.
func (e *configError) Unwrap() []error { return []error{ErrConfigFile, e.err} }

// fileValue is one key of a config file, as the strings to set its flag
// to.
type fileValue struct {
	flag string
	sets []string
	file string
	line int
}

// agentSettings are the agent's effective settings: the command line's
// flags over the config files' keys over the defaults.
type agentSettings struct {
	f      agentFlags
	fs     *pflag.FlagSet
	getenv func(string) string

	cfg   cluster.Config
	level slog.Level
	gc    gcSettings
}

// loadAgentSettings builds the settings from the recorded command line and
// the config files at paths.
func loadAgentSettings(cli *flagRecord, paths []string, getenv func(string) string) (*agentSettings, error) {
	s := &agentSettings{fs: pflag.NewFlagSet("agent", pflag.ContinueOnError), getenv: getenv}
	s.fs.SetOutput(io.Discard)
	s.f.register(s.fs)
	if err := cli.replay(s.fs); err != nil {
		return nil, err
	}
	values := make(map[string]fileValue)
	for _, p := range paths {
		if err := readConfigPath(p, values); err != nil {
			return nil, err
		}
	}
	for _, k := range agentFileKeys {
		v, ok := values[k.key]
		if !ok || s.fs.Changed(k.flag) {
			continue
		}
		if err := s.setFromFile(k, v); err != nil {
			return nil, &configError{file: v.file, line: v.line, err: err}
		}
	}
	var err error
	if s.level, err = logLevel(s.f.logLevel); err != nil {
		return nil, err
	}
	if err = checkLogFormat(s.f.logFormat); err != nil {
		return nil, err
	}
	base := cluster.DefaultConfig()
	if s.f.dev {
		base = cluster.DevConfig()
	}
	if s.cfg, err = s.f.config(s.fs, base); err != nil {
		return nil, err
	}
	s.gc, err = resolveGC(s.f.gcPercent, s.fs.Changed("gc-percent"), s.f.memoryLimit, s.fs.Changed("memory-limit"), getenv, machineMemory())
	if err != nil {
		return nil, err
	}
	return s, nil
}

// setFromFile sets k's flag to the file's value v and checks it alone;
// how keys relate is checked with the whole configuration.
func (s *agentSettings) setFromFile(k fileKey, v fileValue) error {
	for _, str := range v.sets {
		if err := s.fs.Set(k.flag, str); err != nil {
			return fmt.Errorf("%s: %v", k.key, err)
		}
	}
	_, err := s.f.config(onlyFlag(k.flag), cluster.DefaultConfig())
	if err == nil {
		switch k.flag {
		case "log-level":
			_, err = logLevel(s.f.logLevel)
		case "log-format":
			err = checkLogFormat(s.f.logFormat)
		case "gc-percent": // with a limit, so that only the percent is checked
			_, err = resolveGC(s.f.gcPercent, true, "1G", true, noEnv, 0)
		case "memory-limit":
			_, err = resolveGC(defaultGCPercent, true, s.f.memoryLimit, true, noEnv, 0)
		}
	}
	if err != nil {
		// The checks name the flag; the file has the key.
		return errors.New(strings.ReplaceAll(err.Error(), "--"+k.flag, k.key))
	}
	return nil
}

func noEnv(string) string { return "" }

// readConfigPath reads the config file at path, or each *.hcl and *.json
// file of the directory at path in lexical order, into values.
func readConfigPath(path string, values map[string]fileValue) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if !st.IsDir() {
		return readConfigFile(path, values)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for _, e := range entries { // sorted by name
		ext := filepath.Ext(e.Name())
		if e.IsDir() || ext != ".hcl" && ext != ".json" {
			continue
		}
		if err := readConfigFile(filepath.Join(path, e.Name()), values); err != nil {
			return err
		}
	}
	return nil
}

// readConfigFile parses one file, HCL or JSON by its name, and adds its
// keys to values.
func readConfigFile(path string, values map[string]fileValue) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if filepath.Ext(path) == ".json" {
		f, diags = p.ParseJSON(src, path)
	} else {
		f, diags = p.ParseHCL(src, path)
	}
	if diags.HasErrors() {
		return diagError(path, diags)
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		return diagError(path, diags)
	}
	byKey := make(map[string]fileKey, len(agentFileKeys))
	for _, k := range agentFileKeys {
		byKey[k.key] = k
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		return attrs[names[i]].NameRange.Start.Byte < attrs[names[j]].NameRange.Start.Byte
	})
	for _, name := range names {
		a := attrs[name]
		line := a.NameRange.Start.Line
		k, ok := byKey[name]
		if !ok {
			return &configError{file: path, line: line, err: unknownKey(name)}
		}
		val, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			return diagError(path, diags)
		}
		sets, err := flagStrings(val, k)
		if err != nil {
			return &configError{file: path, line: a.Expr.Range().Start.Line, err: fmt.Errorf("%s: %w", k.key, err)}
		}
		values[k.key] = fileValue{flag: k.flag, sets: sets, file: path, line: line}
	}
	return nil
}

// unknownKey is the error of a key no flag has, with a suggestion.
func unknownKey(name string) error {
	for _, k := range agentFileKeys {
		if strings.ReplaceAll(name, "-", "_") == k.key || strings.TrimPrefix(name, "--") == k.flag {
			return fmt.Errorf("unknown key %q (did you mean %q?)", name, k.key)
		}
	}
	if _, ok := cliOnlyFlags[strings.ReplaceAll(name, "_", "-")]; ok {
		return fmt.Errorf("unknown key %q: --%s is a command-line flag only", name, strings.ReplaceAll(name, "_", "-"))
	}
	return fmt.Errorf("unknown key %q", name)
}

// diagError turns HCL's diagnostics into a configError at the first
// error's line.
func diagError(path string, diags hcl.Diagnostics) error {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		reason := strings.TrimSuffix(d.Summary, ".")
		if d.Detail != "" {
			reason += ": " + strings.TrimSuffix(d.Detail, ".")
		}
		return &configError{file: path, line: line, err: errors.New(lowerFirst(reason))}
	}
	return &configError{file: path, err: errors.New(diags.Error())}
}

func lowerFirst(s string) string {
	if s == "" || strings.ToUpper(s[:1]) != s[:1] || len(s) > 1 && strings.ToUpper(s[1:2]) == s[1:2] {
		return s // keep acronyms such as "JSON"
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// flagStrings converts a file's value to the strings that pflag's Set
// takes for k's flag: one for a scalar, one per element of a list, one
// "key=value" per entry of a map, each CSV-quoted where the flag splits on
// commas.
func flagStrings(v cty.Value, k fileKey) ([]string, error) {
	if v.IsNull() {
		return nil, errors.New("null is not a value")
	}
	switch agentFlagTypes()[k.flag] {
	case "bool":
		b, err := convert.Convert(v, cty.Bool)
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return []string{strconv.FormatBool(b.True())}, nil
	case "int":
		n, err := convert.Convert(v, cty.Number)
		if err != nil {
			return nil, errors.New("want a whole number")
		}
		i, acc := n.AsBigFloat().Int64()
		if acc != big.Exact || i < math.MinInt32 || i > math.MaxInt32 {
			return nil, fmt.Errorf("want a whole number, got %s", n.AsBigFloat().String())
		}
		return []string{strconv.FormatInt(i, 10)}, nil
	case "stringSlice":
		list, err := stringList(v)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = csvField(s)
		}
		return out, nil
	case "stringArray":
		return stringList(v)
	case "stringToString":
		if !v.Type().IsObjectType() && !v.Type().IsMapType() {
			return nil, errors.New("want a map of strings, such as { rack = \"a\" }")
		}
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			key, elem := it.Element()
			s, err := convert.Convert(elem, cty.String)
			if err != nil || s.IsNull() {
				return nil, fmt.Errorf("%s: want a string", key.AsString())
			}
			out = append(out, csvField(key.AsString()+"="+s.AsString()))
		}
		sort.Strings(out)
		return out, nil
	default: // string, duration and any other scalar flag
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			return nil, errors.New("want a string")
		}
		return []string{s.AsString()}, nil
	}
}

// agentFlagTypes maps each agent flag to its pflag type ("bool", "int",
// "stringSlice", ...).
var agentFlagTypes = sync.OnceValue(func() map[string]string {
	var f agentFlags
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	f.register(fs)
	types := make(map[string]string)
	fs.VisitAll(func(fl *pflag.Flag) { types[fl.Name] = fl.Value.Type() })
	return types
})

// stringList converts a list (or one string) to strings.
func stringList(v cty.Value) ([]string, error) {
	t := v.Type()
	if t == cty.String {
		return []string{v.AsString()}, nil
	}
	if !t.IsListType() && !t.IsTupleType() && !t.IsSetType() {
		return nil, errors.New("want a list of strings")
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, elem := it.Element()
		s, err := convert.Convert(elem, cty.String)
		if err != nil || s.IsNull() {
			return nil, errors.New("want a list of strings")
		}
		out = append(out, s.AsString())
	}
	return out, nil
}

// csvField quotes s as one CSV field, as pflag's list flags read them.
func csvField(s string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{s})
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// values returns each key's effective value.
func (s *agentSettings) values() []keyValue {
	c := s.cfg
	out := make([]keyValue, 0, len(agentFileKeys))
	for _, k := range agentFileKeys {
		var v cty.Value
		switch k.key {
		case "name":
			v = cty.StringVal(c.Name)
		case "data_dir":
			v = cty.StringVal(c.DataDir)
		case "http_addr":
			v = cty.StringVal(c.HTTPAddr)
		case "raft_addr":
			v = cty.StringVal(c.RaftAddr)
		case "gossip_addr":
			v = cty.StringVal(c.GossipAddr)
		case "advertise":
			v = cty.StringVal(s.f.advertise)
		case "join":
			v = ctyStrings(c.Join)
		case "bootstrap_expect":
			v = cty.NumberIntVal(int64(c.BootstrapExpect))
		case "cpus":
			v = cty.NumberIntVal(int64(c.CPUs))
		case "memory":
			v = cty.StringVal(sizeString(c.Memory))
		case "labels":
			m := make(map[string]cty.Value, len(c.Labels))
			for lk, lv := range c.Labels {
				m[lk] = cty.StringVal(lv)
			}
			v = cty.MapValEmpty(cty.String)
			if len(m) > 0 {
				v = cty.MapVal(m)
			}
		case "retention":
			v = durationVal(c.Retention)
		case "fence_timeout":
			v = durationVal(c.FenceTimeout)
		case "lost_timeout":
			v = durationVal(c.LostTimeout)
		case "procs_per_slot":
			v = cty.NumberIntVal(int64(c.Scheduler.ProcsPerSlot))
		case "event_buffer":
			v = cty.NumberIntVal(int64(c.EventBuffer))
		case "http_max_conns_per_client":
			v = cty.NumberIntVal(int64(c.HTTPMaxConnsPerClient))
		case "preempt_grace":
			v = durationVal(c.PreemptGrace)
		case "log_level":
			v = cty.StringVal(strings.ToLower(s.level.String()))
		case "log_format":
			v = cty.StringVal(s.f.logFormat)
		case "shutdown_timeout":
			v = durationVal(s.f.shutdownTimeout)
		case "enable_debug":
			v = cty.BoolVal(c.EnableDebug)
		case "acl_enabled":
			v = cty.BoolVal(c.ACLEnabled)
		case "agent_token":
			v = cty.StringVal(c.AgentToken)
		case "gc_percent":
			v = s.gcPercentVal()
		case "memory_limit":
			v = s.memoryLimitVal()
		case "max_program_size":
			n := c.MaxProgramBytes
			if n == 0 {
				n = api.DefaultMaxProgramBytes
			}
			v = cty.StringVal(sizeString(n))
		case "ca_file":
			v = cty.StringVal(c.TLS.CAFile)
		case "cert_file":
			v = cty.StringVal(c.TLS.CertFile)
		case "key_file":
			v = cty.StringVal(c.TLS.KeyFile)
		case "encrypt":
			v = cty.StringVal(c.EncryptKey)
		default:
			panic("vproc agent: no effective value for config key " + k.key)
		}
		out = append(out, keyValue{key: k.key, val: v})
	}
	return out
}

// keyValue is a key's effective value.
type keyValue struct {
	key string
	val cty.Value
}

func ctyStrings(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

func durationVal(d time.Duration) cty.Value { return cty.StringVal(d.String()) }

// gcPercentVal is the collector target in effect: the setting, or GOGC's.
func (s *agentSettings) gcPercentVal() cty.Value {
	if s.gc.percent != -2 {
		return cty.NumberIntVal(int64(s.gc.percent))
	}
	env := s.getenv("GOGC")
	if env == "off" {
		return cty.NumberIntVal(-1)
	}
	if n, err := strconv.Atoi(env); err == nil {
		return cty.NumberIntVal(int64(n))
	}
	return cty.NumberIntVal(100)
}

// memoryLimitVal is the soft memory limit in effect: the setting, or
// GOMEMLIMIT's.
func (s *agentSettings) memoryLimitVal() cty.Value {
	switch s.gc.limit {
	case -1:
		if env := s.getenv("GOMEMLIMIT"); env != "" && env != "off" {
			return cty.StringVal(env)
		}
		return cty.StringVal("none")
	case math.MaxInt64:
		return cty.StringVal("none")
	}
	return cty.StringVal(sizeString(s.gc.limit))
}

// sizeString formats a byte count in the size syntax parseSize reads.
func sizeString(b int64) string {
	if b <= 0 {
		return "0"
	}
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if b%u.size == 0 {
			return strconv.FormatInt(b/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}

// print writes the effective settings as a config file that gives them,
// and returns the reason an agent would refuse them, if any.
func (s *agentSettings) print(w io.Writer) error {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for _, kv := range s.values() {
		body.SetAttributeValue(kv.key, kv.val)
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, "# vproc agent: effective settings (defaults, then config files, then flags)")
	if s.f.dev {
		fmt.Fprintln(&b, "# with --dev: a single node, everything in memory")
	}
	if s.cfg.AdvertiseHost != "" && s.cfg.AdvertiseHost != s.f.advertise {
		fmt.Fprintf(&b, "# advertise resolves to %s\n", s.cfg.AdvertiseHost)
	}
	b.Write(hclwrite.Format(f.Bytes()))
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	// The settings are shown either way; an agent would refuse these.
	return s.cfg.Validate()
}

// changedKeys returns the keys whose effective values differ between s
// and t.
func (s *agentSettings) changedKeys(t *agentSettings) []string {
	a, b := s.values(), t.values()
	var out []string
	for i := range a {
		if !bytes.Equal(hclwrite.TokensForValue(a[i].val).Bytes(), hclwrite.TokensForValue(b[i].val).Bytes()) {
			out = append(out, a[i].key)
		}
	}
	return out
}

// reloader re-reads the settings on SIGHUP and applies what can change
// while the agent runs.
type reloader struct {
	e     *env
	cli   *flagRecord
	paths []string
	level *slog.LevelVar
	cur   *agentSettings // the settings in effect; owned by the SIGHUP goroutine
}

// agentReloader is what a reload changes: *cluster.Agent.
type agentReloader interface {
	Reload(cluster.Config) error
}

// reload re-reads the config files (the command line's flags still win),
// applies log_level and retention, and logs any other key that changed,
// which waits for a restart.
func (r *reloader) reload(a agentReloader) {
	logger := r.cur.cfg.Logger
	_ = sdNotify(r.e.getenv, "RELOADING=1\nMONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10))
	defer func() { _ = sdNotify(r.e.getenv, "READY=1") }()
	next, err := loadAgentSettings(r.cli, r.paths, r.e.getenv)
	if err == nil {
		next.cfg.Logger = logger
		err = a.Reload(next.cfg)
	}
	if err != nil {
		logger.Error("reload failed; the settings in effect stay", "error", err)
		return
	}
	changed := r.cur.changedKeys(next)
	var applied, pending []string
	for _, k := range changed {
		if slices.Contains(reloadableKeys, k) {
			applied = append(applied, k)
		} else {
			pending = append(pending, k)
		}
	}
	r.level.Set(next.level)
	// What waits for a restart stays as it is in effect.
	keep := *r.cur
	keep.level, keep.cfg.Retention = next.level, next.cfg.Retention
	r.cur = &keep
	logger.Info("reloaded", "applied", applied)
	if len(pending) > 0 {
		logger.Warn("changed settings take effect at the next restart", "keys", pending)
	}
}

// advertiseHost returns the host for --advertise: an IP address as given,
// or the address a host name resolves to now (IPv4 first), as containers
// and Kubernetes pods advertise their service name.
func advertiseHost(s string) (string, error) {
	if ip := net.ParseIP(s); ip != nil {
		return ip.String(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, s)
	if err != nil {
		return "", fmt.Errorf("not an IP address, and no address for the name: %v", err)
	}
	for _, a := range addrs {
		if a.IP.To4() != nil {
			return a.IP.String(), nil
		}
	}
	if len(addrs) == 0 {
		return "", errors.New("no address for the name")
	}
	return addrs[0].IP.String(), nil
}
