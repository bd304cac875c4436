package cluster

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/events"
	"github.com/vproc/vproc/cluster/internal/logbridge"
	"github.com/vproc/vproc/cluster/leader"
	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/mtls"
	"github.com/vproc/vproc/cluster/raftnet"
	"github.com/vproc/vproc/cluster/replica"
	"github.com/vproc/vproc/cluster/runner"
	"github.com/vproc/vproc/cluster/telemetry"

	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// Agent is one node of a vproc cluster: a raft server holding the
// replicated process table, a gossip member, a local kernel running the
// processes placed on it, and the HTTP API. Create it with New and stop it
// with Shutdown.
type Agent struct {
	// The fields up to meta are set by New before any goroutine starts
	// and never change afterwards.
	cfg    Config
	logger *slog.Logger

	replica *replica.Replica
	fsm     *fsm.FSM   // replica.FSM()
	raft    *raft.Raft // replica.Raft()
	tls     *mtls.TLS  // nil: TLS off (security.go)
	stream  *raftnet.StreamLayer
	trans   *raftnet.Transport
	gossip  *membership.Gossip
	members *membership.Manager
	lead    *leader.Leader
	serving *serving
	metrics *telemetry.Metrics // GET /v1/metrics (metrics.go)
	events  *events.Buffer     // the recent events of GET /v1/events

	httpLn  net.Listener
	httpSrv *http.Server

	// Advertised addresses, fixed by New.
	httpAddr, raftAddr, gossipAddr string

	// ctx is cancelled when the agent stops; shutdownCh is its Done
	// channel, which every loop selects on.
	ctx        context.Context
	cancel     context.CancelFunc
	shutdownCh <-chan struct{}
	wg         sync.WaitGroup // every goroutine of the agent but the replica's

	shutdownOnce sync.Once
	shutdownErr  error

	failOnce sync.Once
	failed   chan struct{} // closed by fatal
	failErr  error         // set by fatal before failed is closed
}

// New starts an agent: it validates cfg, opens the raft stores, starts the
// raft transport, memberlist, the state machine and raft, the serving half
// (local kernel, runner, process logs, HTTP API), joins the seeds and
// starts the leadership watch. With Dev, or a bootstrap-expect of 1, the
// node bootstraps alone.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkBind(); err != nil {
		return nil, err
	}
	cfg.Join = append([]string(nil), cfg.Join...)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg:        cfg,
		logger:     logger,
		ctx:        ctx,
		cancel:     cancel,
		shutdownCh: ctx.Done(),
		failed:     make(chan struct{}),
	}
	started := false
	defer func() {
		if !started {
			_ = a.teardown(context.Background(), false)
		}
	}()
	if err := a.open(); err != nil {
		return nil, err
	}
	a.replica.Start()
	a.goFunc(func() { a.lead.Watch(a.raft.LeaderCh()) })
	a.goFunc(a.members.RunGossip)
	if len(cfg.Join) > 0 {
		a.goFunc(a.members.RunRejoin)
	}
	if cfg.BootstrapExpect > 0 && !cfg.Dev && a.raft.LastIndex() == 0 {
		a.goFunc(a.members.RunBootstrap)
	}
	a.httpSrv = newHTTPServer(&cfg, a.serving.handler(), logbridge.HCLog(logger, "http").StandardLogger(nil))
	ln := newConnLimiter(a.httpLn, cfg.HTTPMaxConnsPerClient, a.memberIP, logger)
	a.goFunc(func() {
		if err := a.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("http server stopped", "error", err)
		}
	})
	a.serving.start()
	if len(cfg.Join) > 0 {
		if n, err := a.gossip.Join(cfg.Join); err != nil {
			a.logger.Warn("joining seeds failed; retrying", "seeds", cfg.Join, "error", err,
				"every", min(membership.AloneRejoinInterval, cfg.RejoinInterval))
		} else {
			a.logger.Info("joined", "seeds_contacted", n)
		}
	}
	started = true
	a.warnSecurity(a.tls != nil, a.gossip.Encrypted())
	a.logger.Info("agent started", "http", a.httpAddr, "raft", a.raftAddr, "gossip", a.gossipAddr,
		"dev", cfg.Dev, "bootstrap_expect", cfg.BootstrapExpect, "tls", a.tls != nil, "gossip_encrypted", a.gossip.Encrypted())
	return a, nil
}

