package cluster

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []nodeMeta{
		{},
		{RaftAddr: "10.0.0.1:7071", HTTPAddr: "10.0.0.1:7070", Slots: 8, Memory: 1 << 34, Expect: 3},
		{RaftAddr: "h:1", HTTPAddr: "h:2", Labels: []fsm.Label{{Key: "a", Value: "1"}, {Key: "zone", Value: "eu-west"}},
			InCluster: true, Leaving: true},
	} {
		b, err := encodeMeta(m)
		if err != nil {
			t.Fatalf("encodeMeta(%+v): %v", m, err)
		}
		got, err := decodeMeta(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("decodeMeta(encodeMeta(%+v)) = %+v, %v", m, got, err)
		}
		for i := 0; i < len(b); i++ {
			if _, err := decodeMeta(b[:i]); err == nil {
				t.Errorf("decodeMeta of %d of %d bytes succeeded", i, len(b))
			}
		}
	}
}

func TestMetaSizeLimit(t *testing.T) {
	cfg := testConfig(t, "x")
	cfg.Labels = map[string]string{}
	for i := 0; len(cfg.Labels)*40 < memberlist.MetaMaxSize; i++ {
		cfg.Labels[fmt.Sprintf("label-%02d", i)] = strings.Repeat("v", 30)
	}
	err := cfg.Validate()
	if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("Validate with %d long labels = %v, want a metadata size error", len(cfg.Labels), err)
	}
	cfg.Labels = map[string]string{"zone": "a", "disk": "ssd"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with two labels: %v", err)
	}
}

func TestLoadGossiped(t *testing.T) {
	c := MakeCluster(t, 3, func(i int, c *Config) { c.LoadInterval = time.Hour })
	src := c.agents[0]
	want := api.Load{BusySlots: 3, RunQueue: 7, Procs: 42}
	poll(t, 10*time.Second, func() error {
		src.gossip.publishLoad(want) // the newest publication wins
		for _, a := range c.up() {
			if got, ok := a.gossip.load(src.Name()); !ok || got != want {
				return fmt.Errorf("%s knows load %+v of %s, want %+v", a.Name(), got, src.Name(), want)
			}
		}
		return nil
	})
	for _, n := range c.agents[2].nodes(nil) {
		if n.ID == src.Name() && n.Load != want {
			t.Errorf("nodes() shows load %+v for %s, want %+v", n.Load, n.ID, want)
		}
	}
}

func TestLoadMergeKeepsNewest(t *testing.T) {
	g := &gossip{name: "me", loads: map[string]loadEntry{}, members: map[string]*member{}, logger: agentTestLogger(t, "me")}
	d := &delegate{g: g}
	g.mergeLoad("a", loadEntry{Seq: 5, Load: api.Load{Procs: 5}})
	g.mergeLoad("a", loadEntry{Seq: 4, Load: api.Load{Procs: 4}})
	g.mergeLoad("me", loadEntry{Seq: 9, Load: api.Load{Procs: 9}}) // only this node knows its own load
	if l, _ := g.load("a"); l.Procs != 5 {
		t.Errorf("after an older load, got %+v, want the newer one", l)
	}
	if _, ok := g.load("me"); ok {
		t.Errorf("a remote claim about this node's own load was kept")
	}
	// Push-pull state carries every load known.
	h := &gossip{name: "other", loads: map[string]loadEntry{}, members: map[string]*member{}, logger: agentTestLogger(t, "other")}
	(&delegate{g: h}).MergeRemoteState(d.LocalState(false), false)
	if l, ok := h.load("a"); !ok || l.Procs != 5 {
		t.Errorf("push-pull carried %+v %v, want Procs 5", l, ok)
	}
	(&delegate{g: h}).NotifyMsg([]byte{msgLoad, 0xff}) // garbage is ignored
	(&delegate{g: h}).MergeRemoteState([]byte{9, 9}, false)
}

func TestTableFollowsGossip(t *testing.T) {
	c := MakeCluster(t, 3)
	f := c.index(c.followers()[0])
	name := c.cfgs[f].Name
	c.crash(f)
	status := func(want fsm.NodeStatus) {
		t.Helper()
		poll(t, 10*time.Second, func() error {
			n, ok := c.leader().localView().Node(name)
			if !ok || n.Status != want {
				return fmt.Errorf("table node %s is %q, want %q", name, n.Status, want)
			}
			return nil
		})
	}
	status(fsm.NodeDown)
	c.start(f)
	status(fsm.NodeAlive)
	c.waitConverged()
}
