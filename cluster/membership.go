package cluster

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/fsm"
)

// Membership follows Consul's and Nomad's servers:
//
//   - Bootstrap-expect. A server started with BootstrapExpect N and no raft
//     state watches gossip. Once it sees N alive servers announcing the same
//     N, none of which belongs to a cluster already, it bootstraps raft with
//     those N as voters. Every one of them does the same with the same
//     configuration, which raft allows. With more than N such servers, the
//     N with the smallest names bootstrap and the others wait to be added.
//     A server with raft state never bootstraps (raft.HasExistingState).
//   - Joining. A server started with Join gossips with the seeds. The leader
//     reconciles gossip with raft on gaining leadership, on every gossip
//     event and every ReconcileInterval: an alive server missing from raft
//     is added as a voter while there are fewer than MaxVoters, and as a
//     non-voter after that; a non-voter is promoted when a voter goes. The
//     table's node records follow gossip too (NodeUpsert, SetNodeStatus
//     alive, suspect, down, left).
//   - Dead servers. A server that gossip has declared failed (or that raft
//     lists but gossip does not know) for DeadServerTimeout is removed from
//     raft, one per reconcile, and only if the voters left are still a
//     quorum of the current configuration, all of them healthy (Nomad's
//     and autopilot's rule): removal never costs the cluster its quorum.
//   - Leaving. On Shutdown a leader first transfers leadership; a server
//     then leaves gossip, and the leader removes it from raft on the leave
//     event (a leader that could not transfer removes itself). The server
//     waits, within Shutdown's context, until its own configuration shows
//     it removed.

// meta returns the metadata the configuration gives, with the advertised
// addresses.
func (c *Config) meta(raftAddr, httpAddr string) membership.Meta {
	m := membership.Meta{
		RaftAddr: raftAddr,
		HTTPAddr: httpAddr,
		Slots:    int64(c.CPUs),
		Memory:   c.Memory,
		Expect:   c.BootstrapExpect,
		Labels:   sortedLabels(c.Labels),
	}
	if m.Slots == 0 {
		m.Slots = int64(runtime.GOMAXPROCS(0))
	}
	return m
}

