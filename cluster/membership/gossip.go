package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/internal/logbridge"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
)

// Gossip: memberlist finds the servers and carries two things besides
// liveness. A node's metadata (at most memberlist.MetaMaxSize bytes, sent
// with every alive message) holds what rarely changes: its raft and HTTP
// addresses, capacity, labels and bootstrap-expect. Its load changes all
// the time, so it travels separately: every LoadInterval a node queues a
// load message, which memberlist piggybacks on its gossip and which
// replaces the node's older one still in the queue; push-pull exchanges
// carry every load known, so that a joining node learns them at once. Each
// node keeps the latest load (the highest sequence number) per node.
//
// The callbacks below copy what they are given, take one short lock and
// never block; whoever must act on a change (bootstrap, the leader's
// reconcile) is signalled through a channel of capacity 1.

// Meta is a node's gossip metadata.
type Meta struct {
	RaftAddr string
	HTTPAddr string
	Slots    int64
	Memory   int64
	Labels   []fsm.Label // sorted by key
	// Expect is the node's bootstrap-expect.
	Expect int
	// InCluster is set once the node has raft state: it belongs to a
	// cluster already, and no server bootstraps a new one with it.
	InCluster bool
	// Leaving is set just before the node leaves gossip on purpose.
	// memberlist tells a leave from a failure only internally, so a
	// departure announced this way is what makes the others see "left".
	Leaving bool
	// Versions are the command types and body versions the node can
	// apply (fsm.Versions). The leader writes a type or version only once
	// every voter reports it (Writable). A node that reports none is
	// taken to know fsm.Baseline(); VersionsOK says it reported some.
	Versions   fsm.Versions
	VersionsOK bool
}

// versionsLabel carries Meta.Versions as the last label, so that a node of
// an earlier release, whose decoder knows only this layout, still decodes
// the metadata (and sees one label more). Decoding takes it out of Labels.
const versionsLabel = "vproc.versions"

const (
	metaVersion   = 1
	metaInCluster = 1 << 0
	metaLeaving   = 1 << 1
)

// ErrMetaTooLarge is returned for metadata over memberlist.MetaMaxSize.
var ErrMetaTooLarge = fmt.Errorf("node metadata is larger than %d bytes (too many or too long labels?)", memberlist.MetaMaxSize)

// EncodeMeta encodes m compactly: a version byte, flags, uvarints and
// length-prefixed strings.
func EncodeMeta(m Meta) ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, metaVersion)
	var flags byte
	if m.InCluster {
		flags |= metaInCluster
	}
	if m.Leaving {
		flags |= metaLeaving
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(m.Expect))
	b = appendWireString(b, m.RaftAddr)
	b = appendWireString(b, m.HTTPAddr)
	b = binary.AppendUvarint(b, uint64(m.Slots))
	b = binary.AppendUvarint(b, uint64(m.Memory))
	labels := m.Labels
	if m.VersionsOK {
		labels = append(labels[:len(labels):len(labels)], fsm.Label{Key: versionsLabel, Value: m.Versions.String()})
	}
	b = binary.AppendUvarint(b, uint64(len(labels)))
	for _, l := range labels {
		b = appendWireString(b, l.Key)
		b = appendWireString(b, l.Value)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, ErrMetaTooLarge
	}
	return b, nil
}

// decodeMeta decodes what EncodeMeta encoded.
func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	d := wireDecoder{b: b}
	if v := d.byte(); v != metaVersion {
		return m, fmt.Errorf("node metadata version %d", v)
	}
	flags := d.byte()
	m.InCluster = flags&metaInCluster != 0
	m.Leaving = flags&metaLeaving != 0
	m.Expect = int(d.uint())
	m.RaftAddr = d.str()
	m.HTTPAddr = d.str()
	m.Slots = int64(d.uint())
	m.Memory = int64(d.uint())
	n := d.uint()
	if n > uint64(len(b)) {
		return m, errors.New("node metadata: bad label count")
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		l := fsm.Label{Key: d.str(), Value: d.str()}
		if l.Key == versionsLabel {
			v, err := fsm.ParseVersions(l.Value)
			if err != nil && d.err == nil {
				d.err = err
			}
			m.Versions, m.VersionsOK = v, err == nil
			continue
		}
		m.Labels = append(m.Labels, l)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return m, fmt.Errorf("node metadata: %w", d.err)
	}
	return m, nil
}

func appendWireString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// wireDecoder reads what the encoders of this file wrote. The first error
// sticks.
type wireDecoder struct {
	b   []byte
	err error
}

