package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vproc/vproc/cluster"
	"github.com/vproc/vproc/cluster/events"
	"github.com/vproc/vproc/spec"
)

// agentFlags are the flags of vproc agent. Only the flags given on the
// command line change the base configuration (DefaultConfig, or DevConfig
// with --dev).
type agentFlags struct {
	dev             bool
	name            string
	dataDir         string
	httpAddr        string
	raftAddr        string
	gossipAddr      string
	advertise       string
	join            []string
	bootstrapExpect int
	cpus            int
	memory          string
	labels          map[string]string
	retention       time.Duration
	fenceTimeout    time.Duration
	lostTimeout     time.Duration
	procsPerSlot    int
	eventBuffer     int
	maxConns        int
	preemptGrace    time.Duration
	logLevel        string
	logFormat       string
	shutdownTimeout time.Duration
	enableDebug     bool
	aclEnabled      bool
	agentToken      string
	gcPercent       int
	memoryLimit     string
	maxProgramSize  string
	caFile          string
	certFile        string
	keyFile         string
	encrypt         string
}

func (f *agentFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.dev, "dev", false, "run a single in-memory node on the default ports (HTTP 7070, raft 7071, gossip 7072)")
	fs.StringVar(&f.name, "name", "", "the node's name, unique in the cluster (default the host name)")
	fs.StringVar(&f.dataDir, "data-dir", "", "the directory of the raft log, snapshots and process logs")
	fs.StringVar(&f.httpAddr, "http-addr", "", "the HTTP API's listen address, host:port (default port 7070)")
	fs.StringVar(&f.raftAddr, "raft-addr", "", "raft's listen address, host:port (default port 7071)")
	fs.StringVar(&f.gossipAddr, "gossip-addr", "", "gossip's listen address, host:port (default port 7072)")
	fs.StringVar(&f.advertise, "advertise", "", "the IP address, or a host name resolved at start, that other nodes and clients use to reach this one (default the bound host, or the first private IPv4 address when bound to 0.0.0.0)")
	fs.StringSliceVar(&f.join, "join", nil, "the gossip address of a node to join (repeatable)")
	fs.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "the number of servers that bootstrap the cluster together")
	fs.IntVar(&f.cpus, "cpus", 0, "CPU slots of this node (default GOMAXPROCS)")
	fs.StringVar(&f.memory, "memory", "", "memory offered to placement, such as 512M or 4G (default unlimited)")
	fs.StringToStringVar(&f.labels, "labels", nil, "node labels, as k=v,k2=v2, matched by spawn --constraint")
	fs.StringVar(&f.maxProgramSize, "max-program-size", "", "the largest program (WebAssembly module) an upload may carry, such as 64M (default 64M)")
	fs.DurationVar(&f.retention, "retention", 0, "how long an exited process spawned from the command line is kept before it is reaped (default 1h)")
	fs.DurationVar(&f.fenceTimeout, "fence-timeout", 0, "how long after its last answered lease renewal a node freezes its processes (default 2.4s; must exceed the worst election)")
	fs.DurationVar(&f.lostTimeout, "lost-timeout", 0, "how long after a node's last renewal the leader declares it lost and requeues its processes (default 3.1s; at least fence-timeout×1.1 + election timeout)")
	fs.IntVar(&f.maxConns, "http-max-conns-per-client", cluster.DefaultHTTPMaxConnsPerClient, "the most HTTP connections one client address may hold at once; cluster members are exempt (0: no cap)")
	fs.IntVar(&f.procsPerSlot, "procs-per-slot", 0, "processes placement puts on one CPU slot, when this node leads (default 1024)")
	fs.IntVar(&f.eventBuffer, "event-buffer", 0, "how many recent events this agent keeps for GET /v1/events streams that resume or fall behind (default 4096)")
	fs.DurationVar(&f.preemptGrace, "preempt-grace", 0, "how long a preempted process has between SIGTERM and SIGKILL (default 5s)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", logFormatText, "log format: text (logfmt lines) or json (one JSON object a line); every line names the node")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown may take")
	fs.BoolVar(&f.enableDebug, "enable-debug", false, "serve Go's profiles under /debug/pprof/ on the HTTP API")
	fs.BoolVar(&f.aclEnabled, "acl-enabled", false, "turn ACLs on: every request but the health check needs a token (vproc acl bootstrap)")
	fs.StringVar(&f.agentToken, "agent-token", "", "the secret the agents present to each other on node traffic when ACLs are on (16 to 256 characters, the same on every agent)")
	fs.IntVar(&f.gcPercent, "gc-percent", 0, "the agent's garbage collection target (GOGC): the heap may grow this many percent over the live heap before a collection; -1 turns collection off until --memory-limit (default 400, or $GOGC when set)")
	fs.StringVar(&f.caFile, "ca-file", "", "the cluster's CA certificate (PEM); with --cert-file and --key-file, every connection uses mutual TLS")
	fs.StringVar(&f.certFile, "cert-file", "", "this node's server certificate (PEM), naming the node (vproc tls cert create --server --node NAME)")
	fs.StringVar(&f.keyFile, "key-file", "", "the private key of --cert-file (PEM)")
	fs.StringVar(&f.encrypt, "encrypt", "", "the base64 gossip encryption key (vproc keygen); a keyring file in the data directory takes precedence")
	fs.StringVar(&f.memoryLimit, "memory-limit", "", "the agent's soft memory limit (GOMEMLIMIT), such as 2G, or none: the collector works harder as the agent nears it (default $GOMEMLIMIT, or half of the machine's or cgroup's memory)")
}

