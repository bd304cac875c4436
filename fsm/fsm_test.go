package fsm

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewHasInit(t *testing.T) {
	h := newHarness(t)
	p := h.get(InitPID)
	if p.State != StateRunning || p.Parent != 0 || p.Pgid != 1 || p.Sid != 1 {
		t.Fatalf("init = %+v, want running, parent 0, pgid 1, sid 1", p)
	}
	if got := h.f.NextPID(); got != 2 {
		t.Fatalf("NextPID() = %d, want 2", got)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New(Config{}) succeeded, want a validation error")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"short ttl", func(c *Config) { c.SessionTTL = time.Millisecond }, false},
		{"no sessions", func(c *Config) { c.MaxSessions = 0 }, false},
		{"no cache", func(c *Config) { c.MaxCachedResponses = 0 }, false},
		{"huge cache", func(c *Config) { c.MaxCachedResponses = 1 << 21 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestSpawn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness) *Spawn
		want  error
		check func(t *testing.T, h *harness, r *Result)
	}{
		{
			name:  "child of init leads a session",
			setup: func(h *harness) *Spawn { return &Spawn{Spec: sleepSpec(), Now: h.now} },
			check: func(t *testing.T, h *harness, r *Result) {
				p := h.get(r.PID)
				if r.PID != 2 || p.Parent != 1 || p.Pgid != 2 || p.Sid != 2 || p.State != StatePending || p.Incarnation != 1 {
					t.Fatalf("got %+v, want pid 2 parent 1 pgid 2 sid 2 pending inc 1", p)
				}
				if p.Spec.Priority != DefaultPriority || p.Spec.Restart.Policy != RestartNever || p.Spec.Restart.BackoffBase != DefaultBackoffBase {
					t.Fatalf("spec defaults not filled: %+v", p.Spec)
				}
				if p.CreatedAt != h.now || p.CreateIndex != h.idx {
					t.Fatalf("created at %d index %d, want %d %d", p.CreatedAt, p.CreateIndex, h.now, h.idx)
				}
			},
		},
		{
			name: "grandchild inherits group and session",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, sleepSpec())
				return &Spawn{Parent: par, Spec: sleepSpec(), Now: h.now}
			},
			check: func(t *testing.T, h *harness, r *Result) {
				p := h.get(r.PID)
				if p.Parent != 2 || p.Pgid != 2 || p.Sid != 2 {
					t.Fatalf("got parent %d pgid %d sid %d, want 2 2 2", p.Parent, p.Pgid, p.Sid)
				}
				if kids := h.f.List(Filter{Parent: 2}); len(kids) != 1 || kids[0].PID != r.PID {
					t.Fatalf("children of 2 = %v, want [%d]", kids, r.PID)
				}
			},
		},
		{
			name: "new group",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, sleepSpec())
				return &Spawn{Parent: par, NewGroup: true, Spec: sleepSpec(), Now: h.now}
			},
			check: func(t *testing.T, h *harness, r *Result) {
				if p := h.get(r.PID); p.Pgid != r.PID || p.Sid != 2 {
					t.Fatalf("got pgid %d sid %d, want %d 2", p.Pgid, p.Sid, r.PID)
				}
			},
		},
		{
			name: "join group",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, sleepSpec())
				g := h.ok(&Spawn{Parent: par, NewGroup: true, Spec: sleepSpec(), Now: h.now}).PID
				return &Spawn{Parent: par, JoinGroup: g, Spec: sleepSpec(), Now: h.now}
			},
			check: func(t *testing.T, h *harness, r *Result) {
				if p := h.get(r.PID); p.Pgid != 3 {
					t.Fatalf("got pgid %d, want 3", p.Pgid)
				}
			},
		},
		{
			name: "join group of another session",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, sleepSpec())
				other := h.spawn(0, sleepSpec())
				return &Spawn{Parent: par, JoinGroup: other, Spec: sleepSpec(), Now: h.now}
			},
			want: ErrPermission,
		},
		{
			name: "parent missing",
			setup: func(h *harness) *Spawn {
				return &Spawn{Parent: 99, Spec: sleepSpec(), Now: h.now}
			},
			want: ErrNoSuchProcess,
		},
		{
			name: "parent exited",
			setup: func(h *harness) *Spawn {
				par := h.run(0, sleepSpec(), "n1")
				h.ok(&Exited{PID: par, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
				return &Spawn{Parent: par, Spec: sleepSpec(), Now: h.now}
			},
			want: ErrNoSuchProcess,
		},
		{
			name:  "empty command",
			setup: func(h *harness) *Spawn { return &Spawn{Now: h.now} },
			want:  ErrInvalid,
		},
		{
			name:  "priority out of range",
			setup: func(h *harness) *Spawn { return &Spawn{Spec: Spec{Command: "x", Priority: 101}, Now: h.now} },
			want:  ErrInvalid,
		},
		{
			name: "bad restart policy",
			setup: func(h *harness) *Spawn {
				return &Spawn{Spec: Spec{Command: "x", Restart: Restart{Policy: "sometimes"}}, Now: h.now}
			},
			want: ErrInvalid,
		},
		{
			name: "backoff max below base",
			setup: func(h *harness) *Spawn {
				return &Spawn{Spec: Spec{Command: "x", Restart: Restart{Policy: RestartAlways, BackoffBase: time.Minute, BackoffMax: time.Second}}, Now: h.now}
			},
			want: ErrInvalid,
		},
		{
			name: "soft above hard",
			setup: func(h *harness) *Spawn {
				return &Spawn{Spec: Spec{Command: "x", Limits: Limits{NoFile: Limit{Soft: 10, Hard: 5}}}, Now: h.now}
			},
			want: ErrInvalid,
		},
		{
			name: "limits inherited and capped",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, Spec{Command: "sh", Limits: Limits{NoFile: Limit{Soft: 32, Hard: 64}, Mem: Limit{Soft: 100, Hard: 200}}})
				return &Spawn{Parent: par, Spec: Spec{Command: "x", Limits: Limits{Mem: Limit{Soft: 50}}}, Now: h.now}
			},
			check: func(t *testing.T, h *harness, r *Result) {
				l := h.get(r.PID).Spec.Limits
				if l.NoFile != (Limit{Soft: 32, Hard: 64}) || l.Mem != (Limit{Soft: 50, Hard: 200}) {
					t.Fatalf("limits = %+v, want nofile 32:64 mem 50:200", l)
				}
			},
		},
		{
			name: "limit above parent's hard",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, Spec{Command: "sh", Limits: Limits{NProc: Limit{Soft: 4, Hard: 8}}})
				return &Spawn{Parent: par, Spec: Spec{Command: "x", Limits: Limits{NProc: Limit{Soft: 4, Hard: 16}}}, Now: h.now}
			},
			want: ErrPermission,
		},
		{
			name: "promises narrowed",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, Spec{Command: "sh", Promises: "stdio rpath wpath"})
				return &Spawn{Parent: par, Spec: Spec{Command: "x", Promises: "stdio"}, Now: h.now}
			},
			check: func(t *testing.T, h *harness, r *Result) {
				if got := h.get(r.PID).Spec.Promises; got != "stdio" {
					t.Fatalf("promises = %q, want stdio", got)
				}
			},
		},
		{
			name: "promises inherited",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, Spec{Command: "sh", Promises: "stdio", Unveil: []Unveil{{Path: "/data", Perms: "rw"}}})
				return &Spawn{Parent: par, Spec: Spec{Command: "x"}, Now: h.now}
			},
			check: func(t *testing.T, h *harness, r *Result) {
				p := h.get(r.PID)
				if p.Spec.Promises != "stdio" || len(p.Spec.Unveil) != 1 {
					t.Fatalf("promises %q unveil %v, want inherited", p.Spec.Promises, p.Spec.Unveil)
				}
			},
		},
		{
			name: "promises widened",
			setup: func(h *harness) *Spawn {
				par := h.spawn(0, Spec{Command: "sh", Promises: "stdio"})
				return &Spawn{Parent: par, Spec: Spec{Command: "x", Promises: "stdio inet"}, Now: h.now}
			},
			want: ErrPermission,
		},
		{
			name: "bad unveil",
			setup: func(h *harness) *Spawn {
				return &Spawn{Spec: Spec{Command: "x", Unveil: []Unveil{{Path: "/", Perms: "q"}}}, Now: h.now}
			},
			want: ErrInvalid,
		},
		{
			name: "bad use",
			setup: func(h *harness) *Spawn {
				return &Spawn{Spec: Spec{Command: "x", Uses: []Use{{Kind: KindMQ, Name: "/a/b"}}}, Now: h.now}
			},
			want: ErrInvalid,
		},
		{
			name: "inherits pipes from a missing pid",
			setup: func(h *harness) *Spawn {
				return &Spawn{Spec: Spec{Command: "x", InheritsPipesFrom: 42}, Now: h.now}
			},
			want: ErrInvalid,
		},
		{
			name: "pid space exhausted",
			setup: func(h *harness) *Spawn {
				h.ok(&RaisePIDFloor{Floor: ^uint64(0)})
				return &Spawn{Spec: sleepSpec(), Now: h.now}
			},
			want: ErrInvalid,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.node("n1")
			c := tc.setup(h)
			next := h.f.NextPID()
			r := h.apply(c)
			wantErr(t, r, tc.want)
			if tc.want != nil {
				if got := h.f.NextPID(); got != next {
					t.Fatalf("failed spawn moved NextPID from %d to %d", next, got)
				}
				return
			}
			if r.PID != next || h.f.NextPID() != next+1 {
				t.Fatalf("spawn got pid %d, next %d; want %d, %d", r.PID, h.f.NextPID(), next, next+1)
			}
			if tc.check != nil {
				tc.check(t, h, r)
			}
		})
	}
}

