package fsm

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

var (
	hashA = strings.Repeat("a", 64)
	hashB = strings.Repeat("b", 64)
)

func TestProgramCommandsRoundTrip(t *testing.T) {
	for _, c := range []Command{
		&ProgramAdd{Name: "wc", Hash: hashA, Size: 42, Owner: "alice", Holders: []string{"n1", "n2"}, Now: 7},
		&ProgramRemove{Name: "wc"},
		&ProgramHolder{Hash: hashA, Node: "n3"},
	} {
		got, err := Decode(Encode(c))
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)): %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("got %#v, want %#v", got, c)
		}
	}
}

func TestProgramRecords(t *testing.T) {
	h := newHarness(t)
	h.ok(&ProgramAdd{Name: "wc", Hash: hashA, Size: 10, Owner: "alice", Holders: []string{"n2", "n1", "n2"}})
	h.ok(&ProgramAdd{Name: "cat", Hash: hashB, Size: 20, Holders: []string{"n1"}})
	h.ok(&ProgramHolder{Hash: hashA, Node: "n3"})
	h.ok(&ProgramHolder{Hash: hashA, Node: "n3"}) // once only
	v := h.f.View()
	p, ok := v.Program("wc")
	if !ok || p.Hash != hashA || !reflect.DeepEqual(p.Holders, []string{"n1", "n2", "n3"}) || p.Owner != "alice" {
		t.Fatalf("got %+v, %v; want wc with holders n1 n2 n3", p, ok)
	}
	if got := v.Programs(); len(got) != 2 || got[0].Name != "cat" || got[1].Name != "wc" {
		t.Fatalf("got %+v, want cat then wc", got)
	}
	if q, ok := v.ProgramByHash(hashB); !ok || q.Name != "cat" {
		t.Fatalf("ProgramByHash(b) = %+v, %v", q, ok)
	}

	// The records survive a snapshot, and the snapshot hash covers them.
	var buf bytes.Buffer
	if err := h.f.Snapshot().Persist(&buf); err != nil {
		t.Fatal(err)
	}
	f2, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := f2.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f2.View().Programs(), v.Programs()) {
		t.Fatalf("restored %+v, want %+v", f2.View().Programs(), v.Programs())
	}

	h.ok(&ProgramRemove{Name: "wc"})
	wantErr(t, h.apply(&ProgramRemove{Name: "wc"}), ErrNoSuchName)
	if _, ok := h.f.View().Program("wc"); ok {
		t.Fatal("wc still recorded after remove")
	}
}

func TestProgramAddRefusesBadNames(t *testing.T) {
	h := newHarness(t)
	for _, c := range []*ProgramAdd{
		{Name: "", Hash: hashA},
		{Name: "a/b", Hash: hashA},
		{Name: "..", Hash: hashA},
		{Name: "ok", Hash: "abc"},
		{Name: "ok", Hash: strings.Repeat("A", 64)},
	} {
		wantErr(t, h.apply(c), ErrInvalid)
	}
}
