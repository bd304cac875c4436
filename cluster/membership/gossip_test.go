package membership

import (
	"log/slog"
	"reflect"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []Meta{
		{},
		{RaftAddr: "10.0.0.1:7071", HTTPAddr: "10.0.0.1:7070", Slots: 8, Memory: 1 << 34, Expect: 3},
		{RaftAddr: "h:1", HTTPAddr: "h:2", Labels: []fsm.Label{{Key: "a", Value: "1"}, {Key: "zone", Value: "eu-west"}},
			InCluster: true, Leaving: true},
	} {
		b, err := EncodeMeta(m)
		if err != nil {
			t.Fatalf("EncodeMeta(%+v): %v", m, err)
		}
		got, err := decodeMeta(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("decodeMeta(EncodeMeta(%+v)) = %+v, %v", m, got, err)
		}
		for i := 0; i < len(b); i++ {
			if _, err := decodeMeta(b[:i]); err == nil {
				t.Errorf("decodeMeta of %d of %d bytes succeeded", i, len(b))
			}
		}
	}
}

func TestLoadMergeKeepsNewest(t *testing.T) {
	g := &Gossip{name: "me", loads: map[string]loadEntry{}, members: map[string]*Member{}, logger: slog.New(slog.DiscardHandler)}
	d := &delegate{g: g}
	g.mergeLoad("a", loadEntry{Seq: 5, Load: api.Load{Procs: 5}})
	g.mergeLoad("a", loadEntry{Seq: 4, Load: api.Load{Procs: 4}})
	g.mergeLoad("me", loadEntry{Seq: 9, Load: api.Load{Procs: 9}}) // only this node knows its own load
	if l, _ := g.Load("a"); l.Procs != 5 {
		t.Errorf("after an older load, got %+v, want the newer one", l)
	}
	if _, ok := g.Load("me"); ok {
		t.Errorf("a remote claim about this node's own load was kept")
	}
	// Push-pull state carries every load known.
	h := &Gossip{name: "other", loads: map[string]loadEntry{}, members: map[string]*Member{}, logger: slog.New(slog.DiscardHandler)}
	(&delegate{g: h}).MergeRemoteState(d.LocalState(false), false)
	if l, ok := h.Load("a"); !ok || l.Procs != 5 {
		t.Errorf("push-pull carried %+v %v, want Procs 5", l, ok)
	}
	(&delegate{g: h}).NotifyMsg([]byte{msgLoad, 0xff}) // garbage is ignored
	(&delegate{g: h}).MergeRemoteState([]byte{9, 9}, false)
}

// TestMetaVersions: the versions a node reports travel as its last label,
// which decoding takes out; metadata without them (an earlier release)
// decodes with VersionsOK unset.
func TestMetaVersions(t *testing.T) {
	m := Meta{RaftAddr: "h:1", Labels: []fsm.Label{{Key: "zone", Value: "a"}}, Versions: fsm.Known(), VersionsOK: true}
	b, err := EncodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMeta(b)
	if err != nil || !got.VersionsOK || got.Versions.String() != fsm.Known().String() || len(got.Labels) != 1 {
		t.Fatalf("decodeMeta: got %+v, %v; want the known versions and one label", got, err)
	}
	old, err := EncodeMeta(Meta{RaftAddr: "h:1"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeMeta(old); err != nil || got.VersionsOK {
		t.Fatalf("decodeMeta without versions: got %+v, %v; want VersionsOK false", got, err)
	}
}

// TestWritableMeetsVoters: the leader may write only what every voter
// reports; a voter that reports nothing, or that gossip does not know, is
// taken to know the baseline.
func TestWritableMeetsVoters(t *testing.T) {
	g := &Gossip{name: "me", loads: map[string]loadEntry{}, members: map[string]*Member{}, logger: slog.New(slog.DiscardHandler)}
	g.members["new"] = &Member{Name: "new", MetaOK: true, Meta: Meta{Versions: fsm.Known(), VersionsOK: true}}
	g.members["old"] = &Member{Name: "old", MetaOK: true, Meta: Meta{}}
	known, base := fsm.Known(), fsm.Baseline()
	for _, tc := range []struct {
		voters []string
		want   fsm.Versions
	}{
		{[]string{"me"}, known},
		{[]string{"me", "new"}, known},
		{[]string{"me", "new", "old"}, base},
		{[]string{"me", "unknown"}, base},
	} {
		if got := g.Writable(tc.voters, known); got.String() != tc.want.String() {
			t.Errorf("Writable(%v): got %s, want %s", tc.voters, got, tc.want)
		}
	}
}