// open creates everything New starts, in order. On an error, teardown
// closes what was opened.
func (a *Agent) open() error {
	cfg := &a.cfg
	hl := logbridge.HCLog(a.logger, "")
	var err error
	if a.tls, err = cfg.loadTLS(); err != nil {
		return err
	}
	raftLn, err := net.Listen("tcp", cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("raft listener: %w", err)
	}
	a.raftAddr = advertiseAddr(raftLn.Addr(), cfg.AdvertiseHost)
	adv, err := net.ResolveTCPAddr("tcp", a.raftAddr)
	if err != nil {
		_ = raftLn.Close()
		return fmt.Errorf("raft advertise address: %w", err)
	}
	if a.tls != nil {
		a.stream, err = raftnet.NewTLSStreamLayer(raftLn, adv, raftnet.TLS{Config: a.tls, NodeAt: a.nodeAtRaftAddr})
		if err != nil {
			_ = raftLn.Close()
			return err
		}
	} else {
		a.stream = raftnet.NewStreamLayer(raftLn, adv)
	}
	a.trans = raftnet.NewTransport(&raft.NetworkTransportConfig{
		Stream:  a.stream,
		MaxPool: transportPool,
		Timeout: transportTimeout,
		Logger:  hl.Named("raft-net"),
	})

	a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	a.httpAddr = advertiseAddr(a.httpLn.Addr(), cfg.AdvertiseHost)
	if a.tls != nil {
		a.httpLn = tls.NewListener(a.httpLn, a.tls.Server())
		a.httpAddr = "https://" + a.httpAddr
	}

	if err := a.newMetrics(); err != nil {
		return err
	}
	gate := &versionGate{a: a, self: cfg.claimedVersions()}
	if a.events, err = events.New(events.Config{Size: cfg.EventBuffer}, 0); err != nil {
		return err
	}
	a.replica, err = replica.New(cfg.replicaConfig(a.raftAddr), a.trans, replica.Env{
		Logger:     a.logger,
		Stop:       a.shutdownCh,
		Leadership: leadership{a},
		Placer:     spawnPlacer{a},
		Fatal:      a.fatal,
		Writable:   gate.writable,
		Applied:    a.metrics.Applied,
		Changes:    a.events.Publish,
		Restored:   a.events.Reset,
	})
	if err != nil {
		return err
	}
	a.fsm, a.raft = a.replica.FSM(), a.replica.Raft()

	meta := cfg.meta(a.raftAddr, a.httpAddr)
	meta.InCluster = a.replica.HasState() || cfg.Dev
	meta.Versions, meta.VersionsOK = gate.self, true
	gcfg, err := cfg.gossipConfig()
	if err != nil {
		return err
	}
	var fromFile bool
	if gcfg.Keys, gcfg.KeyringPath, fromFile, err = cfg.gossipKeys(); err != nil {
		return err
	}
	if fromFile && cfg.EncryptKey != "" {
		a.logger.Warn("the keyring file in the data directory takes precedence over the gossip key given", "file", gcfg.KeyringPath)
	}
	if a.gossip, err = membership.Start(gcfg, meta, a.logger); err != nil {
		return err
	}
	a.gossipAddr = a.gossip.Addr()
	load := func() api.Load { return a.serving.load() }
	sc := cfg.serversConfig()
	if a.tls != nil {
		sc.Prove = proveTLS(a.tls)
	}
	if a.members, err = membership.NewManager(sc, a.gossip, meta, a.raft, a.replica, load, a.shutdownCh, a.logger); err != nil {
		return err
	}
	if a.lead, err = leader.New(a.ctx, cfg.leaderConfig(), a.replica, a.gossip, a.logger, a.members.Reconcile); err != nil {
		return err
	}
	a.lead.SetObserver(a.metrics)

	gcAfter := a.raft.LastIndex()
	if a.serving, err = newServing(a, *cfg, a.logger, func(rc *runner.Config) { rc.GCAfter = gcAfter }); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// advertiseAddr is the address peers use for a listener: the advertise
// host if set, else the bound host, else (bound to every interface) the
// machine's private IP.
func advertiseAddr(bound net.Addr, host string) string {
	tcp, ok := bound.(*net.TCPAddr)
	if !ok {
		return bound.String()
	}
	if host == "" {
		if tcp.IP.IsUnspecified() {
			host = privateIP()
		} else {
			host = tcp.IP.String()
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

func privateIP() string {
	if ip, err := sockaddr.GetPrivateIP(); err == nil && ip != "" {
		return ip
	}
	return "127.0.0.1"
}

// goFunc runs fn on a goroutine tracked by the agent's WaitGroup.
func (a *Agent) goFunc(fn func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fn()
	}()
}

// Shutdown leaves the cluster gracefully and stops the agent: a leader
// transfers leadership first; the node leaves gossip and waits to be
// removed from raft (the leader removes it on the leave event); then it
// stops serving (the HTTP API, the runner and the local processes), and
// stops raft, gossip and every goroutine. ctx bounds the graceful part;
// once it ends, the rest is cut short. Shutdown may be called more than
// once; later calls return the first result.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() {
		// Local processes die before the node announces its departure, so
		// that the leader, which then declares them lost and may run them
		// elsewhere, never has two runners of one PID.
		if a.serving != nil {
			if err := a.serving.stop(ctx); err != nil {
				a.logger.Warn("stopping local processes", "error", err)
			}
		}
		a.members.Leave(ctx)
		a.shutdownErr = a.teardown(ctx, true)
	})
	return a.shutdownErr
}

