package membership

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/raft"

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

// bootstrapLoop bootstraps raft with the first BootstrapExpect servers. It
// exits once this server belongs to a cluster.
func (mg *Manager) bootstrapLoop() {
	t := time.NewTicker(mg.cfg.ProbeInterval)
	defer t.Stop()
	warned := make(map[string]bool)
	for {
		if mg.tryBootstrap(warned) {
			return
		}
		select {
		case <-mg.stop:
			return
		case <-mg.gossip.BootstrapSig():
		case <-t.C:
		}
	}
}

// tryBootstrap bootstraps if the servers are there. It reports true once
// this server belongs to a cluster.
func (mg *Manager) tryBootstrap(warned map[string]bool) bool {
	if mg.raft.LastIndex() > 0 {
		return true
	}
	expect := mg.cfg.BootstrapExpect
	var servers []Member
	for _, m := range mg.gossip.Members() {
		if m.State != Alive || !m.MetaOK {
			continue
		}
		if m.Meta.InCluster {
			return false // a cluster exists: its leader adds this server
		}
		if m.Meta.Expect == 0 {
			continue
		}
		if !mg.proven(context.Background(), m.Name, m.Meta.RaftAddr) {
			continue
		}
		if m.Meta.Expect != expect {
			if !warned[m.Name] {
				warned[m.Name] = true
				mg.logger.Error("server announces another bootstrap-expect: not bootstrapping",
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
		self = self || m.Name == mg.cfg.Name
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(m.Name),
			Address:  raft.ServerAddress(m.Meta.RaftAddr),
		})
	}
	if !self {
		return false
	}
	if err := mg.raft.BootstrapCluster(conf).Error(); err != nil {
		if errors.Is(err, raft.ErrCantBootstrap) {
			return true
		}
		mg.logger.Error("bootstrap failed", "error", err)
		return false
	}
	names := make([]string, len(servers))
	for i, m := range servers {
		names[i] = m.Name
	}
	mg.logger.Info("bootstrapped the cluster", "servers", names)
	return true
}

// retryBackoff is how soon a reconcile pass that could not read raft's
// configuration runs again.
const retryBackoff = 50 * time.Millisecond

// reconcileLoop keeps raft and the table in line with gossip while this
// node leads.
func (mg *Manager) reconcileLoop(ctx context.Context) {
	// missingSince records when reconcile first found a raft server that
	// gossip does not know.
	missingSince := map[string]time.Time{}
	for {
		wait := mg.reconcile(ctx, missingSince)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-mg.gossip.ReconcileSig():
		case <-t.C:
		}
		t.Stop()
	}
}