func (d *wireDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errors.New("short buffer")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *wireDecoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *wireDecoder) str() string {
	n := d.uint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errors.New("string past the end")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// MemberState is a member's gossip state.
type MemberState uint8

const (
	Alive MemberState = iota
	Suspect
	Failed
	Left
)

func (s MemberState) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Failed:
		return "failed"
	case Left:
		return "left"
	}
	return "unknown"
}

// NodeStatus maps a gossip state to the table's node status.
func (s MemberState) NodeStatus() fsm.NodeStatus {
	switch s {
	case Alive:
		return fsm.NodeAlive
	case Suspect:
		return fsm.NodeSuspect
	case Left:
		return fsm.NodeLeft
	}
	return fsm.NodeDown
}

// Member is what gossip knows of one node.
type Member struct {
	Name   string
	Addr   string // gossip address, host:port
	Meta   Meta
	MetaOK bool // Meta decoded
	State  MemberState
	// Since is when State last changed, on the local monotonic clock.
	Since time.Time
}

// loadEntry is the latest load known for a node.
type loadEntry struct {
	Seq  uint64
	Load api.Load
}

// Gossip message types (the first byte of a user message).
const (
	msgLoad byte = 1
)

// Gossip owns memberlist and what it has learnt.
type Gossip struct {
	name   string
	self   string // the advertised gossip address, set by Start
	logger *slog.Logger
	ml     *memberlist.Memberlist // set once by startGossip
	queue  *memberlist.TransmitLimitedQueue
	keys   keyring // set by Start

	meta atomic.Pointer[[]byte] // the local metadata, encoded

	mu      sync.Mutex // guards members, loads and loadSeq
	members map[string]*Member
	loads   map[string]loadEntry
	loadSeq uint64

	// bootstrapSig and reconcileSig are signalled (never blocking) on every
	// membership change.
	bootstrapSig chan struct{}
	reconcileSig chan struct{}
}