func TestPlace(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(h *harness, p *Place)
		want error
	}{
		{"ok", func(*harness, *Place) {}, nil},
		{"missing pid", func(_ *harness, p *Place) { p.PID = 99 }, ErrNoSuchProcess},
		{"stale incarnation", func(_ *harness, p *Place) { p.Incarnation = 2 }, ErrStale},
		{"expect running", func(_ *harness, p *Place) { p.ExpectState = StateRunning }, ErrInvalid},
		{"already placed", func(h *harness, p *Place) {
			h.ok(&Place{PID: p.PID, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
		}, ErrStale},
		{"unknown node", func(_ *harness, p *Place) { p.Node = "n9" }, ErrStale},
		{"node down", func(h *harness, p *Place) { h.ok(&SetNodeStatus{ID: "n1", Status: NodeDown, Now: h.now}) }, ErrStale},
		{"killed", func(h *harness, p *Place) {
			h.ok(&Signal{Target: int64(p.PID), Signal: SIGKILL, Now: h.now})
		}, ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.node("n1")
			pid := h.spawn(0, sleepSpec())
			c := &Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now}
			tc.mod(h, c)
			before := h.get(pid)
			r := h.apply(c)
			wantErr(t, r, tc.want)
			p := h.get(pid)
			if tc.want != nil {
				if p.State != before.State || p.Node != before.Node {
					t.Fatalf("failed place changed %s/%q to %s/%q", before.State, before.Node, p.State, p.Node)
				}
				return
			}
			if p.State != StatePlaced || p.Node != "n1" || r.State != StatePlaced {
				t.Fatalf("got %s on %q, want placed on n1", p.State, p.Node)
			}
			if len(h.f.Pending()) != 0 {
				t.Fatalf("placed process still pending")
			}
		})
	}
}