func sortedLabels(labels map[string]string) []fsm.Label {
	if len(labels) == 0 {
		return nil
	}
	out := make([]fsm.Label, 0, len(labels))
	for k, v := range labels {
		out = append(out, fsm.Label{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// gossipConfig returns the configuration of the node's gossip.
func (c *Config) gossipConfig() (membership.Config, error) {
	host, port, err := splitListenAddr(c.GossipAddr)
	if err != nil {
		return membership.Config{}, err
	}
	return membership.Config{
		Name:             c.Name,
		BindHost:         host,
		BindPort:         port,
		AdvertiseHost:    c.AdvertiseHost,
		GossipInterval:   c.GossipInterval,
		ProbeInterval:    c.ProbeInterval,
		ProbeTimeout:     c.ProbeTimeout,
		SuspicionMult:    c.SuspicionMult,
		PushPullInterval: c.PushPullInterval,
	}, nil
}

// bootstrapLoop bootstraps raft with the first BootstrapExpect servers. It
// exits once this server belongs to a cluster.
func (a *Agent) bootstrapLoop() {
	t := time.NewTicker(a.cfg.ProbeInterval)
	defer t.Stop()
	warned := make(map[string]bool)
	for {
		if a.tryBootstrap(warned) {
			return
		}
		select {
		case <-a.shutdownCh:
			return
		case <-a.gossip.BootstrapSig():
		case <-t.C:
		}
	}
}

// tryBootstrap bootstraps if the servers are there. It reports true once
// this server belongs to a cluster.
func (a *Agent) tryBootstrap(warned map[string]bool) bool {
	if a.raft.LastIndex() > 0 {
		return true
	}
	expect := a.cfg.BootstrapExpect
	var servers []membership.Member
	for _, m := range a.gossip.Members() {
		if m.State != membership.Alive || !m.MetaOK {
			continue
		}
		if m.Meta.InCluster {
			return false // a cluster exists: its leader adds this server
		}
		if m.Meta.Expect == 0 {
			continue
		}
		if m.Meta.Expect != expect {
			if !warned[m.Name] {
				warned[m.Name] = true
				a.logger.Error("server announces another bootstrap-expect: not bootstrapping",
					"member", m.Name, "its_expect", m.Meta.Expect, "ours", expect)
			}
			return false
		}
		servers = append(servers, m)
	}
	if len(servers) < expect {
		return false
	}
	servers = servers[:expect] // memberList is sorted by name
	conf := raft.Configuration{}
	self := false
	for _, m := range servers {
		self = self || m.Name == a.cfg.Name
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(m.Name),
			Address:  raft.ServerAddress(m.Meta.RaftAddr),
		})
	}
	if !self {
		return false
	}
	if err := a.raft.BootstrapCluster(conf).Error(); err != nil {
		if errors.Is(err, raft.ErrCantBootstrap) {
			return true
		}
		a.logger.Error("bootstrap failed", "error", err)
		return false
	}
	names := make([]string, len(servers))
	for i, m := range servers {
		names[i] = m.Name
	}
	a.logger.Info("bootstrapped the cluster", "servers", names)
	return true
}

// retryBackoff is how soon a reconcile pass that could not read raft's
// configuration runs again.
const retryBackoff = 50 * time.Millisecond

// reconcileLoop keeps raft and the table in line with gossip while this
// node leads.
func (a *Agent) reconcileLoop(ctx context.Context) {
	// missingSince records when reconcile first found a raft server that
	// gossip does not know.
	missingSince := map[string]time.Time{}
	for {
		wait := a.reconcile(ctx, missingSince)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-a.gossip.ReconcileSig():
		case <-t.C:
		}
		t.Stop()
	}
}

// reconcile runs one pass and returns when the next is due at the latest.
func (a *Agent) reconcile(ctx context.Context, missingSince map[string]time.Time) time.Duration {
	next := a.cfg.ReconcileInterval
	f := a.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return retryBackoff
	}
	servers := f.Configuration().Servers
	members := a.gossip.Members()
	view := a.fsm.View()
	now := time.Now()

	// The table follows gossip.
	for _, m := range members {
		if m.MetaOK && ctx.Err() == nil {
			a.reconcileNode(ctx, view, m)
		}
	}

	byName := make(map[string]membership.Member, len(members))
	for _, m := range members {
		byName[m.Name] = m
	}
	inRaft := make(map[string]raft.Server, len(servers))
	voters, healthy := 0, 0
	for _, s := range servers {
		inRaft[string(s.ID)] = s
		if s.Suffrage == raft.Voter {
			voters++
			if m, ok := byName[string(s.ID)]; ok && (m.State == membership.Alive || m.State == membership.Suspect) ||
				string(s.ID) == a.cfg.Name {
				healthy++
			}
		}
	}

	// Alive servers join raft; non-voters are promoted while voters are
	// missing.
	for _, m := range members {
		if ctx.Err() != nil {
			return next
		}
		if m.State != membership.Alive || !m.MetaOK || m.Meta.RaftAddr == "" || m.Name == a.cfg.Name {
			continue
		}
		s, ok := inRaft[m.Name]
		addr := raft.ServerAddress(m.Meta.RaftAddr)
		switch {
		case !ok && voters < a.cfg.MaxVoters, ok && s.Suffrage != raft.Voter && voters < a.cfg.MaxVoters:
			if a.changeConfig("add voter", m.Name, a.raft.AddVoter(raft.ServerID(m.Name), addr, 0, 0)) {
				voters++
				healthy++
			}
		case !ok:
			a.changeConfig("add non-voter", m.Name, a.raft.AddNonvoter(raft.ServerID(m.Name), addr, 0, 0))
		case s.Address != addr && s.Suffrage == raft.Voter:
			a.changeConfig("update voter address", m.Name, a.raft.AddVoter(raft.ServerID(m.Name), addr, 0, 0))
		case s.Address != addr:
			a.changeConfig("update non-voter address", m.Name, a.raft.AddNonvoter(raft.ServerID(m.Name), addr, 0, 0))
		}
	}

	// Departed and dead servers leave raft, one per pass.
	type gone struct {
		id    string
		left  bool
		since time.Time
		voter bool
	}
	var cands []gone
	for _, s := range servers {
		id := string(s.ID)
		if id == a.cfg.Name {
			continue
		}
		m, known := byName[id]
		if known {
			delete(missingSince, id)
		}
		var since time.Time
		switch {
		case known && m.State == membership.Left:
			cands = append(cands, gone{id: id, left: true, voter: s.Suffrage == raft.Voter})
			continue
		case known && m.State == membership.Failed:
			since = m.Since
		case !known:
			if _, ok := missingSince[id]; !ok {
				missingSince[id] = now
			}
			since = missingSince[id]
		default:
			continue
		}
		if due := since.Add(a.cfg.DeadServerTimeout); now.Before(due) {
			next = min(next, due.Sub(now))
			continue
		}
		cands = append(cands, gone{id: id, since: since, voter: s.Suffrage == raft.Voter})
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].left != cands[j].left {
			return cands[i].left
		}
		return cands[i].since.Before(cands[j].since)
	})
	for _, c := range cands {
		if c.voter && !c.left && !canRemoveVoter(voters, healthy) {
			a.logger.Warn("dead server kept: removing it would leave no healthy quorum",
				"server", c.id, "voters", voters, "healthy", healthy)
			continue
		}
		why := "dead for " + a.cfg.DeadServerTimeout.String()
		if c.left {
			why = "left"
		}
		if a.changeConfig("remove server ("+why+")", c.id, a.raft.RemoveServer(raft.ServerID(c.id), 0, 0)) {
			delete(missingSince, c.id)
			return 0 // promote a non-voter at once if one is waiting
		}
		break
	}
	return next
}

