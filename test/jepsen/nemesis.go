//go:build linux

package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/vproc/vproc/internal/ctxutil"
)

// FaultKind names a fault the nemesis injects.
type FaultKind string

// Fault kinds. The partitions and netem need network namespaces; the others
// run on loopback too.
const (
	FaultKillOne          FaultKind = "kill-one"          // SIGKILL one node, restart it at heal
	FaultKillMinority     FaultKind = "kill-minority"     // SIGKILL a minority, restart them at heal
	FaultKillLeader       FaultKind = "kill-leader"       // SIGKILL the leader, restart it at heal
	FaultPauseOne         FaultKind = "pause-one"         // SIGSTOP one node, SIGCONT at heal
	FaultPauseLeader      FaultKind = "pause-leader"      // SIGSTOP the leader, SIGCONT at heal
	FaultIsolateOne       FaultKind = "isolate-one"       // cut one node from every other
	FaultIsolateLeader    FaultKind = "isolate-leader"    // cut the leader from every other
	FaultMajorityMinority FaultKind = "majority-minority" // cut a random minority from the majority
	FaultBridge           FaultKind = "bridge"            // two halves that share one node
	FaultMajoritiesRing   FaultKind = "majorities-ring"   // each node sees a majority, no two the same
	FaultNetem            FaultKind = "netem"             // delay and loss on every node's interface
	FaultMembership       FaultKind = "member-add-remove" // add a node, inject another fault, remove it
	FaultKillAll          FaultKind = "kill-all"          // SIGKILL every node within a second, restart them all at heal
)

// AllFaults lists every fault kind.
var AllFaults = []FaultKind{
	FaultKillOne, FaultKillMinority, FaultKillLeader, FaultPauseOne, FaultPauseLeader,
	FaultIsolateOne, FaultIsolateLeader, FaultMajorityMinority, FaultBridge, FaultMajoritiesRing,
	FaultNetem, FaultMembership, FaultKillAll,
}

// NeedsNetwork reports whether the fault needs network namespaces.
func (k FaultKind) NeedsNetwork() bool {
	switch k {
	case FaultIsolateOne, FaultIsolateLeader, FaultMajorityMinority, FaultBridge, FaultMajoritiesRing, FaultNetem:
		return true
	}
	return false
}

// ParseFaults parses a comma-separated list of fault kinds; "" or "all"
// means AllFaults.
func ParseFaults(s string) ([]FaultKind, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return slices.Clone(AllFaults), nil
	}
	var out []FaultKind
	for _, f := range strings.Split(s, ",") {
		k := FaultKind(strings.TrimSpace(f))
		if !slices.Contains(AllFaults, k) {
			return nil, fmt.Errorf("unknown fault %q (known: %v)", k, AllFaults)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// Step is one fault of a schedule: a quiet time, then the fault held for
// Hold, then its healing. Pick seeds the choice of targets, so that the
// same seed picks the same nodes (the leader is whichever node leads then).
type Step struct {
	Kind  FaultKind     `json:"kind"`  // the fault
	Quiet time.Duration `json:"quiet"` // the pause before it
	Hold  time.Duration `json:"hold"`  // how long it lasts
	Pick  uint64        `json:"pick"`  // seeds the choice of targets
	// Inner is the fault injected while the extra node of a membership step
	// is in; "" for none.
	Inner     FaultKind     `json:"inner,omitempty"`
	InnerHold time.Duration `json:"inner_hold,omitempty"` // how long Inner lasts
}

// Bounds of a schedule.
const (
	maxSteps  = 10000
	minQuiet  = time.Second
	maxQuiet  = 5 * time.Second
	minHold   = 2 * time.Second
	maxHold   = 12 * time.Second
	longHold  = 25 * time.Second // some faults outlast the lost timeout, so processes move
	longEvery = 4                // one fault in longEvery is long
)

// Random streams derived from the seed, one per consumer, so that adding
// draws to one never shifts another.
const (
	streamNemesis  = 0x6e656d65 // "neme"
	streamWorkload = 0x776f726b // "work"
	streamBeats    = 0x62656174 // "beat"
)

// NewSchedule returns the faults of a run of length total, drawn from kinds
// with seed. The kinds are dealt like cards: each one once, in a random
// order, before any comes again, so that a short run still sees every
// kind. The same arguments always give the same schedule.
func NewSchedule(seed uint64, kinds []FaultKind, total time.Duration) []Step {
	if len(kinds) == 0 || total <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, streamNemesis))
	var inner []FaultKind
	for _, k := range kinds {
		if k != FaultMembership {
			inner = append(inner, k)
		}
	}
	var steps []Step
	var at time.Duration
	var deck []FaultKind // every kind once, in a random order, then again
	for len(steps) < maxSteps {
		if len(deck) == 0 {
			deck = slices.Clone(kinds)
			rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
		}
		kind := deck[0]
		deck = deck[1:]
		s := Step{
			Kind:  kind,
			Quiet: between(rng, minQuiet, maxQuiet),
			Hold:  between(rng, minHold, maxHold),
			Pick:  rng.Uint64(),
		}
		if rng.IntN(longEvery) == 0 {
			s.Hold = between(rng, maxHold, longHold)
		}
		if s.Kind == FaultMembership && len(inner) > 0 {
			s.Inner = inner[rng.IntN(len(inner))]
			s.InnerHold = between(rng, minHold, s.Hold)
		}
		if at+s.Quiet >= total {
			break
		}
		steps = append(steps, s)
		at += s.Quiet + s.Hold
	}
	return steps
}