// crash stops the agent abruptly, as a killed process would: raft,
// transport and gossip stop without leaving, then the rest. Tests use it.
func (a *Agent) crash() {
	a.shutdownOnce.Do(func() {
		a.shutdownErr = a.teardown(context.Background(), false)
	})
}

// teardown stops whatever open created. graceful stops serving first, so
// that the runner can still report through raft; otherwise raft and gossip
// go first.
func (a *Agent) teardown(ctx context.Context, graceful bool) error {
	var errs []error
	stopServing := func() {
		if a.httpSrv != nil {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := a.httpSrv.Shutdown(sctx); err != nil {
				_ = a.httpSrv.Close()
			}
			cancel()
		} else if a.httpLn != nil {
			_ = a.httpLn.Close()
		}
		if a.serving != nil {
			if err := a.serving.stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stopping the runner: %w", err))
			}
		}
	}
	stopRaft := func() {
		a.cancel()
		if a.replica != nil {
			// raft answers no future any more
			if err := a.replica.ShutdownRaft(); err != nil {
				errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
			}
		}
		if a.trans != nil {
			_ = a.trans.Close()
			a.trans.CloseStreams()
		}
		if a.stream != nil {
			_ = a.stream.Close()
		}
		if a.gossip != nil {
			if err := a.gossip.Shutdown(); err != nil {
				errs = append(errs, fmt.Errorf("gossip shutdown: %w", err))
			}
		}
	}
	if graceful {
		stopServing()
		stopRaft()
	} else {
		stopRaft()
		stopServing()
	}
	a.wg.Wait()
	if a.replica != nil {
		if err := a.replica.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the raft log: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.logger.Info("agent stopped")
	return nil
}

// Name returns the node's name: its raft server ID and table node ID.
func (a *Agent) Name() string { return a.cfg.Name }

// HTTPAddr returns the host:port of the HTTP API as advertised to peers
// and clients; with TLS on, the base URL "https://host:port".
func (a *Agent) HTTPAddr() string { return a.httpAddr }

// RaftAddr returns the advertised host:port of the raft transport.
func (a *Agent) RaftAddr() string { return a.raftAddr }

// GossipAddr returns the advertised host:port of memberlist, the address
// other agents pass in Join.
func (a *Agent) GossipAddr() string { return a.gossipAddr }

// name implements core.name.
func (a *Agent) name() string { return a.cfg.Name }

func (a *Agent) eventBuffer() *events.Buffer { return a.events }

// isLeader implements core.isLeader.
func (a *Agent) isLeader() bool { return a.replica.IsLeader() }

// leaderName returns the name of the leader raft knows, or "".
func (a *Agent) leaderName() string {
	_, id := a.raft.LeaderWithID()
	return string(id)
}

// leader implements core.leader: the leader raft knows, with its HTTP
// address from gossip (or the table).
func (a *Agent) leader() (name, httpAddr string, ok bool) {
	name = a.leaderName()
	if name == "" {
		return "", "", false
	}
	if name == a.cfg.Name {
		return name, a.httpAddr, true
	}
	if m, ok := a.gossip.Member(name); ok && m.MetaOK && m.Meta.HTTPAddr != "" {
		return name, m.Meta.HTTPAddr, true
	}
	if n, ok := a.fsm.View().Node(name); ok {
		return name, n.HTTPAddr, true
	}
	return name, "", true
}