// config applies the flags that were given (set on the command line or by
// a config file) to base.
func (f *agentFlags) config(fs changedFlags, base cluster.Config) (cluster.Config, error) {
	cfg := base
	set := fs.Changed
	if set("name") {
		cfg.Name = f.name
	}
	if set("data-dir") {
		cfg.DataDir = f.dataDir
	}
	if set("http-addr") {
		cfg.HTTPAddr = f.httpAddr
	}
	if set("raft-addr") {
		cfg.RaftAddr = f.raftAddr
	}
	if set("gossip-addr") {
		cfg.GossipAddr = f.gossipAddr
	}
	if set("advertise") && f.advertise != "" {
		host, err := advertiseHost(f.advertise)
		if err != nil {
			return cfg, fmt.Errorf("bad --advertise %q: %v", f.advertise, err)
		}
		cfg.AdvertiseHost = host
	}
	if set("join") {
		cfg.Join = f.join
	}
	if set("bootstrap-expect") {
		if f.bootstrapExpect < 0 {
			return cfg, fmt.Errorf("bad --bootstrap-expect %d", f.bootstrapExpect)
		}
		cfg.BootstrapExpect = f.bootstrapExpect
	}
	if set("cpus") {
		if f.cpus < 0 {
			return cfg, fmt.Errorf("bad --cpus %d", f.cpus)
		}
		cfg.CPUs = f.cpus
	}
	if set("memory") {
		m, err := parseSize(f.memory)
		if err != nil {
			return cfg, fmt.Errorf("bad --memory %q: %v", f.memory, err)
		}
		cfg.Memory = m
	}
	if set("labels") {
		for k := range f.labels {
			if k == "" {
				return cfg, fmt.Errorf("bad --labels: empty label name")
			}
		}
		cfg.Labels = f.labels
	}
	if set("max-program-size") {
		m, err := parseSize(f.maxProgramSize)
		if err != nil || m <= 0 {
			return cfg, fmt.Errorf("bad --max-program-size %q: want a positive size such as 64M", f.maxProgramSize)
		}
		cfg.MaxProgramBytes = m
	}
	if set("retention") {
		if f.retention <= 0 {
			return cfg, fmt.Errorf("bad --retention %v: must be positive", f.retention)
		}
		cfg.Retention = f.retention
	}
	if set("fence-timeout") {
		cfg.FenceTimeout = f.fenceTimeout
	}
	if set("lost-timeout") {
		cfg.LostTimeout = f.lostTimeout
	}
	if set("event-buffer") {
		if f.eventBuffer < 1 || f.eventBuffer > events.MaxSize {
			return cfg, fmt.Errorf("bad --event-buffer %d: must be in 1..%d", f.eventBuffer, events.MaxSize)
		}
		cfg.EventBuffer = f.eventBuffer
	}
	if set("procs-per-slot") {
		if f.procsPerSlot < 1 {
			return cfg, fmt.Errorf("bad --procs-per-slot %d: must be at least 1", f.procsPerSlot)
		}
		cfg.Scheduler.ProcsPerSlot = f.procsPerSlot
	}
	if set("http-max-conns-per-client") {
		if f.maxConns < 0 {
			return cfg, fmt.Errorf("bad --http-max-conns-per-client %d: must not be negative", f.maxConns)
		}
		cfg.HTTPMaxConnsPerClient = f.maxConns
	}
	if set("preempt-grace") {
		if f.preemptGrace < 0 {
			return cfg, fmt.Errorf("bad --preempt-grace %v: must not be negative", f.preemptGrace)
		}
		cfg.PreemptGrace = f.preemptGrace
	}
	if set("enable-debug") {
		cfg.EnableDebug = f.enableDebug
	}
	if set("acl-enabled") {
		cfg.ACLEnabled = f.aclEnabled
	}
	if set("agent-token") {
		cfg.AgentToken = f.agentToken
	}
	if set("ca-file") {
		cfg.TLS.CAFile = f.caFile
	}
	if set("cert-file") {
		cfg.TLS.CertFile = f.certFile
	}
	if set("key-file") {
		cfg.TLS.KeyFile = f.keyFile
	}
	if set("encrypt") {
		cfg.EncryptKey = f.encrypt
	}
	if cfg.Name == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			return cfg, fmt.Errorf("no --name given and no host name: %v", err)
		}
		cfg.Name = host
	}
	return cfg, nil
}