// between draws a duration in [lo, hi), rounded to milliseconds.
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	d := lo + time.Duration(rng.Int64N(int64(hi-lo)))
	return d.Round(time.Millisecond)
}

// picker returns the random source a step's Pick seeds.
func picker(pick uint64) *rand.Rand { return rand.New(rand.NewPCG(pick, ^pick)) }

// Grudge says, for each node, the nodes whose packets it drops: node →
// sources. A symmetric cut lists each side in the other's grudge.
type Grudge map[string][]string

// cut adds a symmetric cut between every node of a and every node of b.
func (g Grudge) cut(a, b []string) {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				continue
			}
			if !slices.Contains(g[x], y) {
				g[x] = append(g[x], y)
			}
			if !slices.Contains(g[y], x) {
				g[y] = append(g[y], x)
			}
		}
	}
}

// String shows a grudge in a stable order.
func (g Grudge) String() string {
	var parts []string
	for _, n := range sortedKeys(g) {
		src := slices.Clone(g[n])
		slices.Sort(src)
		parts = append(parts, n+"⇍"+strings.Join(src, ","))
	}
	return strings.Join(parts, " ")
}

// Isolate cuts target from every other node.
func Isolate(nodes []string, target string) Grudge {
	g := Grudge{}
	g.cut([]string{target}, without(nodes, target))
	return g
}

// MajorityMinority cuts a random minority (at least one node) from the
// rest; it returns the grudge and the minority.
func MajorityMinority(nodes []string, rng *rand.Rand) (Grudge, []string) {
	s := shuffled(nodes, rng)
	k := max(1, (len(s)-1)/2)
	g := Grudge{}
	g.cut(s[:k], s[k:])
	return g, s[:k]
}

// Bridge splits the nodes into two halves that share one node, the bridge,
// which sees everyone; it returns the grudge and the bridge.
func Bridge(nodes []string, rng *rand.Rand) (Grudge, string) {
	s := shuffled(nodes, rng)
	mid := len(s) / 2
	g := Grudge{}
	g.cut(s[:mid], s[mid+1:])
	return g, s[mid]
}

