//go:build linux

package jepsen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// ms is a history time of n milliseconds.
func ms(n int64) int64 { return n * int64(time.Millisecond) }

// hb builds the history of a test, numbering operations as they come.
type hb struct{ ops []Op }

func (h *hb) add(op Op) *hb {
	op.ID = len(h.ops)
	if op.Outcome == "" {
		op.Outcome = OutcomeOK
	}
	h.ops = append(h.ops, op)
	return h
}

func (h *hb) spawn(pid uint64, call, ret int64) *hb {
	return h.add(Op{Kind: OpSpawn, Command: "sleep", RetPID: pid, Call: ms(call), Return: ms(ret), Stream: len(h.ops)})
}

func (h *hb) get(pid uint64, call, ret int64, state string, inc uint64, status string) *hb {
	return h.add(Op{Kind: OpGet, PID: pid, Call: ms(call), Return: ms(ret), State: state, Incarnation: inc, Status: status, Stream: len(h.ops)})
}

func (h *hb) kill(pid uint64, sig int, call, ret int64, inc uint64) *hb {
	return h.add(Op{Kind: OpKill, PID: pid, Signal: sig, Call: ms(call), Return: ms(ret), Reached: true, Incarnation: inc, Stream: len(h.ops)})
}

func final(procs ...api.Process) *FinalRead { return NewFinalRead(0, procs) }

func proc(pid uint64, state string, sig int) api.Process {
	p := api.Process{PID: pid, State: state}
	if sig != 0 {
		p.Signal = &sig
	}
	return p
}

func wantStatus(t *testing.T, v Verdict, want Status) {
	t.Helper()
	if v.Status != want {
		t.Errorf("%s: got %s (%s %v), want %s", v.Check, v.Status, v.Summary, v.Violations, want)
	}
}

func TestLinearizableTable(t *testing.T) {
	tests := []struct {
		name string
		h    *hb
		want Status
	}{
		{"linearizable", new(hb).
			spawn(2, 0, 10).
			get(2, 20, 30, "running", 1, "").
			kill(2, 9, 40, 50, 1).
			get(2, 60, 70, "exited", 1, "sig=9").
			add(Op{Kind: OpWait, PID: 2, Call: ms(45), Return: ms(80), State: "exited", Incarnation: 1, Status: "sig=9"}).
			add(Op{Kind: OpGet, PID: 3, Call: ms(0), Return: ms(5), Outcome: OutcomeFail, Code: api.CodeNoSuchProcess}).
			spawn(3, 5, 15).
			// concurrent with the spawn: may see it or not
			add(Op{Kind: OpGet, PID: 3, Call: ms(6), Return: ms(7), Outcome: OutcomeFail, Code: api.CodeNoSuchProcess}).
			add(Op{Kind: OpKill, PID: 3, Signal: 9, Call: ms(20), Return: Unknown, Outcome: OutcomeUnknown}),
			StatusPass},
		{"stale read after an acknowledged spawn", new(hb).
			spawn(2, 0, 10).
			add(Op{Kind: OpGet, PID: 2, Call: ms(20), Return: ms(30), Outcome: OutcomeFail, Code: api.CodeNoSuchProcess}),
			StatusFail},
		{"exited process read as running again", new(hb).
			spawn(2, 0, 10).
			get(2, 20, 30, "exited", 1, "code=0").
			get(2, 40, 50, "running", 1, ""),
			StatusFail},
		{"incarnation goes back", new(hb).
			spawn(2, 0, 10).
			get(2, 20, 30, "running", 2, "").
			get(2, 40, 50, "running", 1, ""),
			StatusFail},
		{"new incarnation after an acknowledged SIGKILL", new(hb).
			spawn(2, 0, 10).
			kill(2, 9, 20, 30, 1).
			get(2, 40, 50, "running", 2, ""),
			StatusFail},
		{"final status changes", new(hb).
			spawn(2, 0, 10).
			get(2, 20, 30, "exited", 1, "code=0").
			get(2, 40, 50, "exited", 1, "sig=9"),
			StatusFail},
		{"restart policy: a restart goes through pending", new(hb).
			add(Op{Kind: OpSpawn, Command: "heartbeat", Restart: true, RetPID: 4, Call: 0, Return: ms(10)}).
			get(4, 20, 30, "running", 1, "").
			get(4, 40, 50, "pending", 1, "").
			get(4, 60, 70, "running", 2, ""),
			StatusPass},
		{"lost is final", new(hb).
			add(Op{Kind: OpSpawn, Command: "heartbeat", Restart: true, RetPID: 4, Call: 0, Return: ms(10)}).
			get(4, 20, 30, "lost", 1, "lost").
			get(4, 40, 50, "running", 2, ""),
			StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := CheckLinearizable(tt.h.ops, nil, 5*time.Second, "")
			wantStatus(t, vs[0], tt.want)
		})
	}
}