// canRemoveVoter reports whether a failed voter may be removed from a
// configuration of voters voters, healthy of which are alive: the voters
// left must still be a quorum of the current configuration, and the
// healthy ones must be able to commit the change.
func canRemoveVoter(voters, healthy int) bool {
	quorum := voters/2 + 1
	return voters-1 >= quorum && healthy >= quorum
}

// changeConfig waits for a configuration change and logs its outcome.
func (a *Agent) changeConfig(what, id string, f raft.IndexFuture) bool {
	a.replica.Unblock(f)
	if err := f.Error(); err != nil {
		a.logger.Warn("raft configuration change failed", "change", what, "server", id, "error", err)
		return false
	}
	a.logger.Info("raft configuration changed", "change", what, "server", id)
	return true
}

// reconcileNode makes the table's record of member m match gossip.
func (a *Agent) reconcileNode(ctx context.Context, view *fsm.View, m membership.Member) {
	status := m.State.NodeStatus()
	n, ok := view.Node(m.Name)
	if !ok && status != fsm.NodeAlive && status != fsm.NodeSuspect {
		return
	}
	now := time.Now().UnixNano()
	var cmd fsm.Command
	switch {
	case !ok || n.RaftAddr != m.Meta.RaftAddr || n.HTTPAddr != m.Meta.HTTPAddr ||
		n.Capacity.Slots != m.Meta.Slots || n.Capacity.Memory != m.Meta.Memory ||
		!slices.Equal(n.Labels, m.Meta.Labels):
		if !ok && m.State == membership.Suspect {
			status = fsm.NodeAlive // a new node is suspect only once known
		}
		cmd = &fsm.NodeUpsert{
			ID:       m.Name,
			Name:     m.Name,
			RaftAddr: m.Meta.RaftAddr,
			HTTPAddr: m.Meta.HTTPAddr,
			Capacity: fsm.Capacity{Slots: m.Meta.Slots, Memory: m.Meta.Memory},
			Labels:   m.Meta.Labels,
			Status:   status,
			Now:      now,
		}
	case n.Status != status:
		cmd = &fsm.SetNodeStatus{ID: m.Name, Status: status, Now: now}
	case status == fsm.NodeLeft && (len(view.List(fsm.Filter{Node: m.Name, OnNodeOnly: true})) > 0 || holdsNames(view, m.Name)):
		// A node that left gracefully killed its processes before it
		// announced the departure (Agent.Shutdown): what the table still
		// shows on it is lost, and is requeued as its restart policy says.
		cmd = &fsm.NodeLost{Node: m.Name, Reason: "its node left the cluster", Now: now}
	default:
		return
	}
	res, err := a.submit(ctx, nil, cmd)
	switch {
	case err != nil:
		a.logger.Debug("node reconcile failed", "member", m.Name, "error", err)
	case res.Err != nil:
		a.logger.Warn("node reconcile refused", "member", m.Name, "error", res.Err)
	default:
		a.logger.Info("node status", "member", m.Name, "status", status)
	}
}

