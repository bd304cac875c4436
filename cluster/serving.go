package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/cluster/ipcnet"
	"github.com/vproc/vproc/cluster/lease"
	"github.com/vproc/vproc/cluster/logstore"
	"github.com/vproc/vproc/cluster/programs"
	"github.com/vproc/vproc/cluster/runner"
	"github.com/vproc/vproc/cluster/ui"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/node/builtins"
	"github.com/vproc/vproc/node/wasm"
)

// DefaultLogMaxBytes bounds each process's stored output when
// Config.LogMaxBytes is 0.
const DefaultLogMaxBytes = 1 << 20

var _ runner.Sender = (*httpapi.Client)(nil)

// serving is the serving half of the agent: the HTTP API, forwarding, the
// node runner with its local kernel, and the process logs. It programs
// against core, which the replication half implements.
type serving struct {
	c    core
	cfg  Config
	name string
	log  *slog.Logger

	kernel *node.ProcessManager
	runner *runner.Runner
	logs   *logstore.Store
	api    *httpapi.Server
	ui     *ui.Handler // the web console's files

	ipc   *ipcnet.Net   // IPC between nodes: names and streams
	lease *lease.Keeper // the node's lease

	client *httpapi.Client // to the leader and the other nodes

	programs   *programs.Service // the program store (package programs)
	wasm       *wasm.Engine      // runs the store's modules
	programTmp string            // the store's directory when it is temporary (Dev)

	// ctx ends when stop begins: the node's own waits end with it.
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the lease's Run
	stopOnce sync.Once
	stopErr  error
}