func TestLinearizableVisualisation(t *testing.T) {
	dir := t.TempDir()
	h := new(hb).spawn(2, 0, 10).
		add(Op{Kind: OpGet, PID: 2, Call: ms(20), Return: ms(30), Outcome: OutcomeFail, Code: api.CodeNoSuchProcess})
	faults := []Fault{{Kind: FaultKillLeader, Targets: []string{"n1"}, Start: ms(5), End: ms(25)}}
	v := CheckLinearizable(h.ops, faults, 5*time.Second, dir)[0]
	wantStatus(t, v, StatusFail)
	if v.Artifact != filepath.Join(dir, "lin-table.html") {
		t.Fatalf("got artifact %q, want lin-table.html in %s", v.Artifact, dir)
	}
	if fi, err := os.Stat(v.Artifact); err != nil || fi.Size() == 0 {
		t.Fatalf("visualisation not written: %v", err)
	}
	if len(v.Violations) != 1 || !strings.Contains(v.Violations[0], "no_such_process") {
		t.Errorf("got violations %q, want the failing partition of PID 2", v.Violations)
	}
}

func TestLinearizableRegistries(t *testing.T) {
	reg := func(kind OpKind, name string, call, ret int64, outcome Outcome, code string) Op {
		return Op{Kind: kind, Registry: "mq", Name: name, Call: ms(call), Return: ms(ret), Outcome: outcome, Code: code}
	}
	tests := []struct {
		name string
		ops  []Op
		want Status
	}{
		{"one object per name", []Op{
			reg(OpCreate, "/q", 0, 10, OutcomeOK, ""),
			reg(OpCreate, "/q", 20, 30, OutcomeFail, "name_exists"),
			reg(OpUnlink, "/q", 40, 50, OutcomeOK, ""),
			reg(OpUnlink, "/q", 60, 70, OutcomeFail, "no_such_name"),
			reg(OpCreate, "/r", 0, Unknown/int64(time.Millisecond), OutcomeUnknown, ""),
			reg(OpCreate, "/q", 80, 90, OutcomeOK, ""),
		}, StatusPass},
		{"two objects under one name", []Op{
			reg(OpCreate, "/q", 0, 10, OutcomeOK, ""),
			reg(OpCreate, "/q", 20, 30, OutcomeOK, ""),
		}, StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.ops {
				tt.ops[i].ID = i
				if tt.ops[i].Outcome == OutcomeUnknown {
					tt.ops[i].Return = Unknown
				}
			}
			wantStatus(t, CheckLinearizable(tt.ops, nil, 5*time.Second, "")[1], tt.want)
		})
	}
}