// leave removes this server from the cluster gracefully: leadership
// transfer, gossip leave, removal from raft.
func (a *Agent) leave(ctx context.Context) {
	self := raft.ServerID(a.cfg.Name)
	others := func() (n int, member bool) {
		f := a.raft.GetConfiguration()
		if f.Error() != nil {
			return 0, false
		}
		for _, s := range f.Configuration().Servers {
			if s.ID == self {
				member = true
			} else {
				n++
			}
		}
		return n, member
	}
	n, _ := others()
	if n > 0 && a.isLeader() {
		if err := a.raft.LeadershipTransfer().Error(); err != nil {
			a.logger.Warn("leadership transfer failed", "error", err)
		} else {
			a.logger.Info("leadership transferred", "to", a.leaderName())
		}
	}
	if n > 0 && a.isLeader() {
		// No one took over: leave raft ourselves; the rest elect a leader.
		if err := a.raft.RemoveServer(self, 0, 0).Error(); err != nil {
			a.logger.Warn("removing self from raft failed", "error", err)
		}
	}
	leaveTimeout := max(4*a.cfg.GossipInterval, time.Second)
	if d, ok := ctx.Deadline(); ok {
		leaveTimeout = max(min(leaveTimeout, time.Until(d)), time.Millisecond) // 0 would wait forever
	}
	a.metaMu.Lock()
	a.leaving.Store(true)
	a.meta.Leaving = true
	if err := a.gossip.SetMeta(a.meta); err == nil {
		if err := a.gossip.UpdateMeta(leaveTimeout); err != nil {
			a.logger.Debug("announcing the departure", "error", err)
		}
	}
	a.metaMu.Unlock()
	if err := a.gossip.Leave(leaveTimeout); err != nil {
		a.logger.Warn("gossip leave", "error", err)
	}
	if n == 0 {
		return
	}
	// The leader removes us on the leave event; wait to see it.
	deadline := time.Now().Add(max(5*time.Second, 2*a.cfg.ReconcileInterval))
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		if _, member := others(); !member {
			a.logger.Info("left the cluster")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	a.logger.Warn("leaving: still in the raft configuration")
}

// rejoinLoop rejoins the seeds every RejoinInterval: memberlist does not
// heal a partition by itself.
func (a *Agent) rejoinLoop() {
	t := time.NewTicker(a.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-a.shutdownCh:
			return
		case <-t.C:
		}
		if a.leaving.Load() {
			return
		}
		if _, err := a.gossip.Join(a.cfg.Join); err != nil {
			a.logger.Debug("rejoin", "error", err)
		}
	}
}

// gossipLoop refreshes suspicion, gossips the load and announces once this
// server belongs to a cluster.
func (a *Agent) gossipLoop() {
	refresh := time.NewTicker(a.cfg.ProbeInterval)
	defer refresh.Stop()
	load := time.NewTicker(a.cfg.LoadInterval)
	defer load.Stop()
	a.gossip.PublishLoad(a.serving.load())
	for {
		select {
		case <-a.shutdownCh:
			return
		case <-refresh.C:
			a.gossip.Refresh()
			a.metaMu.Lock()
			if !a.meta.InCluster && a.raft.LastIndex() > 0 && !a.leaving.Load() {
				a.meta.InCluster = true
				if err := a.gossip.SetMeta(a.meta); err == nil {
					// The update is queued at once; waiting for it to go out
					// only delays the loop.
					if err := a.gossip.UpdateMeta(2 * a.cfg.GossipInterval); err != nil {
						a.logger.Debug("gossip metadata update", "error", err)
					}
				}
			}
			a.metaMu.Unlock()
		case <-load.C:
			a.gossip.PublishLoad(a.serving.load())
		}
	}
}