func TestPlaceConstraints(t *testing.T) {
	h := newHarness(t)
	h.node("n1", Label{"zone", "a"})
	h.node("n2", Label{"zone", "b"})
	pin := h.spawn(0, Spec{Command: "x", Node: "n2"})
	con := h.spawn(0, Spec{Command: "x", Constraints: []Constraint{{Label: "zone", Value: "b"}}})
	for _, pid := range []uint64{pin, con} {
		wantErr(t, h.apply(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now}), ErrInvalid)
		wantErr(t, h.apply(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n2", Now: h.now}), nil)
	}
}

func TestNodeEvents(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	pid := h.spawn(0, sleepSpec())
	h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
	steps := []struct {
		cmd   Command
		want  error
		state State
	}{
		{&Started{PID: pid, Incarnation: 1, Node: "n2", Now: h.now}, ErrStale, StatePlaced},
		{&Started{PID: pid, Incarnation: 2, Node: "n1", Now: h.now}, ErrStale, StatePlaced},
		{&Continued{PID: pid, Incarnation: 1, Node: "n1", Now: h.now + 1}, nil, StateRunning},
		{&Started{PID: pid, Incarnation: 1, Node: "n1", Now: h.now + 2}, nil, StateRunning},
		{&Stopped{PID: pid, Incarnation: 1, Node: "n1", Signal: 19, Now: h.now}, nil, StateStopped},
		{&Stopped{PID: pid, Incarnation: 1, Node: "n1", Signal: 19, Now: h.now}, nil, StateStopped},
		{&Started{PID: pid, Incarnation: 1, Node: "n1", Now: h.now}, ErrStale, StateStopped},
		{&Continued{PID: pid, Incarnation: 1, Node: "n1", Now: h.now}, nil, StateRunning},
		{&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true, Code: 300}, Now: h.now}, ErrInvalid, StateRunning},
		{&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true, Code: 3, Signal: 9}, Now: h.now}, ErrInvalid, StateRunning},
		{&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true, Code: 3}, Now: h.now + 5}, nil, StateExited},
		{&Continued{PID: pid, Incarnation: 1, Node: "n1", Now: h.now}, ErrStale, StateExited},
		{&Started{PID: 77, Incarnation: 1, Node: "n1", Now: h.now}, ErrNoSuchProcess, StateExited},
	}
	for i, s := range steps {
		r := h.apply(s.cmd)
		if !errors.Is(r.Err, s.want) && (s.want != nil || r.Err != nil) {
			t.Fatalf("step %d %v: got %v, want %v", i, s.cmd.Type(), r.Err, s.want)
		}
		if got := h.get(pid).State; got != s.state {
			t.Fatalf("step %d %v: state %s, want %s", i, s.cmd.Type(), got, s.state)
		}
	}
	p := h.get(pid)
	if p.StartedAt != t0+1 || p.ExitedAt != t0+5 || p.Status.Code != 3 {
		t.Fatalf("got started %d exited %d status %+v", p.StartedAt, p.ExitedAt, p.Status)
	}
	// A duplicate exit returns the first status and changes nothing.
	mod := p.ModifyIndex
	r := h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true, Code: 9}, Now: h.now})
	if r.Status.Code != 3 || r.State != StateExited || h.get(pid).ModifyIndex != mod {
		t.Fatalf("duplicate exit: got %+v, want the first status unchanged", r)
	}
}