func TestListInclusion(t *testing.T) {
	list := func(call, ret int64, pids ...uint64) Op {
		return Op{Kind: OpList, Call: ms(call), Return: ms(ret), PIDs: pids}
	}
	tests := []struct {
		name string
		h    *hb
		want Status
	}{
		{"includes every acknowledged PID", new(hb).spawn(2, 0, 10).add(list(20, 30, 1, 2)), StatusPass},
		{"a concurrent spawn may be missing", new(hb).spawn(2, 0, 10).add(list(5, 30, 1)), StatusPass},
		{"misses an acknowledged PID", new(hb).spawn(2, 0, 10).add(list(20, 30, 1)), StatusFail},
		{"shows a PID from the future", new(hb).spawn(3, 40, 50).add(list(20, 30, 1, 3)), StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, CheckListInclusion(tt.h.ops, nil), tt.want)
		})
	}
}

func TestUniquePIDs(t *testing.T) {
	tests := []struct {
		name  string
		h     *hb
		final []api.Process
		dups  map[string][]uint64
		want  Status
	}{
		{"unique and ordered", new(hb).spawn(2, 0, 10).spawn(3, 20, 30).spawn(5, 25, 40), nil, nil, StatusPass},
		{"concurrent spawns in any order", new(hb).spawn(5, 0, 10).spawn(4, 5, 30), nil, nil, StatusPass},
		{"a reused PID", new(hb).spawn(2, 0, 10).spawn(2, 20, 30), nil, nil, StatusFail},
		{"a PID below an earlier one", new(hb).spawn(7, 0, 10).spawn(5, 20, 30), nil, nil, StatusFail},
		{"init's PID", new(hb).spawn(1, 0, 10), nil, nil, StatusFail},
		{"listed twice", new(hb).spawn(2, 0, 10), []api.Process{{PID: 2}, {PID: 2}}, nil, StatusFail},
		{"a retry applied twice", new(hb).spawn(2, 0, 10), nil, map[string][]uint64{"jepsen-1": {2, 3}}, StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, CheckUniquePIDs(tt.h.ops, tt.final, tt.dups), tt.want)
		})
	}
}

func TestNoLostSpawn(t *testing.T) {
	h := new(hb).spawn(2, 0, 10).spawn(3, 20, 30).
		add(Op{Kind: OpSpawn, Call: ms(40), Return: Unknown, Outcome: OutcomeUnknown})
	wantStatus(t, CheckNoLostSpawn(h.ops, final(proc(1, "running", 0), proc(2, "exited", 0), proc(3, "running", 0)), nil), StatusPass)
	wantStatus(t, CheckNoLostSpawn(h.ops, final(proc(1, "running", 0), proc(2, "exited", 0)), nil), StatusFail)
	wantStatus(t, CheckNoLostSpawn(h.ops, final(proc(2, "exited", 0)), map[uint64]int64{3: ms(50)}), StatusPass)
	wantStatus(t, CheckNoLostSpawn(h.ops, &FinalRead{Err: "no leader"}, nil), StatusFail)

	// An unknown spawn the final read reveals must stay.
	ops := []Op{{ID: 0, Kind: OpSpawn, Token: "jepsen-9", Call: 0, Return: Unknown, Outcome: OutcomeUnknown}}
	if dups := ResolveSpawns(ops, map[uint64]string{4: "jepsen-9"}); len(dups) != 0 || ops[0].RetPID != 4 || !ops[0].Resolved {
		t.Fatalf("ResolveSpawns: got %+v dups %v, want PID 4 resolved", ops[0], dups)
	}
	wantStatus(t, CheckNoLostSpawn(ops, final(proc(4, "running", 0)), nil), StatusPass)
	wantStatus(t, CheckNoLostSpawn(ops, final(), nil), StatusFail)
}

func TestResolveSpawnsDuplicates(t *testing.T) {
	ops := []Op{{Kind: OpSpawn, Token: "jepsen-1", RetPID: 2, Outcome: OutcomeOK}}
	dups := ResolveSpawns(ops, map[uint64]string{2: "jepsen-1", 3: "jepsen-1", 4: "root"})
	if got := dups["jepsen-1"]; len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Fatalf("got dups %v, want jepsen-1 on PIDs 2 and 3", dups)
	}
}

