package fsm

import (
	"testing"
	"time"
)

func sessionHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, f: f, now: t0}
}

func (h *harness) session() uint64 {
	h.t.Helper()
	r := h.ok(&RegisterSession{Now: h.now})
	if r.SessionID == 0 {
		h.t.Fatal("RegisterSession returned session 0")
	}
	return r.SessionID
}

func (h *harness) inSession(sid, rid, acked uint64, c Command) *Result {
	h.t.Helper()
	return h.apply(&SessionRequest{SessionID: sid, RequestID: rid, AckedBelow: acked, Now: h.now, Command: c})
}

func TestSessionRetryReturnsFirstAnswer(t *testing.T) {
	h := sessionHarness(t, nil)
	sid := h.session()
	r1 := h.inSession(sid, 1, 0, &Spawn{Spec: sleepSpec(), Now: h.now})
	wantErr(t, r1, nil)
	next := h.f.NextPID()
	h.now += int64(time.Second)
	r2 := h.inSession(sid, 1, 0, &Spawn{Spec: sleepSpec(), Now: h.now})
	if r2.PID != r1.PID || r2.Index != r1.Index {
		t.Fatalf("retry got pid %d index %d, want %d %d", r2.PID, r2.Index, r1.PID, r1.Index)
	}
	if h.f.NextPID() != next {
		t.Fatalf("retry applied again: NextPID %d, want %d", h.f.NextPID(), next)
	}
	if s, _ := h.f.View().Session(sid); s.LastActive != h.now {
		t.Fatalf("retry did not count as activity: last active %d, want %d", s.LastActive, h.now)
	}
	// Errors are answers too.
	e1 := h.inSession(sid, 2, 0, &Reap{PID: 99})
	wantErr(t, e1, ErrNoSuchProcess)
	if e2 := h.inSession(sid, 2, 0, &Reap{PID: 99}); e2 != e1 {
		t.Fatalf("retry of a failed request got %+v, want the first", e2)
	}
	if s, _ := h.f.View().Session(sid); s.Cached != 2 {
		t.Fatalf("session caches %d, want 2", s.Cached)
	}
}

func TestSessionExpiry(t *testing.T) {
	h := sessionHarness(t, func(c *Config) { c.SessionTTL = time.Minute })
	sid := h.session()
	other := h.session()
	h.inSession(sid, 1, 0, &Spawn{Spec: sleepSpec(), Now: h.now})
	h.now += int64(time.Minute) // exactly the TTL: still alive
	wantErr(t, h.inSession(sid, 2, 0, &Tick{Now: h.now}), nil)
	h.now += int64(time.Minute) + 1
	next := h.f.NextPID()
	r := h.inSession(sid, 3, 0, &Spawn{Spec: sleepSpec(), Now: h.now})
	wantErr(t, r, ErrSessionExpired)
	if h.f.NextPID() != next {
		t.Fatal("a request on an expired session was applied")
	}
	if h.f.Sessions() != 0 {
		t.Fatalf("%d sessions left, want 0 (both idle past the TTL)", h.f.Sessions())
	}
	if h.f.View().s.responses.Len() != 0 {
		t.Fatal("expired sessions left cached responses")
	}
	wantErr(t, h.inSession(other, 1, 0, &Tick{Now: h.now}), ErrSessionExpired)
	wantErr(t, h.inSession(12345, 1, 0, &Tick{Now: h.now}), ErrSessionExpired)
	// A leader whose clock is behind does not revive anything: time never
	// goes back.
	h.now = t0
	wantErr(t, h.inSession(sid, 4, 0, &Tick{Now: h.now}), ErrSessionExpired)
}

func TestSessionTickExpires(t *testing.T) {
	h := sessionHarness(t, func(c *Config) { c.SessionTTL = time.Second })
	h.session()
	h.ok(&Tick{Now: h.now + int64(2*time.Second)})
	if n := h.f.Sessions(); n != 0 {
		t.Fatalf("%d sessions after a late tick, want 0", n)
	}
}