func TestRestartPolicies(t *testing.T) {
	ok := Status{Exited: true}
	bad := Status{Exited: true, Code: 1}
	sig := Status{Signal: 11, Core: true}
	for _, tc := range []struct {
		name     string
		restart  Restart
		statuses []Status
		// want: the state after each exit
		want []State
	}{
		{"never", Restart{}, []Status{bad}, []State{StateExited}},
		{"on-failure success", Restart{Policy: RestartOnFailure}, []Status{ok}, []State{StateExited}},
		{"on-failure failures", Restart{Policy: RestartOnFailure, MaxRestarts: 2}, []Status{bad, sig, bad}, []State{StatePending, StatePending, StateExited}},
		{"always", Restart{Policy: RestartAlways, MaxRestarts: 2}, []Status{ok, ok, ok}, []State{StatePending, StatePending, StateExited}},
		{"always unbounded", Restart{Policy: RestartAlways}, []Status{ok, bad, sig, ok}, []State{StatePending, StatePending, StatePending, StatePending}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.node("n1")
			spec := sleepSpec()
			spec.Restart = tc.restart
			pid := h.run(0, spec, "n1")
			for i, st := range tc.statuses {
				p := h.get(pid)
				inc := p.Incarnation
				if p.State == StatePending {
					h.now = p.NotBefore
					h.ok(&Place{PID: pid, Incarnation: inc, ExpectState: StatePending, Node: "n1", Now: h.now})
					h.ok(&Started{PID: pid, Incarnation: inc, Node: "n1", Now: h.now})
				}
				r := h.ok(&Exited{PID: pid, Incarnation: inc, Node: "n1", Status: st, Now: h.now})
				p = h.get(pid)
				if p.State != tc.want[i] || r.State != tc.want[i] {
					t.Fatalf("exit %d: state %s (result %s), want %s", i, p.State, r.State, tc.want[i])
				}
				if p.State == StatePending {
					wantDelay := backoff(&p.Spec.Restart, p.Restarts)
					if p.Incarnation != inc+1 || p.Restarts != i+1 || p.Node != "" || p.NotBefore != h.now+int64(wantDelay) {
						t.Fatalf("exit %d: got inc %d restarts %d node %q notBefore %d, want %d %d \"\" %d",
							i, p.Incarnation, p.Restarts, p.Node, p.NotBefore, inc+1, i+1, h.now+int64(wantDelay))
					}
					// The backoff holds placement back.
					if wantDelay > 0 {
						wantErr(t, h.apply(&Place{PID: pid, Incarnation: p.Incarnation, ExpectState: StatePending, Node: "n1", Now: h.now}), ErrStale)
					}
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	r := Restart{BackoffBase: time.Second, BackoffMax: 10 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 1000: 10 * time.Second} {
		if got := backoff(&r, n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestExitReparentsAndSignalsParent(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	par := h.run(0, sleepSpec(), "n1")
	child := h.run(par, sleepSpec(), "n1")
	grand := h.run(child, sleepSpec(), "n1")
	h.ok(&Exited{PID: child, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	if g := h.get(grand); g.Parent != InitPID {
		t.Fatalf("grandchild parent = %d, want 1", g.Parent)
	}
	if kids := h.f.List(Filter{Parent: InitPID}); len(kids) != 2 || kids[1].PID != grand {
		t.Fatalf("children of init = %v, want [%d %d]", kids, par, grand)
	}
	sigs := h.f.View().SignalsFor(par)
	if len(sigs) != 1 || sigs[0].Signal != SIGCHLD || sigs[0].Sender != child || sigs[0].ID&sigIDReserved == 0 {
		t.Fatalf("parent's signals = %+v, want one SIGCHLD from %d", sigs, child)
	}
	// A second child exit merges with the pending SIGCHLD.
	c2 := h.run(par, sleepSpec(), "n1")
	h.ok(&Exited{PID: c2, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	if n := len(h.f.View().SignalsFor(par)); n != 1 {
		t.Fatalf("parent has %d pending signals, want 1 merged SIGCHLD", n)
	}
	if got := h.f.PendingSignals("n1"); len(got) != 1 || got[0].PID != par {
		t.Fatalf("PendingSignals(n1) = %+v, want the SIGCHLD", got)
	}
}

func TestReap(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	live := h.run(0, sleepSpec(), "n1")
	dead := h.run(0, sleepSpec(), "n1")
	h.ok(&Exited{PID: dead, Incarnation: 1, Node: "n1", Status: Status{Signal: 15}, Now: h.now})
	wantErr(t, h.apply(&Reap{PID: InitPID}), ErrPermission)
	wantErr(t, h.apply(&Reap{PID: 99}), ErrNoSuchProcess)
	wantErr(t, h.apply(&Reap{PID: live}), ErrNotExited)
	r := h.ok(&Reap{PID: dead})
	if r.Status.Signal != 15 || r.State != StateExited {
		t.Fatalf("reap result %+v, want the status", r)
	}
	if _, ok := h.f.Get(dead); ok {
		t.Fatal("reaped process still in the table")
	}
	if got := h.f.List(Filter{Node: "n1"}); len(got) != 1 || got[0].PID != live {
		t.Fatalf("List(node n1) = %v, want only %d", got, live)
	}
	wantErr(t, h.apply(&Reap{PID: dead}), ErrNoSuchProcess)
	// PIDs are never reused.
	if pid := h.spawn(0, sleepSpec()); pid <= dead {
		t.Fatalf("spawn after reap got pid %d, want > %d", pid, dead)
	}
}

func TestNodeLost(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	h.node("n2")
	never := h.run(0, sleepSpec(), "n1")
	again := h.run(0, Spec{Command: "x", Restart: Restart{Policy: RestartOnFailure}}, "n1")
	killed := h.run(0, sleepSpec(), "n1")
	h.ok(&Signal{Target: int64(killed), Signal: SIGKILL, Now: h.now})
	elsewhere := h.run(0, sleepSpec(), "n2")
	zombie := h.run(0, sleepSpec(), "n1")
	h.ok(&Exited{PID: zombie, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	h.ok(&RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n1", Now: h.now})
	h.ok(&RegistryCreate{Kind: KindMQ, Name: "/r", Node: "n2", Now: h.now})

	wantErr(t, h.apply(&NodeLost{Node: "n9", Now: h.now}), ErrNoSuchNode)
	r := h.ok(&NodeLost{Node: "n1", Now: h.now})
	if len(r.Targets) != 3 {
		t.Fatalf("targets = %v, want 3", r.Targets)
	}
	for _, tc := range []struct {
		pid   uint64
		state State
		inc   uint64
	}{
		{never, StateLost, 1},
		{again, StatePending, 2},
		{killed, StateExited, 1},
		{elsewhere, StateRunning, 1},
		{zombie, StateExited, 1},
	} {
		p := h.get(tc.pid)
		if p.State != tc.state || p.Incarnation != tc.inc {
			t.Errorf("pid %d: got %s inc %d, want %s inc %d", tc.pid, p.State, p.Incarnation, tc.state, tc.inc)
		}
	}
	if p := h.get(killed); p.Status.Signal != SIGKILL {
		t.Errorf("killed process status %+v, want SIGKILL", p.Status)
	}
	if p := h.get(never); p.Status.Reason != "node lost" {
		t.Errorf("lost process status %+v, want reason node lost", p.Status)
	}
	if p := h.get(again); p.NotBefore != h.now || p.Restarts != 1 {
		t.Errorf("requeued process notBefore %d restarts %d, want %d 1", p.NotBefore, p.Restarts, h.now)
	}
	if n, _ := h.f.Node("n1"); n.Status != NodeDown {
		t.Errorf("node status %s, want down", n.Status)
	}
	if o, _ := h.f.Object(KindMQ, "/q"); !o.Lost {
		t.Error("object on the lost node not marked lost")
	}
	if o, _ := h.f.Object(KindMQ, "/r"); o.Lost {
		t.Error("object on another node marked lost")
	}
	// Its name stays taken until unlinked.
	wantErr(t, h.apply(&RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n2", Now: h.now}), ErrNameExists)
	// Lost is a zombie: it can be reaped.
	h.ok(&Reap{PID: never})
}

func TestLostOne(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	pid := h.run(0, sleepSpec(), "n1")
	wantErr(t, h.apply(&Lost{PID: pid, Incarnation: 2, Node: "n1", Now: h.now}), ErrStale)
	r := h.ok(&Lost{PID: pid, Incarnation: 1, Node: "n1", Reason: "runner crashed", Now: h.now})
	if r.State != StateLost || r.Status.Reason != "runner crashed" {
		t.Fatalf("got %+v, want lost with the reason", r)
	}
	if r := h.ok(&Lost{PID: pid, Incarnation: 1, Node: "n1", Now: h.now}); r.Status.Reason != "runner crashed" {
		t.Fatalf("duplicate lost changed the status to %+v", r.Status)
	}
}

func TestPreempt(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	placed := h.spawn(0, sleepSpec())
	h.ok(&Place{PID: placed, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
	running := h.run(0, sleepSpec(), "n1")

	wantErr(t, h.apply(&Preempt{PID: 99, Incarnation: 1, Now: h.now}), ErrNoSuchProcess)
	wantErr(t, h.apply(&Preempt{PID: InitPID, Incarnation: 1, Now: h.now}), ErrPermission)
	wantErr(t, h.apply(&Preempt{PID: running, Incarnation: 2, Now: h.now}), ErrStale)

	r := h.ok(&Preempt{PID: placed, Incarnation: 1, Reason: "priority", Now: h.now})
	if p := h.get(placed); r.State != StatePending || p.Incarnation != 2 || p.Restarts != 0 || p.Node != "" {
		t.Fatalf("preempted placed process: %+v, want pending inc 2 no restart", p)
	}
	h.ok(&Preempt{PID: running, Incarnation: 1, Reason: "priority", Now: h.now})
	p := h.get(running)
	if !p.Evicting || p.EvictReason != "priority" || p.State != StateRunning {
		t.Fatalf("preempted running process: %+v, want evicting", p)
	}
	sigs := h.f.PendingSignals("n1")
	if len(sigs) != 1 || sigs[0].Signal != SIGKILL || sigs[0].PID != running {
		t.Fatalf("pending signals %+v, want one SIGKILL for %d", sigs, running)
	}
	// Repeating is harmless.
	h.ok(&Preempt{PID: running, Incarnation: 1, Now: h.now})
	if n := len(h.f.PendingSignals("n1")); n != 1 {
		t.Fatalf("%d pending signals after a repeated preempt, want 1", n)
	}
	// The eviction's exit requeues without counting, even with policy never.
	r = h.ok(&Exited{PID: running, Incarnation: 1, Node: "n1", Status: Status{Signal: SIGKILL}, Now: h.now})
	p = h.get(running)
	if r.State != StatePending || p.Incarnation != 2 || p.Restarts != 0 || p.Killed || p.Evicting {
		t.Fatalf("after eviction exit: %+v, want pending inc 2 restarts 0", p)
	}
	if n := len(h.f.PendingSignals("n1")); n != 0 {
		t.Fatalf("%d pending signals after the exit, want 0", n)
	}
	// With a signal, the eviction asks first: SIGTERM is made pending, a
	// death by it requeues, and an exit of the program's own follows the
	// restart policy (never: exited).
	for _, tc := range []struct {
		status Status
		want   State
	}{
		{Status{Signal: 15}, StatePending},
		{Status{Exited: true, Code: 0}, StateExited},
	} {
		q := h.run(0, sleepSpec(), "n1")
		h.ok(&Preempt{PID: q, Incarnation: 1, Reason: "priority", Signal: 15, Now: h.now})
		if sigs := h.f.View().SignalsFor(q); len(sigs) != 1 || sigs[0].Signal != 15 {
			t.Fatalf("signals of pid %d after a preempt with SIGTERM: %+v, want one SIGTERM", q, sigs)
		}
		if r := h.ok(&Exited{PID: q, Incarnation: 1, Node: "n1", Status: tc.status, Now: h.now}); r.State != tc.want {
			t.Fatalf("evicted pid %d ending with %+v: state %s, want %s", q, tc.status, r.State, tc.want)
		}
	}
	// A killed process cannot be preempted.
	k := h.run(0, sleepSpec(), "n1")
	h.ok(&Signal{Target: int64(k), Signal: SIGKILL, Now: h.now})
	wantErr(t, h.apply(&Preempt{PID: k, Incarnation: 1, Now: h.now}), ErrKilled)
}

func TestNodeUsage(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	big := sleepSpec()
	big.Limits.Mem = Limit{Soft: 4 << 20, Hard: 8 << 20}
	soft := sleepSpec()
	soft.Limits.Mem = Limit{Soft: 2 << 20}
	a := h.run(0, big, "n1")
	h.run(0, soft, "n1")
	pending := h.spawn(0, big)
	if got, want := h.f.View().NodeUsage("n1"), (Usage{Procs: 2, Memory: 10 << 20}); got != want {
		t.Fatalf("usage with two processes (pid %d pending): %+v, want %+v", pending, got, want)
	}
	h.ok(&Exited{PID: a, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	if got, want := h.f.View().NodeUsage("n1"), (Usage{Procs: 1, Memory: 2 << 20}); got != want {
		t.Fatalf("usage after an exit: %+v, want %+v", got, want)
	}
	if got := h.f.View().NodeUsage("nowhere"); got != (Usage{}) {
		t.Fatalf("usage of an unknown node: %+v, want zero", got)
	}
}

func TestSignal(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	leader := h.run(0, sleepSpec(), "n1")
	member := h.run(leader, sleepSpec(), "n1")
	pend := h.spawn(leader, sleepSpec()) // pending, same group
	zombie := h.run(leader, sleepSpec(), "n1")
	h.ok(&Exited{PID: zombie, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	h.ok(&SignalDelivered{ID: h.f.View().SignalsFor(leader)[0].ID, PID: leader, Incarnation: 1})

	for _, tc := range []struct {
		name string
		sig  Signal
		want error
		hits []uint64
	}{
		{"init", Signal{Target: 1, Signal: 15}, ErrPermission, nil},
		{"missing", Signal{Target: 99, Signal: 15}, ErrNoSuchProcess, nil},
		{"missing group", Signal{Target: -99, Signal: 15}, ErrNoSuchProcess, nil},
		{"target zero", Signal{Target: 0, Signal: 15}, ErrInvalid, nil},
		{"target -1", Signal{Target: -1, Signal: 15}, ErrInvalid, nil},
		{"bad signal", Signal{Target: int64(leader), Signal: 32}, ErrInvalid, nil},
		{"reserved id", Signal{ID: sigIDReserved | 5, Target: int64(leader), Signal: 15}, ErrInvalid, nil},
		{"existence check", Signal{Target: int64(member), Signal: 0}, nil, []uint64{member}},
		{"zombie", Signal{Target: int64(zombie), Signal: 15}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.f.View().SignalsFor(leader)) + len(h.f.View().SignalsFor(member))
			sig := tc.sig
			sig.Now = h.now
			r := h.apply(&sig)
			wantErr(t, r, tc.want)
			if len(r.Targets) != len(tc.hits) {
				t.Fatalf("targets %v, want %v", r.Targets, tc.hits)
			}
			for i, pid := range tc.hits {
				if r.Targets[i].PID != pid {
					t.Fatalf("targets %v, want %v", r.Targets, tc.hits)
				}
			}
			if after := len(h.f.View().SignalsFor(leader)) + len(h.f.View().SignalsFor(member)); after != before {
				t.Fatalf("pending signals went from %d to %d", before, after)
			}
		})
	}

	t.Run("group", func(t *testing.T) {
		r := h.ok(&Signal{ID: 7, Target: -int64(leader), Signal: 15, Sender: member, Now: h.now})
		want := []Target{{leader, 1}, {member, 1}, {pend, 1}}
		if len(r.Targets) != 3 || r.Targets[0] != want[0] || r.Targets[1] != want[1] || r.Targets[2] != want[2] {
			t.Fatalf("targets %v, want %v", r.Targets, want)
		}
		sigs := h.f.PendingSignals("n1") // the pending process is on no node yet
		if len(sigs) != 2 || sigs[0].ID != 7 || sigs[1].ID != 7 || sigs[0].Sender != member {
			t.Fatalf("pending on n1: %+v, want two requests with id 7", sigs)
		}
		if s := h.f.View().SignalsFor(pend); len(s) != 1 {
			t.Fatalf("pending process has %d requests, want 1", len(s))
		}
		// The same id again: the first result, no new request.
		r2 := h.ok(&Signal{ID: 7, Target: -int64(leader), Signal: 15, Now: h.now})
		if r2 != r {
			t.Fatalf("retry returned %+v, want the first result", r2)
		}
		if n := len(h.f.PendingSignals("n1")); n != 2 {
			t.Fatalf("%d requests after a retry, want 2", n)
		}
		// Delivery removes one; a second ack or a stale one is harmless.
		h.ok(&SignalDelivered{ID: 7, PID: leader, Incarnation: 2})
		h.ok(&SignalDelivered{ID: 7, PID: leader, Incarnation: 1})
		h.ok(&SignalDelivered{ID: 7, PID: leader, Incarnation: 1})
		if n := len(h.f.PendingSignals("n1")); n != 1 {
			t.Fatalf("%d requests after delivery, want 1", n)
		}
	})

	t.Run("kill", func(t *testing.T) {
		r := h.ok(&Signal{ID: 8, Target: -int64(leader), Signal: SIGKILL, Now: h.now + 9})
		if len(r.Targets) != 3 {
			t.Fatalf("targets %v, want 3", r.Targets)
		}
		p := h.get(pend)
		if p.State != StateExited || p.Status.Signal != SIGKILL || !p.Killed || p.ExitedAt != h.now+9 {
			t.Fatalf("pending process after kill: %+v, want exited by SIGKILL", p)
		}
		if len(h.f.Pending()) != 0 {
			t.Fatal("killed process still waits for placement")
		}
		m := h.get(member)
		if !m.Killed || m.State != StateRunning {
			t.Fatalf("running member after kill: %+v, want killed and still running", m)
		}
		// Its exit is final despite any policy, and the duplicate changes nothing.
		h.ok(&Exited{PID: member, Incarnation: 1, Node: "n1", Status: Status{Signal: SIGKILL}, Now: h.now})
		if m := h.get(member); m.State != StateExited {
			t.Fatalf("killed member after exit: %s, want exited", m.State)
		}
		wantErr(t, h.apply(&Started{PID: member, Incarnation: 1, Node: "n1", Now: h.now}), ErrKilled)
	})
}

func TestKillIsFinal(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	pid := h.run(0, Spec{Command: "x", Restart: Restart{Policy: RestartAlways}}, "n1")
	h.ok(&Signal{Target: int64(pid), Signal: SIGKILL, Now: h.now})
	r := h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Signal: SIGKILL}, Now: h.now})
	if r.State != StateExited || r.Incarnation != 1 {
		t.Fatalf("killed always-restart process: %+v, want exited incarnation 1", r)
	}
	// A killed placed process exits at once; its node's late Started is refused.
	pid = h.spawn(0, Spec{Command: "x", Restart: Restart{Policy: RestartAlways}})
	h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
	h.ok(&Signal{Target: int64(pid), Signal: SIGKILL, Now: h.now})
	if p := h.get(pid); p.State != StateExited {
		t.Fatalf("killed placed process is %s, want exited", p.State)
	}
	wantErr(t, h.apply(&Started{PID: pid, Incarnation: 1, Node: "n1", Now: h.now}), ErrKilled)
}

func TestNodes(t *testing.T) {
	h := newHarness(t)
	h.ok(&NodeUpsert{ID: "n1", RaftAddr: "r:1", Labels: []Label{{"z", "1"}, {"a", "2"}}, Now: h.now})
	n, _ := h.f.Node("n1")
	if n.Name != "n1" || n.Status != NodeAlive || n.Labels[0].Key != "a" || n.CreatedAt != h.now {
		t.Fatalf("node %+v, want name n1 alive with sorted labels", n)
	}
	h.ok(&SetNodeStatus{ID: "n1", Status: NodeSuspect, Now: h.now + 1})
	h.ok(&NodeUpsert{ID: "n1", Name: "one", Capacity: Capacity{Slots: 8}, Now: h.now + 2})
	n, _ = h.f.Node("n1")
	if n.Name != "one" || n.Status != NodeSuspect || n.Capacity.Slots != 8 || n.CreatedAt != h.now || n.UpdatedAt != h.now+2 || n.Labels != nil {
		t.Fatalf("updated node %+v, want status kept and fields replaced", n)
	}
	for _, tc := range []struct {
		name string
		cmd  Command
		want error
	}{
		{"empty id", &NodeUpsert{}, ErrInvalid},
		{"negative capacity", &NodeUpsert{ID: "x", Capacity: Capacity{Slots: -1}}, ErrInvalid},
		{"repeated label", &NodeUpsert{ID: "x", Labels: []Label{{"a", "1"}, {"a", "2"}}}, ErrInvalid},
		{"bad status", &NodeUpsert{ID: "x", Status: "gone"}, ErrInvalid},
		{"status of unknown", &SetNodeStatus{ID: "x", Status: NodeDown}, ErrNoSuchNode},
		{"unknown status", &SetNodeStatus{ID: "n1", Status: "gone"}, ErrInvalid},
		{"left", &SetNodeStatus{ID: "n1", Status: NodeLeft}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, h.apply(tc.cmd), tc.want) })
	}
	if got := len(h.f.Nodes()); got != 1 {
		t.Fatalf("%d nodes, want 1", got)
	}
}

func TestRegistry(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	for _, tc := range []struct {
		name string
		cmd  Command
		want error
	}{
		{"create mq", &RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n1", Mode: 0o600, Attrs: Attrs{MaxMsg: 10, MsgSize: 128}}, nil},
		{"create fifo", &RegistryCreate{Kind: KindFIFO, Name: "/run/f", Node: "n1"}, nil},
		{"same name other kind", &RegistryCreate{Kind: KindSHM, Name: "/q", Node: "n1", Attrs: Attrs{Size: 4096}}, nil},
		{"exists", &RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n1"}, ErrNameExists},
		{"relative", &RegistryCreate{Kind: KindFIFO, Name: "f", Node: "n1"}, ErrInvalid},
		{"slash in mq", &RegistryCreate{Kind: KindMQ, Name: "/a/b", Node: "n1"}, ErrInvalid},
		{"long shm", &RegistryCreate{Kind: KindSHM, Name: "/" + strings.Repeat("x", 255), Node: "n1"}, ErrInvalid},
		{"bad kind", &RegistryCreate{Kind: "sock", Name: "/s", Node: "n1"}, ErrInvalid},
		{"bad mode", &RegistryCreate{Kind: KindMQ, Name: "/m", Node: "n1", Mode: 0o17777}, ErrInvalid},
		{"unknown node", &RegistryCreate{Kind: KindMQ, Name: "/m", Node: "n9"}, ErrNoSuchNode},
		{"unlink", &RegistryUnlink{Kind: KindFIFO, Name: "/run/f"}, nil},
		{"unlink again", &RegistryUnlink{Kind: KindFIFO, Name: "/run/f"}, ErrNoSuchName},
		{"unlink bad kind", &RegistryUnlink{Kind: "x", Name: "/q"}, ErrInvalid},
		{"recreate after unlink", &RegistryCreate{Kind: KindFIFO, Name: "/run/f", Node: "n1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, h.apply(tc.cmd), tc.want) })
	}
	if got := h.f.Objects(""); len(got) != 3 {
		t.Fatalf("Objects() = %v, want 3", got)
	}
	mq := h.f.Objects(KindMQ)
	if len(mq) != 1 || mq[0].Attrs.MaxMsg != 10 || mq[0].Mode != 0o600 {
		t.Fatalf("Objects(mq) = %+v", mq)
	}
}

func TestRegistryLost(t *testing.T) {
	h := newHarness(t)
	h.ok(&NodeUpsert{ID: "n1", Status: NodeAlive})
	h.ok(&NodeUpsert{ID: "n2", Status: NodeAlive})
	h.ok(&RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n1"})
	for _, tc := range []struct {
		name string
		cmd  Command
		want error
	}{
		{"another node's name", &RegistryLost{Kind: KindMQ, Name: "/q", Node: "n2"}, ErrStale},
		{"no such name", &RegistryLost{Kind: KindMQ, Name: "/none", Node: "n1"}, ErrNoSuchName},
		{"bad name", &RegistryLost{Kind: KindMQ, Name: "q", Node: "n1"}, ErrInvalid},
		{"lost", &RegistryLost{Kind: KindMQ, Name: "/q", Node: "n1"}, nil},
		{"lost again", &RegistryLost{Kind: KindMQ, Name: "/q", Node: "n1"}, nil},
		{"the name stays taken", &RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n2"}, ErrNameExists},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, h.apply(tc.cmd), tc.want) })
	}
	if o, ok := h.f.View().Object(KindMQ, "/q"); !ok || !o.Lost || o.Node != "n1" {
		t.Fatalf("after RegistryLost: %+v %v", o, ok)
	}
	h.ok(&RegistryUnlink{Kind: KindMQ, Name: "/q"})
	h.ok(&RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n2"})
}

func TestSchedulerConfig(t *testing.T) {
	h := newHarness(t)
	if got := h.f.SchedulerConfig().Strategy; got != StrategySpread {
		t.Fatalf("default strategy %q, want spread", got)
	}
	h.ok(&SetSchedulerConfig{Strategy: StrategyBinpack})
	if got := h.f.SchedulerConfig(); got.Strategy != StrategyBinpack || got.ModifyIndex != h.idx {
		t.Fatalf("strategy %+v, want binpack at %d", got, h.idx)
	}
	wantErr(t, h.apply(&SetSchedulerConfig{Strategy: "random"}), ErrInvalid)
}

func TestPendingOrder(t *testing.T) {
	h := newHarness(t)
	a := h.spawn(0, Spec{Command: "a", Priority: 10})
	b := h.spawn(0, Spec{Command: "b", Priority: 90})
	c := h.spawn(0, Spec{Command: "c", Priority: 10})
	d := h.spawn(0, Spec{Command: "d"})
	got := h.f.Pending()
	want := []uint64{b, d, a, c}
	for i := range want {
		if got[i].PID != want[i] {
			t.Fatalf("pending order %v, want %v", pids(got), want)
		}
	}
}

func pids(ps []Process) []uint64 {
	out := make([]uint64, len(ps))
	for i, p := range ps {
		out[i] = p.PID
	}
	return out
}

func TestListFilters(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	h.node("n2")
	a := h.run(0, sleepSpec(), "n1")
	b := h.run(a, sleepSpec(), "n2")
	c := h.run(a, sleepSpec(), "n1")
	h.ok(&Exited{PID: c, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now})
	for _, tc := range []struct {
		f    Filter
		want []uint64
	}{
		{Filter{}, []uint64{1, a, b, c}},
		{Filter{LiveOnly: true}, []uint64{1, a, b}},
		{Filter{Node: "n1"}, []uint64{a, c}},
		{Filter{Node: "n1", LiveOnly: true}, []uint64{a}},
		{Filter{Pgid: a}, []uint64{a, b, c}},
		{Filter{Parent: a}, []uint64{b, c}},
		{Filter{Parent: a, Node: "n2"}, []uint64{b}},
	} {
		got := pids(h.f.List(tc.f))
		if len(got) != len(tc.want) {
			t.Fatalf("List(%+v) = %v, want %v", tc.f, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("List(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		}
	}
}

func TestBatch(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	out := h.raw(Encode(&Batch{Commands: []Command{
		&Spawn{Spec: sleepSpec(), Now: h.now},
		&Spawn{Now: h.now},
		&Spawn{Spec: sleepSpec(), Now: h.now},
		&Unknown{T: 0xf0, Body: []byte{1, 2}},
		&RegistryUnlink{Kind: KindMQ, Name: "/none"},
	}}))
	rs, ok := out.([]*Result)
	if !ok || len(rs) != 5 {
		t.Fatalf("batch returned %T %v, want 5 results", out, out)
	}
	if rs[0].PID != 2 || rs[1].Err == nil || rs[2].PID != 3 || !rs[3].Ignored || !errors.Is(rs[4].Err, ErrNoSuchName) {
		t.Fatalf("batch results %+v %+v %+v %+v %+v", rs[0], rs[1], rs[2], rs[3], rs[4])
	}
	for _, r := range rs {
		if r.Index != h.idx {
			t.Fatalf("result index %d, want %d", r.Index, h.idx)
		}
	}
	if h.f.AppliedIndex() != h.idx {
		t.Fatalf("AppliedIndex() = %d, want %d", h.f.AppliedIndex(), h.idx)
	}
	// Pre-encoded entries give the same batch.
	e1, e2 := Encode(&Spawn{Spec: sleepSpec(), Now: h.now}), Encode(&Tick{Now: h.now})
	b, err := EncodeBatch([][]byte{e1, e2})
	if err != nil {
		t.Fatal(err)
	}
	rs = h.raw(b).([]*Result)
	if len(rs) != 2 || rs[0].PID != 4 {
		t.Fatalf("EncodeBatch results %+v", rs)
	}
	if _, err := EncodeBatch([][]byte{b}); err == nil {
		t.Fatal("EncodeBatch accepted a nested batch")
	}
	if _, err := EncodeBatch([][]byte{{}}); err == nil {
		t.Fatal("EncodeBatch accepted an empty entry")
	}
}

func TestUnknownTypes(t *testing.T) {
	h := newHarness(t)
	hash := h.f.Hash()
	r := h.raw([]byte{0xfe, 1, 2, 3}).(*Result)
	if !r.Ignored || r.Err != nil {
		t.Fatalf("ignorable entry: %+v, want ignored", r)
	}
	if h.f.Hash() != hash || h.f.AppliedIndex() != h.idx {
		t.Fatal("ignorable entry changed the state or missed the index")
	}
	for _, data := range [][]byte{{0x7e}, {}, {byte(TypeSpawn), 1}, {byte(TypeReap), 9, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Apply(%x) did not panic", data)
				}
			}()
			h.f.Apply(h.idx+1, data)
		}()
	}
	if h.f.Hash() != hash {
		t.Fatal("a corrupt entry changed the state")
	}
}

func TestRaisePIDFloor(t *testing.T) {
	h := newHarness(t)
	h.ok(&RaisePIDFloor{Floor: 100})
	h.ok(&RaisePIDFloor{Floor: 50})
	if pid := h.spawn(0, sleepSpec()); pid != 100 {
		t.Fatalf("spawn got %d, want 100", pid)
	}
}

func TestErrorCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c.code] {
			t.Fatalf("code %q repeated", c.code)
		}
		seen[c.code] = true
		if got := Code(c.err); got != c.code {
			t.Errorf("Code(%v) = %q, want %q", c.err, got, c.code)
		}
		wrapped := errorf(c.err, "detail")
		if got := Code(wrapped); got != c.code {
			t.Errorf("Code(%v) = %q, want %q", wrapped, got, c.code)
		}
		back := ErrorForCode(c.code, "detail")
		if !errors.Is(back, c.err) || back.Error() != wrapped.Error() {
			t.Errorf("ErrorForCode(%q) = %v, want %v", c.code, back, wrapped)
		}
		if msg := c.err.Error(); msg != strings.ToLower(msg) {
			t.Errorf("message %q is not lowercase", msg)
		}
	}
	if Code(nil) != "" || ErrorForCode("", "") != nil {
		t.Fatal("nil error must have the empty code")
	}
	if Code(errors.New("x")) != CodeUnknown {
		t.Fatal("foreign error must have the unknown code")
	}
}

func TestPlaceLocality(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	h.node("n2")
	par := h.run(0, sleepSpec(), "n1")
	pipe := h.spawn(par, Spec{Command: "cat", InheritsPipesFrom: par})
	wantErr(t, h.apply(&Place{PID: pipe, Incarnation: 1, ExpectState: StatePending, Node: "n2", Now: h.now}), ErrStale)
	wantErr(t, h.apply(&Place{PID: pipe, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now}), nil)

	h.ok(&RegistryCreate{Kind: KindSHM, Name: "/seg", Node: "n2", Attrs: Attrs{Size: 4096}, Now: h.now})
	shm := h.spawn(0, Spec{Command: "x", Uses: []Use{{Kind: KindSHM, Name: "/seg"}, {Kind: KindMQ, Name: "/q"}}})
	wantErr(t, h.apply(&Place{PID: shm, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now}), ErrStale)
	wantErr(t, h.apply(&Place{PID: shm, Incarnation: 1, ExpectState: StatePending, Node: "n2", Now: h.now}), nil)
}

func TestListOnNode(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	a := h.run(0, sleepSpec(), "n1")
	h.spawn(0, sleepSpec())
	got := h.f.List(Filter{OnNodeOnly: true})
	if len(got) != 1 || got[0].PID != a || got[0].PlaceIndex == 0 {
		t.Fatalf("List(on node) = %+v, want %d with its place index", got, a)
	}
}