// MajoritiesRing arranges the nodes in a random ring and lets each one talk
// only to its neighbours within a radius, so that every node sees a
// majority and no two see the same one, as Jepsen's majorities-ring does.
// The cuts are symmetric: raft and the API run over TCP, which a cut in
// either direction breaks both ways. Three nodes have no such ring (each
// would see all), so for them it is a bridge.
func MajoritiesRing(nodes []string, rng *rand.Rand) Grudge {
	s := shuffled(nodes, rng)
	n := len(s)
	r := (n/2 + 1) / 2 // a window of 2r+1 ≥ n/2+1 nodes
	if 2*r+1 >= n {
		g, _ := Bridge(nodes, rng)
		return g
	}
	g := Grudge{}
	for k, node := range s {
		for d := r + 1; d < n-r; d++ {
			g[node] = append(g[node], s[(k+d)%n])
		}
	}
	return g
}

func without(nodes []string, x string) []string {
	var out []string
	for _, n := range nodes {
		if n != x {
			out = append(out, n)
		}
	}
	return out
}

func shuffled(nodes []string, rng *rand.Rand) []string {
	s := slices.Clone(nodes)
	slices.Sort(s)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// NetemSpecs are the netem settings a netem fault picks from, as tc
// arguments after "netem".
var NetemSpecs = [][]string{
	{"delay", "50ms", "10ms", "loss", "5%"},
	{"delay", "100ms", "50ms"},
	{"loss", "10%"},
	{"delay", "20ms", "20ms", "loss", "2%", "reorder", "10%"},
}

// Target is what the nemesis acts on: the cluster under test.
type Target interface {
	// Members returns the names of the nodes that belong to the cluster
	// now, extra node included.
	Members() []string
	// Leader names the current leader, or returns an error.
	Leader(ctx context.Context) (string, error)
	Kill(name string) error
	Start(name string) error
	Pause(name string) error
	Resume(name string) error
	Partition(g Grudge) error
	HealPartition() error
	Netem(nodes []string, spec []string) error
	HealNetem(nodes []string) error
	// AddNode starts an extra node that joins the cluster.
	AddNode(ctx context.Context) (string, error)
	// RemoveNode stops an extra node gracefully.
	RemoveNode(ctx context.Context, name string) error
	// Settle waits, for a bounded time, until the cluster has a leader.
	Settle(ctx context.Context)
}

// Nemesis runs a schedule of faults against a Target and records each one
// in a History.
type Nemesis struct {
	target Target   // read-only
	hist   *History // read-only
	logf   func(format string, args ...any)
	leadIn time.Duration // read-only; between adding a node and the fault injected while it is in
}

// NewNemesis returns a nemesis for target that records into hist and logs
// through logf.
func NewNemesis(target Target, hist *History, logf func(format string, args ...any)) *Nemesis {
	return &Nemesis{target: target, hist: hist, logf: logf, leadIn: minQuiet}
}

// Run injects the steps in order until they end or ctx is done. Each fault
// is healed before the next starts, and the one active when ctx ends is
// healed at once.
func (n *Nemesis) Run(ctx context.Context, steps []Step) {
	for _, s := range steps {
		if !ctxutil.Sleep(ctx, s.Quiet) {
			return
		}
		n.inject(ctx, s.Kind, s.Pick, s.Hold, s)
		if ctx.Err() != nil {
			return
		}
		n.target.Settle(ctx)
	}
}

// inject applies one fault, holds it, heals it and records it.
func (n *Nemesis) inject(ctx context.Context, kind FaultKind, pick uint64, hold time.Duration, s Step) {
	rng := picker(pick)
	f := Fault{Kind: kind, Start: -1}
	heal, err := n.apply(ctx, kind, rng, &f, s)
	if f.Start < 0 {
		f.Start = n.hist.Clock().Now()
	}
	if err != nil {
		f.Error = err.Error()
		f.End = f.Start
		n.logf("nemesis: %s %v failed: %v", kind, f.Targets, err)
		if heal != nil {
			_ = heal(context.WithoutCancel(ctx)) // undo what was done
		}
		n.hist.AddFault(f)
		return
	}
	n.logf("nemesis: %s %v %s for %v", kind, f.Targets, f.Detail, hold)
	ctxutil.Sleep(ctx, hold)
	if err := heal(context.WithoutCancel(ctx)); err != nil {
		f.Error = "heal: " + err.Error()
		n.logf("nemesis: healing %s: %v", kind, err)
	}
	f.End = n.hist.Clock().Now()
	n.hist.AddFault(f)
}

// apply injects a fault and returns how to heal it.
func (n *Nemesis) apply(ctx context.Context, kind FaultKind, rng *rand.Rand, f *Fault, s Step) (func(context.Context) error, error) {
	t := n.target
	members := t.Members()
	slices.Sort(members)
	if len(members) == 0 {
		return nil, fmt.Errorf("no members")
	}
	one := func() string { return members[rng.IntN(len(members))] }
	leader := func() string {
		l, err := t.Leader(ctx)
		if err != nil || !slices.Contains(members, l) {
			f.Detail = "leader unknown, picked at random"
			return one()
		}
		return l
	}
	switch kind {
	case FaultKillOne, FaultKillLeader, FaultKillMinority, FaultKillAll:
		var victims []string
		switch kind {
		case FaultKillAll:
			victims = shuffled(members, rng)
		case FaultKillOne:
			victims = []string{one()}
		case FaultKillLeader:
			victims = []string{leader()}
		default:
			victims = shuffled(members, rng)[:max(1, (len(members)-1)/2)]
		}
		f.Targets = victims
		var done []string
		heal := func(context.Context) error {
			var errs []string
			for _, v := range done {
				if err := t.Start(v); err != nil {
					errs = append(errs, err.Error())
				}
			}
			return joinErrs(errs)
		}
		for _, v := range victims {
			if err := t.Kill(v); err != nil {
				return heal, err
			}
			done = append(done, v)
		}
		return heal, nil

	case FaultPauseOne, FaultPauseLeader:
		v := one()
		if kind == FaultPauseLeader {
			v = leader()
		}
		f.Targets = []string{v}
		heal := func(context.Context) error { return t.Resume(v) }
		return heal, t.Pause(v)

	case FaultIsolateOne, FaultIsolateLeader, FaultMajorityMinority, FaultBridge, FaultMajoritiesRing:
		var g Grudge
		switch kind {
		case FaultIsolateOne:
			v := one()
			f.Targets, g = []string{v}, Isolate(members, v)
		case FaultIsolateLeader:
			v := leader()
			f.Targets, g = []string{v}, Isolate(members, v)
		case FaultMajorityMinority:
			g, f.Targets = MajorityMinority(members, rng)
		case FaultBridge:
			var b string
			g, b = Bridge(members, rng)
			f.Targets = []string{b}
		default:
			g = MajoritiesRing(members, rng)
			f.Targets = members
		}
		f.Detail = strings.TrimSpace(f.Detail + " " + g.String())
		heal := func(context.Context) error { return t.HealPartition() }
		return heal, t.Partition(g)

	case FaultNetem:
		spec := NetemSpecs[rng.IntN(len(NetemSpecs))]
		f.Targets, f.Detail = members, strings.Join(spec, " ")
		heal := func(context.Context) error { return t.HealNetem(members) }
		return heal, t.Netem(members, spec)

	case FaultMembership:
		name, err := t.AddNode(ctx)
		if err != nil {
			return nil, err
		}
		f.Targets, f.Start = []string{name}, n.hist.Clock().Now()
		if s.Inner != "" {
			f.Detail = "with " + string(s.Inner)
		}
		heal := func(hctx context.Context) error { return t.RemoveNode(hctx, name) }
		if s.Inner != "" && ctxutil.Sleep(ctx, n.leadIn) {
			n.inject(ctx, s.Inner, rng.Uint64(), s.InnerHold, Step{})
		}
		return heal, nil
	}
	return nil, fmt.Errorf("unknown fault %q", kind)
}

func joinErrs(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}
