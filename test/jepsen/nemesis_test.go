//go:build linux

package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestScheduleIsDeterministic(t *testing.T) {
	for _, seed := range []uint64{0, 1, 42, 1 << 63} {
		a := NewSchedule(seed, AllFaults, 10*time.Minute)
		b := NewSchedule(seed, AllFaults, 10*time.Minute)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two schedules differ:\n%v\n%v", seed, a, b)
		}
		if len(a) == 0 {
			t.Fatalf("seed %d: empty schedule", seed)
		}
	}
	if reflect.DeepEqual(NewSchedule(1, AllFaults, 10*time.Minute), NewSchedule(2, AllFaults, 10*time.Minute)) {
		t.Error("seeds 1 and 2 give the same schedule")
	}
}

func TestScheduleBounds(t *testing.T) {
	const total = 10 * time.Minute
	steps := NewSchedule(7, AllFaults, total)
	var at time.Duration
	seen := make(map[FaultKind]bool)
	for i, s := range steps {
		if s.Quiet < minQuiet || s.Quiet >= maxQuiet || s.Hold < minHold || s.Hold >= longHold {
			t.Errorf("step %d: quiet %v hold %v out of bounds", i, s.Quiet, s.Hold)
		}
		if at+s.Quiet >= total {
			t.Errorf("step %d starts at %v, after the run's end %v", i, at+s.Quiet, total)
		}
		if s.Kind == FaultMembership && (s.Inner == "" || s.Inner == FaultMembership || s.InnerHold > s.Hold) {
			t.Errorf("step %d: membership with inner %q for %v of %v", i, s.Inner, s.InnerHold, s.Hold)
		}
		at += s.Quiet + s.Hold
		seen[s.Kind] = true
	}
	if len(seen) != len(AllFaults) {
		t.Errorf("a 10-minute schedule drew only %v", seen)
	}
	// Dealt like cards: each run of len(AllFaults) steps from the start
	// holds every kind once.
	for i := 0; i+len(AllFaults) <= len(steps); i += len(AllFaults) {
		deck := make(map[FaultKind]bool)
		for _, s := range steps[i : i+len(AllFaults)] {
			deck[s.Kind] = true
		}
		if len(deck) != len(AllFaults) {
			t.Errorf("steps %d..%d repeat a kind before dealing every one: %v", i, i+len(AllFaults)-1, deck)
		}
	}
	if got := NewSchedule(7, []FaultKind{FaultKillOne}, total); slices.ContainsFunc(got, func(s Step) bool { return s.Kind != FaultKillOne }) {
		t.Errorf("schedule of kill-one only drew another kind: %v", got)
	}
	if got := NewSchedule(7, nil, total); got != nil {
		t.Errorf("got %v for no kinds, want none", got)
	}
}

func TestParseFaults(t *testing.T) {
	got, err := ParseFaults("kill-one, bridge,kill-one")
	if err != nil || !reflect.DeepEqual(got, []FaultKind{FaultKillOne, FaultBridge}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, _ := ParseFaults(""); len(got) != len(AllFaults) {
		t.Errorf("got %v for \"\", want all", got)
	}
	if _, err := ParseFaults("kill-everything"); err == nil {
		t.Error("got no error for an unknown fault")
	}
}

// reach returns, for each node, the nodes whose packets it accepts.
func reach(nodes []string, g Grudge) map[string][]string {
	out := make(map[string][]string)
	for _, n := range nodes {
		for _, m := range nodes {
			if !slices.Contains(g[n], m) {
				out[n] = append(out[n], m)
			}
		}
	}
	return out
}

func TestPartitions(t *testing.T) {
	for _, n := range []int{3, 4, 5} {
		var nodes []string
		for i := 1; i <= n; i++ {
			nodes = append(nodes, fmt.Sprintf("n%d", i))
		}
		maj := n/2 + 1
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			g := Isolate(nodes, "n2")
			for _, m := range nodes {
				if m != "n2" && (!slices.Contains(g["n2"], m) || !slices.Contains(g[m], "n2")) {
					t.Errorf("isolate: n2 and %s still talk: %v", m, g)
				}
			}

			g, minority := MajorityMinority(nodes, rand.New(rand.NewPCG(1, 2)))
			if len(minority) == 0 || len(minority) >= maj {
				t.Errorf("majority-minority: minority %v of %d", minority, n)
			}
			for _, m := range minority {
				if got := len(reach(nodes, g)[m]); got != len(minority) {
					t.Errorf("majority-minority: %s reaches %d nodes, want its %d", m, got, len(minority))
				}
			}

			g, bridge := Bridge(nodes, rand.New(rand.NewPCG(3, 4)))
			r := reach(nodes, g)
			if len(r[bridge]) != n {
				t.Errorf("bridge: %s reaches %v, want everyone", bridge, r[bridge])
			}
			for _, m := range nodes {
				if m != bridge && len(r[m]) >= n {
					t.Errorf("bridge: %s reaches everyone", m)
				}
			}

			g = MajoritiesRing(nodes, rand.New(rand.NewPCG(5, 6)))
			r = reach(nodes, g)
			seen := make(map[string]string)
			for _, m := range nodes {
				// (Three nodes make a bridge, whose middle hears everyone.)
				if len(r[m]) < maj || len(r[m]) == n && n > 3 || !slices.Contains(r[m], m) {
					t.Errorf("ring: %s hears %v, want a majority of %d including itself, not everyone", m, r[m], maj)
				}
				for _, o := range r[m] {
					if !slices.Contains(r[o], m) {
						t.Errorf("ring: %s hears %s but not the other way", m, o)
					}
				}
				key := strings.Join(r[m], ",")
				if other, dup := seen[key]; dup && n > 3 {
					t.Errorf("ring: %s and %s hear the same majority %s", m, other, key)
				}
				seen[key] = m
			}
		})
	}
}