// parseSize parses a byte count in the spawn grammar's size syntax
// (spec.ParseSize): 64M, 4G, 512K or plain bytes, in powers of 1024.
// "unlimited" is 0, no limit.
func parseSize(s string) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "unlimited", "inf", "infinity":
		return 0, nil
	}
	v, err := spec.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("want a size such as 512M or 4G")
	}
	if v > 1<<62 {
		return 0, fmt.Errorf("size too large")
	}
	return int64(v), nil
}

// errBadLogLevel is the error of a --log-level that is not a level.
var errBadLogLevel = errors.New("bad --log-level")

// logLevel parses --log-level.
func logLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, fmt.Errorf("%w %q (want debug, info, warn or error)", errBadLogLevel, s)
	}
	return l, nil
}

func newAgentCmd(e *env) *cobra.Command {
	var (
		f    agentFlags
		file fileFlags
	)
	cmd := &cobra.Command{
		Use:   "agent [flags]",
		Short: "Run a node of a vproc cluster",
		Long: `Run a node of a vproc cluster until SIGINT or SIGTERM, then shut it down.
SIGHUP re-reads the config files and applies what can change while the agent
runs (log_level, retention).

A cluster of three:
  vproc agent --name n1 --data-dir /var/lib/vproc --bootstrap-expect 3 --join 10.0.0.2:7072,10.0.0.3:7072
The same from a config file (HCL or JSON; flags override it):
  vproc agent --config /etc/vproc/agent.hcl
One node on this machine, in memory:
  vproc agent --dev`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loadAgentSettings(file.cli, file.paths, e.getenv)
			if err != nil {
				var ce *configError
				if (errors.Is(err, errBadLogLevel) || errors.Is(err, errBadLogFormat)) && !errors.As(err, &ce) {
					return usagef(cmd, "%v", err)
				}
				return err
			}
			if file.print {
				return s.print(e.stdout)
			}
			s.gc.apply()
			level := new(slog.LevelVar)
			level.Set(s.level)
			if s.cfg.Logger, err = newAgentLogger(e.stderr, s.f.logFormat, level, s.cfg.Name); err != nil {
				return err
			}
			return runAgent(cmd.Context(), e, s, &reloader{e: e, cli: file.cli, paths: file.paths, level: level, cur: s})
		},
	}
	f.register(cmd.Flags())
	file.register(cmd.Flags())
	return cmd
}

// runAgent runs an agent until ctx ends or SIGINT or SIGTERM arrives. It
// tells systemd when it is ready and when it stops (sd_notify), and
// reloads on SIGHUP.
func runAgent(ctx context.Context, e *env, s *agentSettings, r *reloader) error {
	cfg := s.cfg
	ctx, stop := e.signalContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGHUP is caught from the start; one that comes before the agent
	// runs has nothing to reload.
	var running atomic.Pointer[cluster.Agent]
	stopHangups := e.onSignal(ctx, syscall.SIGHUP, func() {
		if a := running.Load(); a != nil {
			r.reload(a)
		}
	})
	defer stopHangups()
	a, err := cluster.New(cfg)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	running.Store(a)
	v, commit := buildVersion()
	cfg.Logger.Info("agent running", "name", cfg.Name, "http", a.HTTPAddr(), "dev", cfg.Dev, "version", v, "commit", commit)
	if err := sdNotify(e.getenv, "READY=1"); err != nil {
		cfg.Logger.Warn("telling systemd the agent is ready", "error", err)
	}
	select {
	case <-ctx.Done():
	case <-a.Failed():
	}
	stopHangups()
	_ = sdNotify(e.getenv, "STOPPING=1")
	cfg.Logger.Info("agent shutting down", "timeout", s.f.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.f.shutdownTimeout)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil && a.Err() == nil {
		return fmt.Errorf("agent shutdown: %w", err)
	}
	if err := a.Err(); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}