func beat(pid, inc uint64, node string, at int64) Beat {
	return Beat{PID: pid, Incarnation: inc, Node: node, At: ms(at)}
}

func TestOneRunner(t *testing.T) {
	var clean, overlap, sameIncTwoNodes []Beat
	for t := int64(100); t <= 500; t += 100 {
		clean = append(clean, beat(4, 1, "n1", t))
		overlap = append(overlap, beat(4, 1, "n1", t))
		sameIncTwoNodes = append(sameIncTwoNodes, beat(4, 1, "n1", t))
	}
	for t := int64(600); t <= 900; t += 100 {
		clean = append(clean, beat(4, 2, "n2", t))
	}
	for t := int64(400); t <= 800; t += 100 {
		overlap = append(overlap, beat(4, 2, "n2", t))
	}
	sameIncTwoNodes = append(sameIncTwoNodes, beat(4, 1, "n3", 300))
	// Another PID running alongside is fine.
	clean = append(clean, beat(5, 1, "n1", 450))

	wantStatus(t, CheckOneRunner(clean), StatusPass)
	wantStatus(t, CheckOneRunner(overlap), StatusFail)
	wantStatus(t, CheckOneRunner(sameIncTwoNodes), StatusFail)
	wantStatus(t, CheckOneRunner(nil), StatusSkipped)
}

func TestKillFinal(t *testing.T) {
	const grace = 500 * time.Millisecond
	base := func() *hb {
		return new(hb).add(Op{Kind: OpSpawn, Command: "heartbeat", Restart: true, RetPID: 4, Call: 0, Return: ms(10)}).
			kill(4, 9, 1000, 1100, 1)
	}
	dead := final(proc(4, "exited", 9))
	tests := []struct {
		name  string
		beats []Beat
		final *FinalRead
		want  Status
	}{
		{"beats stop", []Beat{beat(4, 1, "n1", 900), beat(4, 1, "n1", 1050), beat(4, 1, "n1", 1500)}, dead, StatusPass},
		{"a beat after the grace", []Beat{beat(4, 1, "n1", 900), beat(4, 1, "n1", 1700)}, dead, StatusFail},
		{"a new incarnation after the kill", []Beat{beat(4, 1, "n1", 900), beat(4, 2, "n2", 1200)}, dead, StatusFail},
		{"still running in the final read", nil, final(proc(4, "running", 0)), StatusFail},
		{"a pending restart in the final read", nil, final(proc(4, "pending", 0)), StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, CheckKillFinal(base().ops, tt.beats, tt.final, grace), tt.want)
		})
	}
	t.Run("every wait sees the final status", func(t *testing.T) {
		h := new(hb).spawn(2, 0, 10).
			add(Op{Kind: OpWait, PID: 2, Call: ms(20), Return: ms(30), State: "exited", Status: "code=0"})
		wantStatus(t, CheckKillFinal(h.ops, nil, final(proc(2, "exited", 9)), grace), StatusFail)
		wantStatus(t, CheckKillFinal(h.ops, nil, final(api.Process{PID: 2, State: "exited", ExitCode: new(int)}), grace), StatusPass)
	})
}

func TestBoundedFinish(t *testing.T) {
	h := new(hb).spawn(2, 0, 10).spawn(3, 20, 30).
		add(Op{Kind: OpSpawn, Command: "heartbeat", Restart: true, RetPID: 4, Call: ms(40), Return: ms(50)})
	wantStatus(t, CheckBoundedFinish(h.ops, final(proc(2, "exited", 0), proc(3, "lost", 0), proc(4, "running", 0))), StatusPass)
	wantStatus(t, CheckBoundedFinish(h.ops, final(proc(2, "exited", 0), proc(3, "running", 0))), StatusFail)
	wantStatus(t, CheckBoundedFinish(h.ops, &FinalRead{Err: "no leader"}), StatusSkipped)
}

