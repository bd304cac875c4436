package fsm

import (
	"errors"
	"testing"
)

func TestVersionsStringRoundTrip(t *testing.T) {
	for _, v := range []Versions{Known(), Baseline()} {
		got, err := ParseVersions(v.String())
		if err != nil {
			t.Fatalf("ParseVersions(%q): %v", v.String(), err)
		}
		if got.String() != v.String() {
			t.Fatalf("ParseVersions(%q) = %q", v.String(), got.String())
		}
	}
	for _, bad := range []string{"", "5:1", "spec:x", "zz:1,spec:1", "05:1,spec:1", "5:300,spec:1"} {
		if _, err := ParseVersions(bad); err == nil {
			t.Errorf("ParseVersions(%q): got no error, want one", bad)
		}
	}
}

func TestVersionsAdmits(t *testing.T) {
	stdin := sleepSpec()
	stdin.Stdin = true
	base, known := Baseline(), Known()
	for _, tc := range []struct {
		name    string
		c       Command
		baseOK  bool
		knownOK bool
	}{
		{"tick", &Tick{Now: t0}, true, true},
		{"spawn", &Spawn{Parent: 1, Spec: sleepSpec()}, true, true},
		{"spawn with stdin", &Spawn{Parent: 1, Spec: stdin}, false, true},
		{"stdin in a session", &SessionRequest{RequestID: 1, Command: &Spawn{Parent: 1, Spec: stdin}}, false, true},
		{"stdin in a batch", &Batch{Commands: []Command{&Tick{}, &Spawn{Parent: 1, Spec: stdin}}}, false, true},
		{"unknown skippable", &Unknown{T: 0xf0}, true, true},
		{"spawn with inherited files", &Spawn{Parent: 1, Spec: filesSpec()}, false, true},
		{"a type older replicas skip", &SetGroup{PID: 2, Incarnation: 1, Node: "n1", Pgid: 2, Sid: 2}, true, true},
		{"signal to unstarted work", &Signal{ID: 1, Target: 2, Signal: 15, Unstarted: true}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := base.Admits(tc.c); (err == nil) != tc.baseOK || (err != nil && !errors.Is(err, ErrVersion)) {
				t.Errorf("Baseline().Admits: got %v, want ok=%v", err, tc.baseOK)
			}
			if err := known.Admits(tc.c); (err == nil) != tc.knownOK {
				t.Errorf("Known().Admits: got %v, want ok=%v", err, tc.knownOK)
			}
		})
	}
	if base.Seals() || !known.Seals() {
		t.Fatalf("Seals: baseline %v, known %v; want false, true", base.Seals(), known.Seals())
	}
	if m := known.Meet(base); m.String() != base.String() {
		t.Fatalf("Known().Meet(Baseline()) = %q, want %q", m.String(), base.String())
	}
}

// TestFitDropsWhatACommandCanDoWithout: a signal to unstarted work is
// written without Unstarted (body version 1) while a voter does not know
// version 2, and kept whole once every voter does; a stdin spawn, which
// cannot do without its field, stays refused.
func TestFitDropsWhatACommandCanDoWithout(t *testing.T) {
	base, known := Baseline(), Known()
	sig := &Signal{ID: 1, Target: 2, Signal: 15, Unstarted: true}
	inBatch := &Batch{Commands: []Command{&SessionRequest{RequestID: 1, Command: &Signal{ID: 2, Target: 3, Signal: 15, Unstarted: true}}}}
	if err := base.Admits(base.Fit(sig)); err != nil || sig.Unstarted {
		t.Errorf("Baseline: Fit then Admits of a signal: %v, Unstarted %v; want nil, false", err, sig.Unstarted)
	}
	if err := base.Admits(base.Fit(inBatch)); err != nil {
		t.Errorf("Baseline: Fit then Admits of a nested signal: %v", err)
	}
	kept := &Signal{ID: 1, Target: 2, Signal: 15, Unstarted: true}
	if known.Fit(kept); !kept.Unstarted {
		t.Error("Known: Fit dropped Unstarted")
	}
	stdin := sleepSpec()
	stdin.Stdin = true
	if err := base.Admits(base.Fit(&Spawn{Parent: 1, Spec: stdin})); !errors.Is(err, ErrVersion) {
		t.Errorf("Baseline: a stdin spawn after Fit: got %v, want ErrVersion", err)
	}
}

// TestReadsRefusesUnknownVersions: a replica limited to the baseline (an
// older release) refuses a sealed entry and a stdin spawn instead of
// applying them.
func TestReadsRefusesUnknownVersions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Reads = Baseline()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stdin := sleepSpec()
	stdin.Stdin = true
	for i, data := range [][]byte{
		Seal(Encode(&Tick{Now: t0})),
		Encode(&Spawn{Parent: 1, Owner: "a", Spec: stdin, Now: t0}),
	} {
		if _, err := f.ApplyEntry(uint64(i+1), data); !errors.Is(err, ErrVersion) {
			t.Fatalf("entry %d: got %v, want ErrVersion", i, err)
		}
	}
	if _, err := f.ApplyEntry(1, Encode(&Tick{Now: t0})); err != nil {
		t.Fatalf("baseline tick: %v", err)
	}
}

// TestKnownCoversEveryType: every type this release decodes is known, at
// least at the baseline's version, and the baseline lacks only the
// envelope among the types it has.
func TestKnownCoversEveryType(t *testing.T) {
	k, b := Known(), Baseline()
	for ty := range decoders {
		if k.Commands[ty] == 0 {
			t.Errorf("Known lacks %v", ty)
		}
	}
	if !k.Covers(b) {
		t.Fatalf("Known %s does not cover Baseline %s", k, b)
	}
	for ty := range k.Commands {
		if _, ok := b.Commands[ty]; !ok && ty != TypeChecked && ty <= TypeRegistryLost {
			t.Errorf("Baseline lacks %v", ty)
		}
	}
}

// filesSpec is a spawn spec whose child inherits a descriptor exported on
// another node (spec record version 3).
func filesSpec() Spec {
	s := sleepSpec()
	s.Files = []FileRef{{Fd: 0, Node: "n1", Export: 1}}
	return s
}
