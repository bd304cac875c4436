package fsm

import (
	"bytes"
	"errors"
	"testing"
)

// Spawn with Place: one entry allocates the PID and places the process.

func TestSpawnPlaceEncoding(t *testing.T) {
	base := Spawn{Parent: 1, Owner: "alice", Spec: sleepSpec(), Now: t0}

	// A spawn without Place encodes as body version 1, byte for byte as
	// releases before Place wrote it.
	v1 := Encode(&base)
	if v1[0] != byte(TypeSpawn) || v1[1] != spawnVersion1 {
		t.Fatalf("spawn without Place: got type %#x version %d, want %#x version %d", v1[0], v1[1], byte(TypeSpawn), spawnVersion1)
	}
	old := []byte{byte(TypeSpawn), 1, 1, 5, 'a', 'l', 'i', 'c', 'e', 0, 0, 0}
	e := encoder{b: old}
	e.spec(&base.Spec)
	e.int(t0)
	old = e.b
	if !bytes.Equal(v1, old) {
		t.Fatalf("version 1 encoding changed:\n got %x\nwant %x", v1, old)
	}
	c, err := Decode(old)
	if err != nil {
		t.Fatalf("Decode(version 1): %v", err)
	}
	if got := c.(*Spawn); got.Place != "" || got.Owner != "alice" || got.Spec.Command != "sleep" || got.Now != t0 {
		t.Fatalf("Decode(version 1) = %+v", got)
	}

	// With Place: version 2, and a round trip keeps it.
	placed := base
	placed.Place = "n1"
	v2 := Encode(&placed)
	if v2[1] != spawnVersionPlace {
		t.Fatalf("spawn with Place: got version %d, want %d", v2[1], spawnVersionPlace)
	}
	if v2[0] != v1[0] || !bytes.Equal(v2[2:len(v2)-3], v1[2:]) || !bytes.Equal(v2[len(v2)-3:], []byte{2, 'n', '1'}) {
		t.Fatalf("version 2 is not version 1's fields then the node:\nv1 %x\nv2 %x", v1, v2)
	}
	c, err = Decode(v2)
	if err != nil {
		t.Fatalf("Decode(version 2): %v", err)
	}
	if got := c.(*Spawn); got.Place != "n1" {
		t.Fatalf("Decode(version 2): got Place %q, want n1", got.Place)
	}

	// Inside a session request and a batch too.
	entry, err := EncodeBatch([][]byte{v1, Encode(&SessionRequest{SessionID: 1, RequestID: 1, Now: t0, Command: &placed})})
	if err != nil {
		t.Fatal(err)
	}
	c, err = Decode(entry)
	if err != nil {
		t.Fatalf("Decode(batch): %v", err)
	}
	b := c.(*Batch)
	if b.Commands[0].(*Spawn).Place != "" || b.Commands[1].(*SessionRequest).Command.(*Spawn).Place != "n1" {
		t.Fatalf("batch round trip lost Place: %+v", b.Commands)
	}

	// Strictness: version 2 must carry a node; version 3 is unknown.
	empty := append(append([]byte{}, v2[:len(v2)-3]...), 0)
	empty[1] = spawnVersionPlace
	for name, data := range map[string][]byte{
		"version 2 without a node": empty,
		"version 3":                append([]byte{byte(TypeSpawn), 3}, v2[2:]...),
		"version 2 truncated":      v2[:len(v2)-1],
	} {
		if _, err := Decode(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestSpawnPlace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness) (parent uint64, spec Spec)
		place string
		want  State // placed on place, or pending
	}{
		{"feasible", func(h *harness) (uint64, Spec) { return 0, sleepSpec() }, "n1", StatePlaced},
		{"by name", func(h *harness) (uint64, Spec) {
			return 0, Spec{Command: "x", Node: "one"}
		}, "n1", StatePlaced},
		{"constraints met", func(h *harness) (uint64, Spec) {
			return 0, Spec{Command: "x", Constraints: []Constraint{{Label: "zone", Value: "a"}}}
		}, "n1", StatePlaced},
		{"unknown node", func(h *harness) (uint64, Spec) { return 0, sleepSpec() }, "n9", StatePending},
		{"node down", func(h *harness) (uint64, Spec) {
			h.ok(&SetNodeStatus{ID: "n1", Status: NodeDown, Now: h.now})
			return 0, sleepSpec()
		}, "n1", StatePending},
		{"node suspect", func(h *harness) (uint64, Spec) {
			h.ok(&SetNodeStatus{ID: "n1", Status: NodeSuspect, Now: h.now})
			return 0, sleepSpec()
		}, "n1", StatePending},
		{"required node elsewhere", func(h *harness) (uint64, Spec) {
			return 0, Spec{Command: "x", Node: "n2"}
		}, "n1", StatePending},
		{"constraint unmet", func(h *harness) (uint64, Spec) {
			return 0, Spec{Command: "x", Constraints: []Constraint{{Label: "zone", Value: "b"}}}
		}, "n1", StatePending},
		{"pipes on another node", func(h *harness) (uint64, Spec) {
			par := h.run(0, sleepSpec(), "n2")
			return par, Spec{Command: "cat", InheritsPipesFrom: par}
		}, "n1", StatePending},
		{"pipes on this node", func(h *harness) (uint64, Spec) {
			par := h.run(0, sleepSpec(), "n1")
			return par, Spec{Command: "cat", InheritsPipesFrom: par}
		}, "n1", StatePlaced},
		{"segment on another node", func(h *harness) (uint64, Spec) {
			h.ok(&RegistryCreate{Kind: KindSHM, Name: "/seg", Node: "n2", Attrs: Attrs{Size: 4096}, Now: h.now})
			return 0, Spec{Command: "x", Uses: []Use{{Kind: KindSHM, Name: "/seg"}}}
		}, "n1", StatePending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.ok(&NodeUpsert{ID: "n1", Name: "one", Labels: []Label{{"zone", "a"}}, Now: h.now})
			h.node("n2")
			parent, spec := tc.setup(h)
			before := h.f.NextPID()
			r := h.ok(&Spawn{Parent: parent, Owner: "alice", Spec: spec, Place: tc.place, Now: h.now})
			if r.PID != before || r.State != tc.want {
				t.Fatalf("spawn placed on %q: got pid %d %s, want pid %d %s", tc.place, r.PID, r.State, before, tc.want)
			}
			p := h.get(r.PID)
			v := h.f.View()
			onNode := v.List(Filter{Node: tc.place, OnNodeOnly: true})
			pending := v.Pending()
			if tc.want == StatePlaced {
				if p.State != StatePlaced || p.Node != tc.place || p.PlaceIndex != h.idx || p.CreateIndex != h.idx {
					t.Fatalf("got %s on %q (place index %d, create index %d), want placed on %s at %d", p.State, p.Node, p.PlaceIndex, p.CreateIndex, tc.place, h.idx)
				}
				if !containsPID(onNode, r.PID) || containsPID(pending, r.PID) {
					t.Fatalf("placed pid %d: on node %v, pending %v", r.PID, pids(onNode), pids(pending))
				}
				// It runs as any placed process does.
				h.ok(&Started{PID: r.PID, Incarnation: 1, Node: tc.place, Now: h.now})
				return
			}
			if p.State != StatePending || p.Node != "" || p.PlaceIndex != 0 {
				t.Fatalf("got %s on %q (place index %d), want pending on no node", p.State, p.Node, p.PlaceIndex)
			}
			if containsPID(onNode, r.PID) || !containsPID(pending, r.PID) {
				t.Fatalf("pending pid %d: on node %v, pending %v", r.PID, pids(onNode), pids(pending))
			}
			// The placement loop can still place it where it fits.
			if tc.name == "unknown node" || tc.name == "node down" {
				h.ok(&Place{PID: r.PID, Incarnation: 1, ExpectState: StatePending, Node: "n2", Now: h.now})
			}
		})
	}
}

// A spawn placed at once and the same spawn placed by a later Place end
// in the same table, but for the indexes that record when.
func TestSpawnPlaceReplay(t *testing.T) {
	one := newHarness(t)
	one.node("n1")
	one.ok(&Spawn{Owner: "alice", Spec: sleepSpec(), Place: "n1", Now: one.now})
	// Replaying the same log elsewhere gives the same hash.
	other := newHarness(t)
	for _, data := range one.log {
		other.raw(data)
	}
	if one.f.Hash() != other.f.Hash() {
		t.Fatal("replaying the log gave another hash")
	}
	// A snapshot restores the placed process and its indexes.
	restored := restoredCopy(t, one)
	if restored.f.Hash() != one.f.Hash() {
		t.Fatal("restore gave another hash")
	}
	if got := restored.f.List(Filter{Node: "n1", OnNodeOnly: true}); len(got) != 1 || got[0].State != StatePlaced {
		t.Fatalf("restored on-node list: %+v", got)
	}
}

func containsPID(ps []Process, pid uint64) bool {
	for _, p := range ps {
		if p.PID == pid {
			return true
		}
	}
	return false
}