func TestSignalsAtMostOnce(t *testing.T) {
	h := new(hb).spawn(4, 0, 10).kill(4, 10, 100, 110, 1).
		add(Op{Kind: OpKill, PID: 4, Signal: 12, Call: ms(200), Return: Unknown, Outcome: OutcomeUnknown})
	d := func(sig int, at int64) Delivery {
		return Delivery{PID: 4, Incarnation: 1, Node: "n1", Signal: sig, At: ms(at)}
	}
	wantStatus(t, CheckSignalsAtMostOnce(h.ops, []Delivery{d(10, 120), d(12, 250)}, CountedSignals), StatusPass)
	wantStatus(t, CheckSignalsAtMostOnce(h.ops, []Delivery{d(10, 120)}, CountedSignals), StatusPass) // merged or lost in a failover
	wantStatus(t, CheckSignalsAtMostOnce(h.ops, []Delivery{d(10, 120), d(10, 130)}, CountedSignals), StatusFail)
	wantStatus(t, CheckSignalsAtMostOnce(h.ops, []Delivery{d(12, 250), d(12, 260)}, CountedSignals), StatusFail)
	wantStatus(t, CheckSignalsAtMostOnce(new(hb).spawn(4, 0, 10).ops, nil, CountedSignals), StatusSkipped)
}

func TestConvergence(t *testing.T) {
	s := func(node string, idx uint64, hash string) StateSample {
		return StateSample{Node: node, Info: api.StateInfo{Node: node, AppliedIndex: idx, Hash: hash}}
	}
	tests := []struct {
		name   string
		rounds [][]StateSample
		want   Status
	}{
		{"converges", [][]StateSample{
			{s("n1", 10, "a"), s("n2", 9, "b"), {Node: "n3", Err: "connection refused"}},
			{s("n1", 10, "a"), s("n2", 10, "a"), s("n3", 10, "a")},
		}, StatusPass},
		{"never agrees", [][]StateSample{
			{s("n1", 10, "a"), s("n2", 9, "b"), s("n3", 10, "a")},
		}, StatusFail},
		{"diverged at one index", [][]StateSample{
			{s("n1", 10, "a"), s("n2", 10, "x"), s("n3", 10, "a")},
			{s("n1", 11, "c"), s("n2", 11, "c"), s("n3", 11, "c")},
		}, StatusFail},
		{"no round", nil, StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantStatus(t, CheckConvergence(tt.rounds), tt.want) })
	}
}

func TestParseLogLine(t *testing.T) {
	tests := []struct {
		line  string
		beat  *Beat
		deliv *Delivery
	}{
		{"hb pid=4 inc=2 node=n1 mono=123456789", &Beat{PID: 4, Incarnation: 2, Node: "n1", Mono: 123456789}, nil},
		{"heartbeat pid=4 inc=2 node=n1 mono=5 seq=9", &Beat{PID: 4, Incarnation: 2, Node: "n1", Mono: 5}, nil},
		{"sig pid=4 inc=2 node=n3 sig=10 mono=77", nil, &Delivery{PID: 4, Incarnation: 2, Node: "n3", Signal: 10, Mono: 77}},
		{"hb pid=4 inc=2 node=n1", nil, nil},
		{"hb pid=x inc=2 node=n1 mono=1", nil, nil},
		{"sig pid=4 inc=2 node=n1 mono=1", nil, nil},
		{"hello world", nil, nil},
		{"", nil, nil},
	}
	for _, tt := range tests {
		b, d, ok := ParseLogLine(tt.line)
		if ok != (tt.beat != nil || tt.deliv != nil) {
			t.Errorf("ParseLogLine(%q): got ok %v", tt.line, ok)
			continue
		}
		if tt.beat != nil && (b == nil || *b != *tt.beat) {
			t.Errorf("ParseLogLine(%q): got beat %+v, want %+v", tt.line, b, tt.beat)
		}
		if tt.deliv != nil && (d == nil || *d != *tt.deliv) {
			t.Errorf("ParseLogLine(%q): got delivery %+v, want %+v", tt.line, d, tt.deliv)
		}
	}
}