// reconcile runs one pass and returns when the next is due at the latest.
func (mg *Manager) reconcile(ctx context.Context, missingSince map[string]time.Time) time.Duration {
	next := mg.cfg.ReconcileInterval
	f := mg.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return retryBackoff
	}
	servers := f.Configuration().Servers
	members := mg.gossip.Members()
	view := mg.table.LocalView()
	now := time.Now()

	// The table follows gossip.
	for _, m := range members {
		if !m.MetaOK || ctx.Err() != nil {
			continue
		}
		n, known := view.Node(m.Name)
		moved := !known || n.RaftAddr != m.Meta.RaftAddr || n.HTTPAddr != m.Meta.HTTPAddr
		if moved && !mg.proven(ctx, m.Name, m.Meta.RaftAddr) {
			continue
		}
		mg.reconcileNode(ctx, view, m)
	}

	byName := make(map[string]Member, len(members))
	for _, m := range members {
		byName[m.Name] = m
	}
	inRaft := make(map[string]raft.Server, len(servers))
	voters, healthy := 0, 0
	for _, s := range servers {
		inRaft[string(s.ID)] = s
		if s.Suffrage == raft.Voter {
			voters++
			if m, ok := byName[string(s.ID)]; ok && (m.State == Alive || m.State == Suspect) ||
				string(s.ID) == mg.cfg.Name {
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
		if m.State != Alive || !m.MetaOK || m.Meta.RaftAddr == "" || m.Name == mg.cfg.Name {
			continue
		}
		s, ok := inRaft[m.Name]
		addr := raft.ServerAddress(m.Meta.RaftAddr)
		if (!ok || s.Address != addr) && !mg.proven(ctx, m.Name, m.Meta.RaftAddr) {
			continue
		}
		switch {
		case !ok && voters < mg.cfg.MaxVoters, ok && s.Suffrage != raft.Voter && voters < mg.cfg.MaxVoters:
			if mg.changeConfig("add voter", m.Name, mg.raft.AddVoter(raft.ServerID(m.Name), addr, 0, 0)) {
				voters++
				healthy++
			}
		case !ok:
			mg.changeConfig("add non-voter", m.Name, mg.raft.AddNonvoter(raft.ServerID(m.Name), addr, 0, 0))
		case s.Address != addr && s.Suffrage == raft.Voter:
			mg.changeConfig("update voter address", m.Name, mg.raft.AddVoter(raft.ServerID(m.Name), addr, 0, 0))
		case s.Address != addr:
			mg.changeConfig("update non-voter address", m.Name, mg.raft.AddNonvoter(raft.ServerID(m.Name), addr, 0, 0))
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
		if id == mg.cfg.Name {
			continue
		}
		m, known := byName[id]
		if known {
			delete(missingSince, id)
		}
		var since time.Time
		switch {
		case known && m.State == Left:
			cands = append(cands, gone{id: id, left: true, voter: s.Suffrage == raft.Voter})
			continue
		case known && m.State == Failed:
			since = m.Since
		case !known:
			if _, ok := missingSince[id]; !ok {
				missingSince[id] = now
			}
			since = missingSince[id]
		default:
			continue
		}
		if due := since.Add(mg.cfg.DeadServerTimeout); now.Before(due) {
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
			mg.logger.Warn("dead server kept: removing it would leave no healthy quorum",
				"server", c.id, "voters", voters, "healthy", healthy)
			continue
		}
		why := "dead for " + mg.cfg.DeadServerTimeout.String()
		if c.left {
			why = "left"
		}
		if mg.changeConfig("remove server ("+why+")", c.id, mg.raft.RemoveServer(raft.ServerID(c.id), 0, 0)) {
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
func (mg *Manager) changeConfig(what, id string, f raft.IndexFuture) bool {
	mg.table.Unblock(f)
	if err := f.Error(); err != nil {
		mg.logger.Warn("raft configuration change failed", "change", what, "server", id, "error", err)
		return false
	}
	mg.logger.Info("raft configuration changed", "change", what, "server", id)
	return true
}

// reconcileNode makes the table's record of member m match gossip.
func (mg *Manager) reconcileNode(ctx context.Context, view *fsm.View, m Member) {
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
		if !ok && m.State == Suspect {
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
	res, err := mg.table.Submit(ctx, nil, cmd)
	switch {
	case err != nil:
		mg.logger.Debug("node reconcile failed", "member", m.Name, "error", err)
	case res.Err != nil:
		mg.logger.Warn("node reconcile refused", "member", m.Name, "error", res.Err)
	default:
		mg.logger.Info("node status", "member", m.Name, "status", status)
	}
}

// leave removes this server from the cluster gracefully: leadership
// transfer, gossip leave, removal from raft.
func (mg *Manager) leave(ctx context.Context) {
	self := raft.ServerID(mg.cfg.Name)
	others := func() (n int, member bool) {
		f := mg.raft.GetConfiguration()
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
	if n > 0 && mg.isLeader() {
		if err := mg.raft.LeadershipTransfer().Error(); err != nil {
			mg.logger.Warn("leadership transfer failed", "error", err)
		} else {
			mg.logger.Info("leadership transferred", "to", mg.leaderName())
		}
	}
	if n > 0 && mg.isLeader() {
		// No one took over: leave raft ourselves; the rest elect a leader.
		if err := mg.raft.RemoveServer(self, 0, 0).Error(); err != nil {
			mg.logger.Warn("removing self from raft failed", "error", err)
		}
	}
	leaveTimeout := max(4*mg.cfg.GossipInterval, time.Second)
	if d, ok := ctx.Deadline(); ok {
		leaveTimeout = max(min(leaveTimeout, time.Until(d)), time.Millisecond) // 0 would wait forever
	}
	mg.metaMu.Lock()
	mg.leaving.Store(true)
	mg.meta.Leaving = true
	if err := mg.gossip.SetMeta(mg.meta); err == nil {
		if err := mg.gossip.UpdateMeta(leaveTimeout); err != nil {
			mg.logger.Debug("announcing the departure", "error", err)
		}
	}
	mg.metaMu.Unlock()
	if err := mg.gossip.Leave(leaveTimeout); err != nil {
		mg.logger.Warn("gossip leave", "error", err)
	}
	if n == 0 {
		return
	}
	// The leader removes us on the leave event; wait to see it.
	deadline := time.Now().Add(max(5*time.Second, 2*mg.cfg.ReconcileInterval))
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		if _, member := others(); !member {
			mg.logger.Info("left the cluster")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	mg.logger.Warn("leaving: still in the raft configuration")
}

// rejoinLoop rejoins the seeds every RejoinInterval: memberlist does not
// heal a partition by itself.
func (mg *Manager) rejoinLoop() {
	t := time.NewTimer(mg.rejoinAfter())
	defer t.Stop()
	for {
		select {
		case <-mg.stop:
			return
		case <-t.C:
		}
		if mg.leaving.Load() {
			return
		}
		if _, err := mg.gossip.Join(mg.cfg.Join); err != nil {
			mg.logger.Debug("rejoin", "error", err)
		}
		t.Reset(mg.rejoinAfter())
	}
}

// AloneRejoinInterval is how often a node that knows no other member yet
// (its seeds were not up when it started) tries its seeds again.
const AloneRejoinInterval = 500 * time.Millisecond

// rejoinAfter is the time to the next rejoin: AloneRejoinInterval while
// this node is alone in gossip, RejoinInterval once it has company.
func (mg *Manager) rejoinAfter() time.Duration {
	if mg.gossip.numAlive() <= 1 {
		return min(AloneRejoinInterval, mg.cfg.RejoinInterval)
	}
	return mg.cfg.RejoinInterval
}

// gossipLoop refreshes suspicion, gossips the load and announces once this
// server belongs to a cluster.
func (mg *Manager) gossipLoop() {
	refresh := time.NewTicker(mg.cfg.ProbeInterval)
	defer refresh.Stop()
	load := time.NewTicker(mg.cfg.LoadInterval)
	defer load.Stop()
	mg.gossip.PublishLoad(mg.load())
	for {
		select {
		case <-mg.stop:
			return
		case <-refresh.C:
			mg.gossip.Refresh()
			mg.metaMu.Lock()
			if !mg.meta.InCluster && mg.raft.LastIndex() > 0 && !mg.leaving.Load() {
				mg.meta.InCluster = true
				if err := mg.gossip.SetMeta(mg.meta); err == nil {
					// The update is queued at once; waiting for it to go out
					// only delays the loop.
					if err := mg.gossip.UpdateMeta(2 * mg.cfg.GossipInterval); err != nil {
						mg.logger.Debug("gossip metadata update", "error", err)
					}
				}
			}
			mg.metaMu.Unlock()
		case <-load.C:
			mg.gossip.PublishLoad(mg.load())
		}
	}
}

// holdsNames reports whether the registry shows node holding a FIFO, queue
// or segment it has not lost: a node that left must have them marked lost.
func holdsNames(v *fsm.View, nodeName string) bool {
	for _, o := range v.Objects("") {
		if o.Node == nodeName && !o.Lost {
			return true
		}
	}
	return false
}
