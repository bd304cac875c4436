package fsm

import (
	"slices"
	"testing"
)

// TestSetGroup: a process that joins another group after its spawn, or
// starts its own session, is found by a signal to its new group and no
// longer by one to its old group; the checks refuse what setpgid and
// setsid cannot do, and stale reports.
func TestSetGroup(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	h.node("n2")
	leader := h.run(InitPID, sleepSpec(), "n1") // leads its own session and group
	member := h.ok(&Spawn{Parent: leader, Owner: "alice", Spec: sleepSpec(), Now: h.now}).PID
	h.ok(&Place{PID: member, Incarnation: 1, ExpectState: StatePending, Node: "n2", Now: h.now})
	h.ok(&Started{PID: member, Incarnation: 1, Node: "n2", Now: h.now})
	other := h.ok(&Spawn{Parent: leader, Owner: "alice", NewGroup: true, Spec: sleepSpec(), Now: h.now}).PID
	h.ok(&Place{PID: other, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
	h.ok(&Started{PID: other, Incarnation: 1, Node: "n1", Now: h.now})

	targets := func(id, pgid uint64) []uint64 {
		t.Helper()
		r := h.ok(&Signal{ID: id, Target: -int64(pgid), Signal: 0, Now: h.now})
		var out []uint64
		for _, tg := range r.Targets {
			out = append(out, tg.PID)
		}
		slices.Sort(out)
		return out
	}
	if got := targets(1, other); !slices.Equal(got, []uint64{other}) {
		t.Fatalf("group %d before the setpgid: %v", other, got)
	}

	// member, on n2, joins other's group (setpgid(0, other)).
	h.ok(&SetGroup{PID: member, Incarnation: 1, Node: "n2", Pgid: other, Sid: leader, Now: h.now})
	if p := h.get(member); p.Pgid != other || p.Sid != leader {
		t.Fatalf("member after setpgid: pgid %d sid %d", p.Pgid, p.Sid)
	}
	if got := targets(2, other); !slices.Equal(got, []uint64{member, other}) {
		t.Fatalf("group %d after the setpgid: %v, want %d and %d", other, got, other, member)
	}
	if got := targets(3, leader); !slices.Equal(got, []uint64{leader}) {
		t.Fatalf("group %d after member left it: %v, want only %d", leader, got, leader)
	}

	// Refused: a new session not named after the process, zero ids, a
	// report from another node or incarnation.
	wantErr(t, h.apply(&SetGroup{PID: member, Incarnation: 1, Node: "n2", Pgid: 77, Sid: 77, Now: h.now}), ErrInvalid)
	wantErr(t, h.apply(&SetGroup{PID: member, Incarnation: 1, Node: "n2", Pgid: member, Sid: 0, Now: h.now}), ErrInvalid)
	wantErr(t, h.apply(&SetGroup{PID: member, Incarnation: 1, Node: "n1", Pgid: other, Sid: leader, Now: h.now}), ErrStale)
	wantErr(t, h.apply(&SetGroup{PID: member, Incarnation: 2, Node: "n2", Pgid: other, Sid: leader, Now: h.now}), ErrStale)

	// setsid: its own session and group.
	h.ok(&SetGroup{PID: member, Incarnation: 1, Node: "n2", Pgid: member, Sid: member, Now: h.now})
	if p := h.get(member); p.Pgid != member || p.Sid != member {
		t.Fatalf("member after setsid: pgid %d sid %d", p.Pgid, p.Sid)
	}
	if got := targets(4, other); !slices.Equal(got, []uint64{other}) {
		t.Fatalf("group %d after member's setsid: %v", other, got)
	}
	if got := targets(5, member); !slices.Equal(got, []uint64{member}) {
		t.Fatalf("member's own group: %v", got)
	}

	// The change is in a snapshot, and a restored table's group index
	// follows it.
	h2 := restoredCopy(t, h)
	if p, _ := h2.f.Get(member); p.Pgid != member || p.Sid != member {
		t.Fatalf("restored member: pgid %d sid %d", p.Pgid, p.Sid)
	}
	h2.now = h.now
	r := h2.ok(&Signal{ID: 6, Target: -int64(member), Signal: 0, Now: h.now})
	if len(r.Targets) != 1 || r.Targets[0].PID != member {
		t.Fatalf("restored table: group %d reaches %v", member, r.Targets)
	}
}

// TestSetGroupUnknownToAnOlderReplica: the type has the ignore-if-unknown
// bit, so a replica that does not know it skips it instead of stopping.
func TestSetGroupUnknownToAnOlderReplica(t *testing.T) {
	if TypeSetGroup&IgnoreIfUnknown == 0 {
		t.Fatal("SetGroup must carry the ignore-if-unknown bit")
	}
	data := Encode(&SetGroup{PID: 9, Incarnation: 1, Node: "n1", Pgid: 9, Sid: 9})
	saved := decoders[TypeSetGroup]
	delete(decoders, TypeSetGroup)
	defer func() { decoders[TypeSetGroup] = saved }()
	c, err := Decode(data)
	if err != nil {
		t.Fatalf("decoding without the type: %v", err)
	}
	if _, ok := c.(*Unknown); !ok {
		t.Fatalf("decoded %T, want *Unknown", c)
	}
}