func TestHistoryDropsLinesReadTwice(t *testing.T) {
	h := NewHistory(NewClock())
	b := Beat{PID: 4, Incarnation: 1, Node: "n1", Mono: MonoNow()}
	h.AddBeat(b)
	h.AddBeat(b)
	d := Delivery{PID: 4, Incarnation: 1, Node: "n1", Signal: 10, Mono: MonoNow()}
	h.AddDelivery(d)
	h.AddDelivery(d)
	if got := len(h.Beats()); got != 1 {
		t.Errorf("got %d beats, want 1", got)
	}
	if got := len(h.Deliveries()); got != 1 {
		t.Errorf("got %d deliveries, want 1", got)
	}
	if at := h.Beats()[0].At; at < 0 || at > int64(time.Minute) {
		t.Errorf("got beat at %d, want a small positive history time", at)
	}
}

func TestReportFailsOnAnyViolation(t *testing.T) {
	r := &Report{Seed: 7, Nodes: 3, Duration: time.Minute, Verdicts: []Verdict{
		{Check: "a", Status: StatusPass}, {Check: "b", Status: StatusSkipped}, {Check: "c", Status: StatusInconclusive},
	}}
	if r.Failed() {
		t.Fatal("got failed, want pass: nothing failed")
	}
	r.Verdicts = append(r.Verdicts, Verdict{Check: "d", Status: StatusFail, Violations: []string{"x"}})
	if !r.Failed() {
		t.Fatal("got pass, want failed")
	}
	if s := r.String(); !strings.Contains(s, "-jepsen.seed=7") || !strings.Contains(s, "FAIL (d)") {
		t.Errorf("report does not say how to replay or what failed:\n%s", s)
	}
}

func TestCheckNoRerun(t *testing.T) {
	kill := Fault{Kind: FaultKillAll, Targets: []string{"n1", "n2", "n3"}, Start: 100, End: 200}
	for _, tc := range []struct {
		name   string
		beats  []Beat
		faults []Fault
		want   Status
	}{
		{"no heartbeats", nil, []Fault{kill}, StatusSkipped},
		{"died with its node", []Beat{{PID: 5, Incarnation: 1, Node: "n1", At: 50}, {PID: 5, Incarnation: 1, Node: "n1", At: 90}}, []Fault{kill}, StatusPass},
		{"restarted as a new incarnation", []Beat{{PID: 5, Incarnation: 1, Node: "n1", At: 50}, {PID: 5, Incarnation: 2, Node: "n1", At: 250}}, []Fault{kill}, StatusPass},
		{"same incarnation again", []Beat{{PID: 5, Incarnation: 1, Node: "n1", At: 50}, {PID: 5, Incarnation: 1, Node: "n1", At: 250}}, []Fault{kill}, StatusFail},
		{"another node was killed", []Beat{{PID: 5, Incarnation: 1, Node: "n4", At: 50}, {PID: 5, Incarnation: 1, Node: "n4", At: 250}}, []Fault{kill}, StatusPass},
		{"a pause is not a kill", []Beat{{PID: 5, Incarnation: 1, Node: "n1", At: 50}, {PID: 5, Incarnation: 1, Node: "n1", At: 250}},
			[]Fault{{Kind: FaultPauseOne, Targets: []string{"n1"}, Start: 100, End: 200}}, StatusPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckNoRerun(tc.beats, tc.faults); got.Status != tc.want {
				t.Fatalf("CheckNoRerun: got %s (%s), want %s", got.Status, got.Summary, tc.want)
			}
		})
	}
}
