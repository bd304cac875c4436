package fsm

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func cmdlineLen(cmd string, args []string) int {
	n := len(cmd)
	for _, a := range args {
		n += 1 + len(a)
	}
	return n
}

func TestCutCmdline(t *testing.T) {
	long := strings.Repeat("x", 300)
	many := make([]string, 12)
	for i := range many {
		many[i] = "a"
	}
	for _, tc := range []struct {
		name     string
		cmd      string
		args     []string
		wantCmd  string
		wantArgs []string
		cut      bool
	}{
		{"short", "sh", []string{"-c", "true"}, "sh", []string{"-c", "true"}, false},
		{"no args", "true", nil, "true", nil, false},
		{"exactly the bound", "sh", []string{strings.Repeat("y", ExitedCmdline-3)}, "sh", []string{strings.Repeat("y", ExitedCmdline-3)}, false},
		{"one byte over", "sh", []string{strings.Repeat("y", ExitedCmdline-2)}, "sh", []string{strings.Repeat("y", ExitedCmdline-3-len(CutMark)) + CutMark}, true},
		{"long argument", "sh", []string{"-c", long, "tail"}, "sh", []string{"-c", long[:ExitedCmdline-len(CutMark)-2-3-1] + CutMark}, true},
		{"long command", long, []string{"x"}, long[:ExitedCmdline-len(CutMark)] + CutMark, nil, true},
		{"too many arguments", "echo", many, "echo", append(append([]string{}, many[:ExitedArgs-1]...), "a"+CutMark), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, args, cut := cutCmdline(tc.cmd, tc.args)
			if cmd != tc.wantCmd || !reflect.DeepEqual(args, tc.wantArgs) || cut != tc.cut {
				t.Fatalf("got %q %q %v, want %q %q %v", cmd, args, cut, tc.wantCmd, tc.wantArgs, tc.cut)
			}
			if n := cmdlineLen(cmd, args); n > ExitedCmdline {
				t.Fatalf("kept %d bytes, above %d", n, ExitedCmdline)
			}
		})
	}
	// A cut never splits a UTF-8 sequence.
	for pad := range 4 {
		arg := strings.Repeat("é", 100)
		cmd, args, cut := cutCmdline(strings.Repeat("c", pad+1), []string{arg})
		if !cut || len(args) != 1 || !utf8.ValidString(args[0]) || !strings.HasSuffix(args[0], CutMark) {
			t.Fatalf("pad %d: got %q %q %v", pad, cmd, args, cut)
		}
		if n := cmdlineLen(cmd, args); n > ExitedCmdline || n < ExitedCmdline-1 {
			t.Fatalf("pad %d: kept %d bytes, want %d or one less", pad, n, ExitedCmdline)
		}
	}
}

// bulkySpec has something of every field that compaction drops.
func bulkySpec() Spec {
	return Spec{
		Command:     "sh",
		Args:        []string{"-c", strings.Repeat("echo hello; ", 30)},
		Env:         []string{"BIG=" + strings.Repeat("v", 4096), "HOME=/home/alice"},
		Cwd:         "/home/alice",
		Priority:    70,
		Limits:      Limits{NoFile: Limit{Soft: 8, Hard: 16}},
		Promises:    "stdio proc",
		Unveil:      []Unveil{{Path: "/tmp", Perms: "rw"}},
		Constraints: []Constraint{{Label: "zone", Value: "a"}},
		Uses:        []Use{{Kind: KindMQ, Name: "/q"}},
		Stdin:       true,
	}
}

// wantCompacted checks that p's spec is the compacted form of full.
func wantCompacted(t *testing.T, p Process, full Spec) {
	t.Helper()
	s := p.Spec
	if len(s.Env) != 0 || s.Cwd != "" || len(s.Unveil) != 0 || len(s.Constraints) != 0 || s.Node != "" ||
		len(s.Uses) != 0 || s.InheritsPipesFrom != 0 || len(s.Files) != 0 {
		t.Fatalf("pid %d %s: spec not compacted: %+v", p.PID, p.State, s)
	}
	if s.Command != full.Command || s.Priority != full.Priority || s.Limits != full.Limits ||
		s.Promises != full.Promises || s.Restart != full.Restart || s.Stdin != full.Stdin {
		t.Fatalf("pid %d: compaction lost a kept field: %+v from %+v", p.PID, s, full)
	}
	if n := cmdlineLen(s.Command, s.Args); n > ExitedCmdline {
		t.Fatalf("pid %d keeps a command line of %d bytes", p.PID, n)
	}
	if len(s.Args) == 0 || s.Args[0] != full.Args[0] || !strings.HasSuffix(s.Args[len(s.Args)-1], CutMark) {
		t.Fatalf("pid %d keeps args %q", p.PID, s.Args)
	}
}