// fakeTarget records what the nemesis does.
type fakeTarget struct {
	mu      sync.Mutex
	members []string
	leader  string
	log     []string
	cut     bool
	extra   string
}

func (f *fakeTarget) rec(s string) { f.mu.Lock(); f.log = append(f.log, s); f.mu.Unlock() }
func (f *fakeTarget) Members() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := slices.Clone(f.members)
	if f.extra != "" {
		m = append(m, f.extra)
	}
	return m
}
func (f *fakeTarget) Leader(context.Context) (string, error) { return f.leader, nil }
func (f *fakeTarget) Kill(n string) error                    { f.rec("kill " + n); return nil }
func (f *fakeTarget) Start(n string) error                   { f.rec("start " + n); return nil }
func (f *fakeTarget) Pause(n string) error                   { f.rec("pause " + n); return nil }
func (f *fakeTarget) Resume(n string) error                  { f.rec("resume " + n); return nil }
func (f *fakeTarget) Partition(g Grudge) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return fmt.Errorf("partition while cut")
	}
	f.cut = true
	f.log = append(f.log, "partition "+g.String())
	return nil
}
func (f *fakeTarget) HealPartition() error {
	f.mu.Lock()
	f.cut = false
	f.mu.Unlock()
	f.rec("heal")
	return nil
}
func (f *fakeTarget) Netem(n []string, spec []string) error {
	f.rec("netem " + strings.Join(spec, " "))
	return nil
}
func (f *fakeTarget) HealNetem([]string) error { f.rec("netem off"); return nil }
func (f *fakeTarget) AddNode(context.Context) (string, error) {
	f.mu.Lock()
	f.extra = "x1"
	f.mu.Unlock()
	f.rec("add x1")
	return "x1", nil
}
func (f *fakeTarget) RemoveNode(_ context.Context, n string) error {
	f.mu.Lock()
	f.extra = ""
	f.mu.Unlock()
	f.rec("remove " + n)
	return nil
}
func (f *fakeTarget) Settle(context.Context) {}

func TestNemesisHealsEachFault(t *testing.T) {
	steps := make([]Step, 0, len(AllFaults))
	for i, k := range AllFaults {
		s := Step{Kind: k, Quiet: time.Millisecond, Hold: time.Millisecond, Pick: uint64(i)}
		if k == FaultMembership {
			s.Inner, s.InnerHold = FaultKillLeader, time.Millisecond
		}
		steps = append(steps, s)
	}
	run := func() ([]string, []Fault) {
		ft := &fakeTarget{members: []string{"n1", "n2", "n3"}, leader: "n2"}
		hist := NewHistory(NewClock())
		n := NewNemesis(ft, hist, t.Logf)
		n.leadIn = time.Millisecond
		n.Run(context.Background(), steps)
		return ft.log, hist.Faults()
	}
	log, faults := run()
	if len(faults) != len(AllFaults)+1 { // the membership step's inner fault too
		t.Fatalf("got %d faults, want %d: %v", len(faults), len(AllFaults)+1, faults)
	}
	for _, f := range faults {
		if f.Error != "" || f.End < f.Start {
			t.Errorf("fault %+v: error or ends before it starts", f)
		}
	}
	// Every fault is healed before the next starts (the membership step's
	// inner fault runs while the extra node is in), and all are healed at
	// the end.
	active := make(map[string]int)
	for _, l := range log {
		verb, _, _ := strings.Cut(l, " ")
		switch {
		case verb == "kill" || verb == "pause" || verb == "partition" || verb == "add":
			active[verb]++
		case l == "netem off":
			active["netem"]--
		case verb == "netem":
			active["netem"]++
		case verb == "start":
			active["kill"]--
		case verb == "resume":
			active["pause"]--
		case verb == "heal":
			active["partition"]--
		case verb == "remove":
			active["add"]--
		}
		kinds := 0
		for k, n := range active {
			if n < 0 {
				t.Fatalf("%q healed what was not injected: %v", l, log)
			}
			if n > 0 && k != "add" {
				kinds++
			}
		}
		if kinds > 1 {
			t.Fatalf("two faults active at %q: %v", l, log)
		}
	}
	for k, n := range active {
		if n != 0 {
			t.Errorf("%s left active (%d) at the end: %v", k, n, log)
		}
	}
	if want := []string{"kill n2", "start n2"}; !slices.Contains(log, want[0]) || !slices.Contains(log, want[1]) {
		t.Errorf("kill-leader: log %v lacks %v", log, want)
	}
	// Same steps, same targets.
	again, _ := run()
	if !reflect.DeepEqual(log, again) {
		t.Errorf("the same steps picked different targets:\n%v\n%v", log, again)
	}
}

func TestNemesisStopsWithContext(t *testing.T) {
	ft := &fakeTarget{members: []string{"n1", "n2", "n3"}, leader: "n1"}
	hist := NewHistory(NewClock())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	NewNemesis(ft, hist, t.Logf).Run(ctx, []Step{{Kind: FaultIsolateOne, Quiet: time.Millisecond, Hold: time.Hour}})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run took %v after its context ended", d)
	}
	if ft.cut {
		t.Error("the partition active when the context ended was not healed")
	}
}