// nodeHTTPAddr implements core.nodeHTTPAddr: the table first, by ID or
// name, then gossip.
func (a *Agent) nodeHTTPAddr(name string) (string, bool) {
	if name == a.cfg.Name {
		return a.httpAddr, true
	}
	v := a.fsm.View()
	if n, ok := v.Node(name); ok && n.HTTPAddr != "" {
		return n.HTTPAddr, true
	}
	for _, n := range v.Nodes() {
		if n.Name == name && n.HTTPAddr != "" {
			return n.HTTPAddr, true
		}
	}
	if m, ok := a.gossip.Member(name); ok && m.MetaOK && m.Meta.HTTPAddr != "" {
		return m.Meta.HTTPAddr, true
	}
	return "", false
}

// nodes implements core.nodes: the table's nodes (from view, or the local
// table if nil) joined with their gossiped load, raft suffrage and the
// leader flag, followed by gossip members the table does not hold yet.
func (a *Agent) nodes(view *fsm.View) []api.Node {
	if view == nil {
		view = a.fsm.View()
	}
	voters := make(map[string]bool)
	if f := a.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			voters[string(s.ID)] = s.Suffrage == raft.Voter
		}
	}
	leader := a.leaderName()
	now := time.Now()
	var out []api.Node
	seen := make(map[string]bool)
	for _, n := range view.Nodes() {
		seen[n.ID] = true
		an := api.Node{
			ID:       n.ID,
			Name:     n.Name,
			Status:   string(n.Status),
			HTTPAddr: n.HTTPAddr,
			RaftAddr: n.RaftAddr,
			Slots:    int(n.Capacity.Slots),
			Memory:   n.Capacity.Memory,
			Labels:   labelMap(n.Labels),
			Voter:    voters[n.ID],
			Leader:   n.ID == leader,
		}
		if held, leading := a.lead.LeaseHeld(n.ID, now); leading {
			an.Lease = leaseState(held)
		}
		an.Load, _ = a.gossip.Load(n.ID)
		u := view.NodeUsage(n.ID)
		an.Assigned, an.AssignedMemory = u.Procs, u.Memory
		an.Capacity = an.Slots * a.cfg.Scheduler.ProcsPerSlot
		out = append(out, an)
	}
	for _, m := range a.gossip.Members() {
		if seen[m.Name] || !m.MetaOK {
			continue
		}
		an := api.Node{
			ID:       m.Name,
			Name:     m.Name,
			Status:   string(m.State.NodeStatus()),
			HTTPAddr: m.Meta.HTTPAddr,
			RaftAddr: m.Meta.RaftAddr,
			Slots:    int(m.Meta.Slots),
			Memory:   m.Meta.Memory,
			Labels:   labelMap(m.Meta.Labels),
			Voter:    voters[m.Name],
			Leader:   m.Name == leader,
		}
		an.Load, _ = a.gossip.Load(m.Name)
		out = append(out, an)
	}
	return out
}

// leaseState names a lease for api.Node.Lease.
func leaseState(held bool) string {
	if held {
		return "held"
	}
	return "expired"
}

func labelMap(labels []fsm.Label) map[string]string {
	if len(labels) == 0 {
		return nil
	}
	m := make(map[string]string, len(labels))
	for _, l := range labels {
		m[l.Key] = l.Value
	}
	return m
}

// peers implements core.peers: raft's latest configuration.
func (a *Agent) peers() ([]api.Peer, error) {
	f := a.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	leader := a.leaderName()
	var out []api.Peer
	for _, s := range f.Configuration().Servers {
		suffrage := "voter"
		if s.Suffrage != raft.Voter {
			suffrage = "nonvoter"
		}
		out = append(out, api.Peer{
			ID:       string(s.ID),
			Address:  string(s.Address),
			Suffrage: suffrage,
			Leader:   string(s.ID) == leader,
		})
	}
	return out, nil
}

// stateInfo implements core.stateInfo: the table's own applied index and
// the state hash, from one view.
func (a *Agent) stateInfo() api.StateInfo {
	v := a.fsm.View()
	h := v.Hash()
	return api.StateInfo{Node: a.cfg.Name, AppliedIndex: v.Index(), Hash: hex.EncodeToString(h[:])}
}

var _ core = (*Agent)(nil)

const (
	// transportTimeout bounds raft's network I/O (InstallSnapshot scales
	// it with the snapshot's size).
	transportTimeout = 10 * time.Second
	transportPool    = 3
)