// TestExitCompactsTheRecord: every way to exited or lost compacts the
// record; a restart runs the whole spec again; what is still live keeps
// it.
func TestExitCompactsTheRecord(t *testing.T) {
	h := newHarness(t)
	h.node("n1", Label{"zone", "a"})
	h.node("n2", Label{"zone", "a"})
	full := bulkySpec()
	full.Restart = Restart{Policy: RestartOnFailure, MaxRestarts: 1}

	// A failure restarts it with its whole spec; the second gives up.
	pid := h.run(0, full, "n1")
	h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true, Code: 1}, Now: h.now})
	if p := h.get(pid); p.State != StatePending || !reflect.DeepEqual(p.Spec.Env, full.Env) || p.Spec.Cwd != full.Cwd {
		t.Fatalf("restarted record lost its spec: %s %+v", p.State, p.Spec)
	}
	h.now += int64(DefaultBackoffMax)
	h.ok(&Place{PID: pid, Incarnation: 2, ExpectState: StatePending, Node: "n1", Now: h.now})
	h.ok(&Exited{PID: pid, Incarnation: 2, Node: "n1", Started: true, Status: Status{Exited: true, Code: 1}, Now: h.now})
	exited := h.get(pid)
	if exited.State != StateExited {
		t.Fatalf("state %s, want exited", exited.State)
	}
	full.Restart.BackoffBase, full.Restart.BackoffMax = DefaultBackoffBase, DefaultBackoffMax
	wantCompacted(t, exited, full)

	// Killed while pending, lost with its node, signalled before it ran.
	pending := h.spawn(0, bulkySpec())
	h.ok(&Signal{ID: 1, Target: int64(pending), Signal: SIGKILL, Now: h.now})
	onN2 := h.run(0, bulkySpec(), "n2")
	h.ok(&NodeLost{Node: "n2", Now: h.now})
	unstarted := h.spawn(0, bulkySpec())
	h.ok(&Signal{ID: 2, Target: int64(unstarted), Signal: 15, Unstarted: true, Now: h.now})
	live := h.run(0, bulkySpec(), "n1")
	norm := bulkySpec()
	norm.Restart = Restart{Policy: RestartNever, BackoffBase: DefaultBackoffBase, BackoffMax: DefaultBackoffMax}
	for _, pid := range []uint64{pending, onN2, unstarted} {
		p := h.get(pid)
		if p.State.Live() {
			t.Fatalf("pid %d is %s", pid, p.State)
		}
		wantCompacted(t, p, norm)
	}
	if p := h.get(live); !reflect.DeepEqual(*p.Spec, norm) {
		t.Fatalf("a running record changed its spec: %+v", p.Spec)
	}

	// A small record has nothing to drop and keeps its spec as it is.
	small := h.run(0, sleepSpec(), "n1")
	before := h.get(small).Spec
	h.ok(&Exited{PID: small, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	if h.get(small).Spec != before {
		t.Fatal("a record with nothing to drop got a new spec")
	}

	// A replica that restores a snapshot of the table and one that
	// replays the log agree.
	f, _ := New(DefaultConfig())
	if err := f.Restore(bytes.NewReader(persist(t, h.f.Snapshot()))); err != nil {
		t.Fatal(err)
	}
	g, _ := New(DefaultConfig())
	for i, data := range h.log {
		g.Apply(uint64(i+1), data)
	}
	if f.Hash() != h.f.Hash() || g.Hash() != h.f.Hash() {
		t.Fatal("restored or replayed table's hash differs")
	}
}

// TestRestoreCompactsOldSnapshots: a snapshot whose exited records are
// whole, as a release before compaction wrote it, loads, and the table
// is the one a replica that applied the exits holds.
func TestRestoreCompactsOldSnapshots(t *testing.T) {
	h := newHarness(t)
	h.node("n1", Label{"zone", "a"})
	full := bulkySpec()
	pid := h.run(0, full, "n1")
	h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	want := h.f.Hash()

	// Put the whole spec back into the exited record, as an older
	// release kept it, and snapshot that.
	old, _ := New(DefaultConfig())
	if err := old.Restore(bytes.NewReader(persist(t, h.f.Snapshot()))); err != nil {
		t.Fatal(err)
	}
	p := *old.st.proc(pid)
	norm := h.get(pid).Spec
	whole := full
	whole.Priority, whole.Restart = norm.Priority, norm.Restart
	p.Spec = &whole
	old.st.procs.ReplaceOrInsert(pidItem{pid: pid, p: &p})
	data := persist(t, old.Snapshot())
	if !bytes.Contains(data, []byte(full.Env[0])) {
		t.Fatal("the old-style snapshot does not hold the environment")
	}

	f, _ := New(DefaultConfig())
	if err := f.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	got, _ := f.Get(pid)
	wantCompacted(t, got, whole)
	if f.Hash() != want {
		t.Fatal("the restored table's hash differs from the one that applied the exit")
	}
}