// newServing builds the serving half: the local kernel (cfg.CPUs slots when
// set, the retention, PIDs from the runner, events to the runner, names
// from ipcnet), the runner, IPC between nodes, the log store (under
// cfg.DataDir/logs, in memory with cfg.Dev or without a data directory)
// and the HTTP API. Nothing runs until
// start. Tests adjust the runner's configuration with tune.
func newServing(c core, cfg Config, logger *slog.Logger, tune ...func(*runner.Config)) (*serving, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	console, err := ui.New()
	if err != nil {
		return nil, err
	}
	maxLog := cfg.LogMaxBytes
	if maxLog <= 0 {
		maxLog = DefaultLogMaxBytes
	}
	dir := ""
	if !cfg.Dev && cfg.DataDir != "" {
		dir = filepath.Join(cfg.DataDir, "logs")
	}
	logs, err := logstore.New(dir, maxLog, logger)
	if err != nil {
		return nil, err
	}
	tlsc, err := cfg.loadTLS()
	if err != nil {
		logs.Close()
		return nil, err
	}
	var clientTLS *tls.Config
	if tlsc != nil {
		clientTLS = tlsc.Client()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{
		ui:     console,
		c:      c,
		cfg:    cfg,
		name:   c.name(),
		log:    logger,
		logs:   logs,
		client: httpapi.NewClientTLS(coreAPI{c}, clientTLS),
		ctx:    ctx,
		cancel: cancel,
	}
	s.client.SetAgentToken(cfg.AgentToken)
	rcfg := runner.DefaultConfig()
	rcfg.Name, rcfg.PreemptGrace = s.name, cfg.PreemptGrace
	for _, fn := range tune {
		fn(&rcfg)
	}
	if s.runner, err = runner.New(rcfg, coreAPI{c}, logs, s.client, logger); err != nil {
		cancel()
		logs.Close()
		return nil, err
	}
	if s.ipc, err = ipcnet.New(ipcnet.Config{
		Name:   s.name,
		Core:   coreAPI{c},
		Commit: s.runner,
		Client: s.client,
		Fail:   func(w http.ResponseWriter, r *http.Request, err error) { s.api.Fail(w, r, err) },
		TLS:    tlsc,
	}); err != nil {
		cancel()
		logs.Close()
		return nil, err
	}

	kcfg := node.DefaultConfig()
	if cfg.CPUs > 0 {
		kcfg.Slots = cfg.CPUs
	}
	if cfg.Retention > 0 {
		kcfg.Retention = cfg.Retention
	}
	base := cfg.Programs
	if base == nil {
		base = builtins.Programs()
	}
	if err := s.startPrograms(base); err != nil {
		cancel()
		logs.Close()
		return nil, err
	}
	kcfg.Programs = node.Resolvers{base, s.wasm}
	kcfg.PIDs = s.runner
	kcfg.Signals = s.runner
	kcfg.OnEvent = s.runner.OnEvent
	kcfg.Logger = logger
	kcfg.Names = s.ipc.Names()
	k, err := node.New(kcfg)
	if err != nil {
		cancel()
		logs.Close()
		s.stopPrograms()
		return nil, fmt.Errorf("local kernel: %w", err)
	}
	if lease.Fencing {
		k.Freeze() // until the first renewal of the lease (package lease)
	}
	s.kernel = k
	s.runner.SetKernel(k)
	s.ipc.SetKernel(k)
	s.runner.SetInheritor(s.ipc)
	if s.lease, err = lease.New(ctx, lease.Config{Name: s.name, FenceTimeout: cfg.FenceTimeout}, coreAPI{c}, s.client, k, s.runner, logger); err != nil {
		cancel()
		logs.Close()
		_ = k.Shutdown(context.Background())
		s.stopPrograms()
		return nil, err
	}
	var metrics httpapi.Metrics
	if m := metricsOf(c); m != nil {
		metrics = m
	}
	s.api, err = httpapi.New(httpapi.Config{
		Core:        coreAPI{c},
		Node:        nodeAPI{s},
		Logs:        logs,
		Client:      s.client,
		Logger:      logger,
		IPCStream:   s.ipc.ServeStream,
		EnableDebug: cfg.EnableDebug,
		ACL:         httpapi.ACL{Enabled: cfg.ACLEnabled, AgentToken: cfg.AgentToken, NodeCerts: tlsc != nil},
		Programs:    s.programs.Handler(),
		NodeAuth:    tlsc != nil,
		Keyring:     keyringOf(c),
		Metrics:     metrics,
		Events:      c.eventBuffer(),
	})
	if err != nil {
		cancel()
		logs.Close()
		_ = k.Shutdown(context.Background())
		s.stopPrograms()
		return nil, err
	}
	return s, nil
}

// handler returns the agent's HTTP handler: the web console under
// ui.Prefix (its files are public; the API calls it makes carry the
// caller's token), a browser's GET / redirected there, and the HTTP API.
func (s *serving) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ui.Prefix, s.ui)
	mux.Handle(strings.TrimSuffix(ui.Prefix, "/"), s.ui)
	mux.Handle("/", ui.Redirect(s.api.Handler()))
	return mux
}

// start starts the runner's goroutines and the lease renewals.
func (s *serving) start() {
	s.runner.Start()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.lease.Run()
	}()
}

// stop ends long polls and log streams, stops the runner, kills the local
// processes (the kernel's Shutdown, bounded by ctx: a process that never
// makes a system call is reported in a *node.ShutdownError) and closes the
// logs. It is safe to call more than once.
func (s *serving) stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.cancel()
		s.api.Drain()
		s.ipc.Close()
		s.wg.Wait()
		s.runner.Stop()
		err := s.kernel.Shutdown(ctx)
		s.stopPrograms()
		s.logs.Close()
		s.client.Close()
		s.stopErr = err
	})
	return s.stopErr
}

// load returns the local load that gossip shares: busy CPU slots, the run
// queue and the number of live processes.
func (s *serving) load() api.Load {
	_, busy, queued := s.kernel.Scheduler().Stats()
	return api.Load{BusySlots: busy, RunQueue: queued, Procs: s.kernel.Count()}
}
