package events

import (
	"encoding/json"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// events returns the events of the entry at index as a reader gets them.
func events(index uint64, changes []fsm.Change) []api.Event {
	var out []api.Event
	for _, r := range derive(nil, index, changes) {
		out = append(out, r.event())
	}
	return out
}

// TestDerive checks each change's events as the stream serves them.
func TestDerive(t *testing.T) {
	spec := &fsm.Spec{Command: "sleep"}
	pending := &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, Owner: "alice", Parent: 1, State: fsm.StatePending}
	placed := &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, State: fsm.StatePlaced, Node: "n1"}
	running := &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, State: fsm.StateRunning, Node: "n1"}
	exited := &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, State: fsm.StateExited, Node: "n1", Status: fsm.Status{Exited: true, Code: 3}}
	killed := &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, State: fsm.StateExited, Node: "n1", Status: fsm.Status{Signal: 9, Reason: "killed"}}
	lost := &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, State: fsm.StateLost, Node: "n1", Status: fsm.Status{Reason: "node lost"}}
	requeued := &fsm.Process{PID: 5, Incarnation: 2, Spec: spec, State: fsm.StatePending, Status: fsm.Status{Exited: true, Code: 1}}
	preempted := &fsm.Process{PID: 5, Incarnation: 2, Spec: spec, State: fsm.StatePending}
	n1 := &fsm.Node{ID: "n1", Name: "one", Status: fsm.NodeAlive, HTTPAddr: "127.0.0.1:1"}
	n1suspect := &fsm.Node{ID: "n1", Name: "one", Status: fsm.NodeSuspect}
	n1down := &fsm.Node{ID: "n1", Name: "one", Status: fsm.NodeDown}
	const at = int64(1_700_000_000_123_456_789)
	cases := []struct {
		name string
		c    fsm.Change
		want string
	}{
		{"spawn", fsm.Change{Kind: fsm.ChangeProcess, NewProc: pending},
			`[{"index":9,"topic":"proc","type":"spawned","pid":5,"time":"2023-11-14T22:13:20.123456789Z","detail":{"command":"sleep","owner":"alice","parent":1}}]`},
		{"spawn placed", fsm.Change{Kind: fsm.ChangeProcess, NewProc: &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, Owner: "alice", Parent: 1, State: fsm.StatePlaced, Node: "n1"}},
			`[{"index":9,"topic":"proc","type":"spawned","pid":5,"time":"2023-11-14T22:13:20.123456789Z","detail":{"command":"sleep","owner":"alice","parent":1}},{"index":9,"topic":"proc","type":"placed","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"incarnation":1}}]`},
		{"place", fsm.Change{Kind: fsm.ChangeProcess, OldProc: pending, NewProc: placed},
			`[{"index":9,"topic":"proc","type":"placed","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"incarnation":1}}]`},
		{"start", fsm.Change{Kind: fsm.ChangeProcess, OldProc: placed, NewProc: running},
			`[{"index":9,"topic":"proc","type":"started","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"incarnation":1}}]`},
		{"exit", fsm.Change{Kind: fsm.ChangeProcess, OldProc: running, NewProc: exited},
			`[{"index":9,"topic":"proc","type":"exited","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"exit_code":3,"incarnation":1}}]`},
		{"start and exit reported together", fsm.Change{Kind: fsm.ChangeProcess, OldProc: placed, NewProc: &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, State: fsm.StateExited, Node: "n1", StartedAt: at, Status: fsm.Status{Exited: true}}},
			`[{"index":9,"topic":"proc","type":"started","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"incarnation":1}},{"index":9,"topic":"proc","type":"exited","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"exit_code":0,"incarnation":1}}]`},
		{"never started", fsm.Change{Kind: fsm.ChangeProcess, OldProc: placed, NewProc: &fsm.Process{PID: 5, Incarnation: 1, Spec: spec, State: fsm.StateExited, Node: "n1", Status: fsm.Status{Exited: true, Code: 127}}},
			`[{"index":9,"topic":"proc","type":"exited","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"exit_code":127,"incarnation":1}}]`},
		{"kill", fsm.Change{Kind: fsm.ChangeProcess, OldProc: running, NewProc: killed},
			`[{"index":9,"topic":"proc","type":"exited","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"incarnation":1,"reason":"killed","signal":"SIGKILL"}}]`},
		{"lost", fsm.Change{Kind: fsm.ChangeProcess, OldProc: running, NewProc: lost},
			`[{"index":9,"topic":"proc","type":"lost","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"incarnation":1,"reason":"node lost"}}]`},
		{"restart", fsm.Change{Kind: fsm.ChangeProcess, OldProc: running, NewProc: requeued},
			`[{"index":9,"topic":"proc","type":"exited","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"exit_code":1,"incarnation":1,"restarting":true}}]`},
		{"preempted before start", fsm.Change{Kind: fsm.ChangeProcess, OldProc: placed, NewProc: preempted}, `null`},
		{"reparent", fsm.Change{Kind: fsm.ChangeProcess, OldProc: running, NewProc: running}, `null`},
		{"reap", fsm.Change{Kind: fsm.ChangeProcess, OldProc: exited}, `null`},
		{"signal", fsm.Change{Kind: fsm.ChangeSignal, Signal: &fsm.SignalSent{PID: 5, Incarnation: 1, Node: "n1", Signal: 15, Sender: 4}},
			`[{"index":9,"topic":"proc","type":"signalled","pid":5,"node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"incarnation":1,"sender":4,"signal":"SIGTERM"}}]`},
		{"node up", fsm.Change{Kind: fsm.ChangeNode, NewNode: n1},
			`[{"index":9,"topic":"node","type":"up","node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"http_addr":"127.0.0.1:1","name":"one","status":"alive"}}]`},
		{"node refreshed", fsm.Change{Kind: fsm.ChangeNode, OldNode: n1, NewNode: n1}, `null`},
		{"node suspect", fsm.Change{Kind: fsm.ChangeNode, OldNode: n1, NewNode: n1suspect}, `null`},
		{"node down", fsm.Change{Kind: fsm.ChangeNode, OldNode: n1suspect, NewNode: n1down},
			`[{"index":9,"topic":"node","type":"down","node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"name":"one","status":"down"}}]`},
		{"node lost", fsm.Change{Kind: fsm.ChangeNodeLost, NewNode: n1down, Reason: "lease expired"},
			`[{"index":9,"topic":"node","type":"lost","node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"name":"one","reason":"lease expired","status":"down"}}]`},
		{"fifo removed", fsm.Change{Kind: fsm.ChangeObject, OldObject: &fsm.Object{Kind: fsm.KindFIFO, Name: "/run/f", Node: "n1", Owner: "bob"}},
			`[{"index":9,"topic":"ipc","type":"removed","node":"n1","time":"2023-11-14T22:13:20.123456789Z","detail":{"kind":"fifo","name":"/run/f","owner":"bob"}}]`},
		{"object lost", fsm.Change{Kind: fsm.ChangeObject, OldObject: &fsm.Object{Kind: fsm.KindMQ, Name: "/q"}, NewObject: &fsm.Object{Kind: fsm.KindMQ, Name: "/q", Lost: true}}, `null`},
	}
	for _, c := range cases {
		c.c.Time = at
		b, err := json.Marshal(events(9, []fsm.Change{c.c}))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, b, c.want)
		}
	}
}