// Start validates cfg and creates the memberlist of a node. Its metadata
// starts as meta. Stop it with Shutdown.
func Start(cfg Config, meta Meta, logger *slog.Logger) (*Gossip, error) {
	g := &Gossip{
		name:         cfg.Name,
		logger:       logger,
		members:      make(map[string]*Member),
		loads:        make(map[string]loadEntry),
		loadSeq:      uint64(time.Now().UnixNano()), // a restarted node's loads win
		bootstrapSig: make(chan struct{}, 1),
		reconcileSig: make(chan struct{}, 1),
	}
	if err := g.SetMeta(meta); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	port := cfg.BindPort
	ip, err := resolveBindHost(cfg.BindHost)
	if err != nil {
		return nil, fmt.Errorf("gossip address: %w", err)
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	// memberlist's own metrics (go-metrics, package telemetry) carry the
	// node, so that the agents of one process keep theirs apart.
	mc.MetricLabels = []metrics.Label{{Name: "node", Value: cfg.Name}}
	mc.BindAddr = ip
	mc.BindPort = port
	mc.AdvertisePort = port
	if cfg.AdvertiseHost != "" {
		mc.AdvertiseAddr = cfg.AdvertiseHost
	}
	mc.GossipInterval = cfg.GossipInterval
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeTimeout
	mc.SuspicionMult = cfg.SuspicionMult
	mc.PushPullInterval = cfg.PushPullInterval
	mc.GossipToTheDeadTime = max(cfg.PushPullInterval, 10*cfg.ProbeInterval)
	mc.TCPTimeout = min(max(10*cfg.ProbeInterval, time.Second), 10*time.Second)
	// A server restarted with another address may take its name back once
	// it has been dead this long.
	mc.DeadNodeReclaimTime = 30 * time.Second
	if len(cfg.Keys) > 0 {
		ring, err := memberlist.NewKeyring(cfg.Keys[1:], cfg.Keys[0])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		g.keys = keyring{ring: ring, path: cfg.KeyringPath}
		if cfg.KeyringPath != "" {
			if err := saveKeyring(cfg.KeyringPath, cfg.Keys); err != nil {
				return nil, fmt.Errorf("gossip: saving the keyring: %w", err)
			}
		}
		mc.Keyring = ring
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	mc.Delegate = &delegate{g: g}
	mc.Events = &eventDelegate{g: g}
	mc.LogOutput = logbridge.StdlogWriter(logger.With("module", "memberlist"))
	g.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       g.numAlive, // memberlist may gossip before Create returns
		RetransmitMult: 3,
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	g.ml = ml
	n := ml.LocalNode()
	g.self = net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	return g, nil
}

// resolveBindHost returns the IP to bind for a listen host ("" is every
// interface).
func resolveBindHost(host string) (string, error) {
	if host == "" {
		return "0.0.0.0", nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return host, nil
	}
	addrs, err := net.LookupIP(host)
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if a.To4() != nil {
			return a.String(), nil
		}
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("no address for %q", host)
	}
	return addrs[0].String(), nil
}

// BootstrapSig is signalled, never blocking, on every membership change:
// bootstrap-expect waits on it.
func (g *Gossip) BootstrapSig() <-chan struct{} { return g.bootstrapSig }

// ReconcileSig is signalled, never blocking, on every membership change:
// the leader's reconcile waits on it.
func (g *Gossip) ReconcileSig() <-chan struct{} { return g.reconcileSig }

// Leave announces that this node leaves and waits up to timeout for the
// announcement to spread.
func (g *Gossip) Leave(timeout time.Duration) error { return g.ml.Leave(timeout) }

// Shutdown stops memberlist without leaving.
func (g *Gossip) Shutdown() error { return g.ml.Shutdown() }

// Addr returns the gossip address this node advertises.
func (g *Gossip) Addr() string { return g.self }

// SetMeta replaces the local metadata. Call UpdateMeta to gossip it.
func (g *Gossip) SetMeta(m Meta) error {
	b, err := EncodeMeta(m)
	if err != nil {
		return err
	}
	g.meta.Store(&b)
	return nil
}

// UpdateMeta gossips the local metadata after SetMeta. It blocks until the
// update has been broadcast or timeout.
func (g *Gossip) UpdateMeta(timeout time.Duration) error {
	return g.ml.UpdateNode(timeout)
}

// Join joins the seeds, leaving out this node's own address. It returns the
// number of seeds contacted.
func (g *Gossip) Join(seeds []string) (int, error) {
	self := g.Addr()
	var others []string
	for _, s := range seeds {
		if s != self && s != "" {
			others = append(others, s)
		}
	}
	if len(others) == 0 {
		return 0, nil
	}
	return g.ml.Join(others)
}

// signal wakes bootstrap and reconcile without blocking.
func (g *Gossip) signal() {
	ctxutil.Kick(g.bootstrapSig)
	ctxutil.Kick(g.reconcileSig)
}

// observe records a member's state from an event. meta is copied.
func (g *Gossip) observe(n *memberlist.Node, state MemberState) {
	m := &Member{
		Name:  n.Name,
		Addr:  net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
		State: state,
		Since: time.Now(),
	}
	meta, err := decodeMeta(n.Meta) // copies every field
	if err == nil {
		m.Meta, m.MetaOK = meta, true
	} else if state == Alive {
		g.logger.Warn("ignoring gossip member with bad metadata", "member", n.Name, "error", err)
	}
	g.mu.Lock()
	if old, ok := g.members[n.Name]; ok {
		if !m.MetaOK {
			m.Meta, m.MetaOK = old.Meta, old.MetaOK
		}
	}
	if m.State == Failed && m.MetaOK && m.Meta.Leaving {
		m.State = Left // it announced its departure
	}
	if old, ok := g.members[n.Name]; ok && old.State == m.State {
		m.Since = old.Since
	}
	g.members[n.Name] = m
	g.mu.Unlock()
	g.signal()
}

// Refresh picks up suspicion, which memberlist reports through no event:
// alive members that memberlist suspects become suspect and back.
func (g *Gossip) Refresh() {
	changed := false
	now := time.Now()
	nodes := g.ml.Members()
	g.mu.Lock()
	for _, n := range nodes {
		m, ok := g.members[n.Name]
		if !ok {
			continue
		}
		var want MemberState
		switch n.State {
		case memberlist.StateSuspect:
			want = Suspect
		case memberlist.StateAlive:
			want = Alive
		default:
			continue
		}
		if (m.State == Alive || m.State == Suspect) && m.State != want {
			mm := *m
			mm.State, mm.Since = want, now
			g.members[n.Name] = &mm
			changed = true
		}
	}
	g.mu.Unlock()
	if changed {
		g.signal()
	}
}

// Members returns a copy of every member known, by name.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	out := make([]Member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, *m)
	}
	g.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// numAlive returns the number of members alive or suspect, at least 1.