func TestSessionAcks(t *testing.T) {
	h := sessionHarness(t, nil)
	sid := h.session()
	for rid := uint64(1); rid <= 3; rid++ {
		h.inSession(sid, rid, 0, &Spawn{Spec: sleepSpec(), Now: h.now})
	}
	wantErr(t, h.inSession(sid, 4, 3, &Spawn{Spec: sleepSpec(), Now: h.now}), nil)
	s, _ := h.f.View().Session(sid)
	if s.Cached != 2 || s.Floor != 3 {
		t.Fatalf("session %+v, want 2 cached (3, 4) and floor 3", s)
	}
	next := h.f.NextPID()
	wantErr(t, h.inSession(sid, 2, 0, &Spawn{Spec: sleepSpec(), Now: h.now}), ErrRequestTooOld)
	if r := h.inSession(sid, 3, 0, &Spawn{Spec: sleepSpec(), Now: h.now}); r.PID != 4 {
		t.Fatalf("retry of 3 got pid %d, want 4", r.PID)
	}
	if h.f.NextPID() != next {
		t.Fatal("a too-old request was applied")
	}
	wantErr(t, h.inSession(sid, 0, 0, &Tick{}), ErrInvalid)
	wantErr(t, h.inSession(sid, 5, 6, &Tick{}), ErrInvalid)
}

func TestSessionCacheCap(t *testing.T) {
	h := sessionHarness(t, func(c *Config) { c.MaxCachedResponses = 2 })
	sid := h.session()
	for rid := uint64(1); rid <= 3; rid++ {
		h.inSession(sid, rid, 0, &Spawn{Spec: sleepSpec(), Now: h.now})
	}
	s, _ := h.f.View().Session(sid)
	if s.Cached != 2 || s.Floor != 2 {
		t.Fatalf("session %+v, want 2 cached and floor 2", s)
	}
	wantErr(t, h.inSession(sid, 1, 0, &Spawn{Spec: sleepSpec(), Now: h.now}), ErrRequestTooOld)
	if r := h.inSession(sid, 2, 0, &Spawn{Spec: sleepSpec(), Now: h.now}); r.PID != 3 {
		t.Fatalf("retry of 2 got pid %d, want 3", r.PID)
	}
}

func TestMaxSessions(t *testing.T) {
	h := sessionHarness(t, func(c *Config) { c.MaxSessions = 2 })
	a := h.session()
	h.now++
	b := h.session()
	h.now++
	h.inSession(a, 1, 0, &Tick{Now: h.now}) // a is now the most recent
	h.now++
	c := h.session()
	if h.f.Sessions() != 2 {
		t.Fatalf("%d sessions, want 2", h.f.Sessions())
	}
	wantErr(t, h.inSession(b, 1, 0, &Tick{Now: h.now}), ErrSessionExpired)
	wantErr(t, h.inSession(a, 2, 0, &Tick{Now: h.now}), nil)
	wantErr(t, h.inSession(c, 1, 0, &Tick{Now: h.now}), nil)
}

func TestSessionsInBatch(t *testing.T) {
	h := sessionHarness(t, nil)
	out := h.raw(Encode(&Batch{Commands: []Command{&RegisterSession{Now: h.now}, &RegisterSession{Now: h.now}}})).([]*Result)
	a, b := out[0].SessionID, out[1].SessionID
	if a == b || a>>sessionSeqBits != h.idx || b>>sessionSeqBits != h.idx {
		t.Fatalf("session ids %d %d, want distinct ids from index %d", a, b, h.idx)
	}
	var entries [][]byte
	for _, sid := range []uint64{a, b, a} {
		entries = append(entries, Encode(&SessionRequest{SessionID: sid, RequestID: 1, Now: h.now, Command: &Spawn{Spec: sleepSpec(), Now: h.now}}))
	}
	data, err := EncodeBatch(entries)
	if err != nil {
		t.Fatal(err)
	}
	rs := h.raw(data).([]*Result)
	if rs[0].PID != 2 || rs[1].PID != 3 || rs[2] != rs[0] {
		t.Fatalf("batched session requests: %+v %+v %+v", rs[0], rs[1], rs[2])
	}
}