func (g *Gossip) numAlive() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, m := range g.members {
		if m.State == Alive || m.State == Suspect {
			n++
		}
	}
	return max(n, 1)
}

// Member returns what gossip knows of one node.
func (g *Gossip) Member(name string) (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.members[name]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

// Load returns the latest load known for a node.
func (g *Gossip) Load(name string) (api.Load, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.loads[name]
	return e.Load, ok
}

// PublishLoad records the local load and queues it for gossip.
func (g *Gossip) PublishLoad(l api.Load) {
	g.mu.Lock()
	g.loadSeq++
	e := loadEntry{Seq: g.loadSeq, Load: l}
	g.loads[g.name] = e
	g.mu.Unlock()
	msg := append([]byte{msgLoad}, encodeLoad(nil, g.name, e)...)
	g.queue.QueueBroadcast(&loadBroadcast{name: g.name, msg: msg})
}

// mergeLoad keeps a node's load if it is newer than the one known.
func (g *Gossip) mergeLoad(name string, e loadEntry) {
	if name == g.name {
		return
	}
	g.mu.Lock()
	if old, ok := g.loads[name]; !ok || e.Seq > old.Seq {
		g.loads[name] = e
	}
	g.mu.Unlock()
}

func encodeLoad(b []byte, name string, e loadEntry) []byte {
	b = appendWireString(b, name)
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendUvarint(b, uint64(max(e.Load.BusySlots, 0)))
	b = binary.AppendUvarint(b, uint64(max(e.Load.RunQueue, 0)))
	b = binary.AppendUvarint(b, uint64(max(e.Load.Procs, 0)))
	return b
}

func decodeLoad(d *wireDecoder) (string, loadEntry) {
	name := d.str()
	e := loadEntry{Seq: d.uint()}
	e.Load.BusySlots = int(d.uint() & (1<<31 - 1))
	e.Load.RunQueue = int(d.uint() & (1<<31 - 1))
	e.Load.Procs = int(d.uint() & (1<<31 - 1))
	return name, e
}

// loadBroadcast is one node's load in memberlist's transmit queue; a newer
// one replaces it.
type loadBroadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*loadBroadcast)(nil)

func (b *loadBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*loadBroadcast)
	return ok && o.name == b.name
}
func (b *loadBroadcast) Name() string    { return "load:" + b.name }
func (b *loadBroadcast) Message() []byte { return b.msg }
func (b *loadBroadcast) Finished()       {}

// delegate is memberlist's Delegate: metadata, load messages and
// push-pull state.
type delegate struct{ g *Gossip }

var _ memberlist.Delegate = (*delegate)(nil)

func (d *delegate) NodeMeta(limit int) []byte {
	b := *d.g.meta.Load()
	if len(b) > limit {
		// EncodeMeta checked MetaMaxSize; a smaller limit is a bug.
		d.g.logger.Error("node metadata over the limit", "size", len(b), "limit", limit)
		return nil
	}
	return b
}

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 || b[0] != msgLoad {
		return // unknown messages are for later releases
	}
	dec := wireDecoder{b: b[1:]}
	name, e := decodeLoad(&dec)
	if dec.err != nil {
		d.g.logger.Debug("bad load message", "error", dec.err)
		return
	}
	d.g.mergeLoad(name, e)
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.g.queue.GetBroadcasts(overhead, limit)
}

// LocalState sends every load known: version, count, entries.
func (d *delegate) LocalState(join bool) []byte {
	g := d.g
	g.mu.Lock()
	defer g.mu.Unlock()
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(len(g.loads)))
	for name, e := range g.loads {
		b = encodeLoad(b, name, e)
	}
	return b
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	dec := wireDecoder{b: buf}
	if dec.byte() != 1 {
		return
	}
	n := dec.uint()
	for i := uint64(0); i < n && dec.err == nil; i++ {
		name, e := decodeLoad(&dec)
		if dec.err == nil {
			d.g.mergeLoad(name, e)
		}
	}
}

// eventDelegate is memberlist's EventDelegate: membership changes. A
// leave counts as "left" when the member announced it in its metadata
// (memberlist does not fill in Node.State), and as a failure otherwise.
type eventDelegate struct{ g *Gossip }

var _ memberlist.EventDelegate = (*eventDelegate)(nil)

func (e *eventDelegate) NotifyJoin(n *memberlist.Node)   { e.g.observe(n, Alive) }
func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) { e.g.observe(n, Alive) }
func (e *eventDelegate) NotifyLeave(n *memberlist.Node)  { e.g.observe(n, Failed) }
