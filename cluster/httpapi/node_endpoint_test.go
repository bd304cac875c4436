package httpapi

import (
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

// TestNodeMayReportChildrenAndSignals: what a node may send for the
// children and the signals of its processes.
func TestNodeMayReportChildrenAndSignals(t *testing.T) {
	// A child reported by a node may only be placed on that node.
	if err := nodeMayReport(nil, &fsm.Spawn{Parent: 5, Spec: fsm.Spec{Command: "x", Node: "node1", InheritsPipesFrom: 5}, Place: "node2"}, "node1"); err == nil {
		t.Error("a node may place its child on another node")
	}
	if err := nodeMayReport(nil, &fsm.Spawn{Parent: 5, Spec: fsm.Spec{Command: "x", Node: "node1", InheritsPipesFrom: 5}, Place: "node1"}, "node1"); err != nil {
		t.Errorf("a node may not place its child on itself: %v", err)
	}
	f, err := fsm.New(fsm.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var index uint64
	apply := func(cmd fsm.Command) *fsm.Result {
		index++
		return f.Apply(index, fsm.Encode(cmd)).(*fsm.Result)
	}
	for _, n := range []string{"n1", "n2"} {
		apply(&fsm.NodeUpsert{ID: n, Name: n, Capacity: fsm.Capacity{Slots: 4}, Now: time.Now().UnixNano()})
	}
	parent := apply(&fsm.Spawn{Spec: fsm.Spec{Command: "sleep"}, Place: "n1"}).PID
	v := f.View()
	tests := []struct {
		name string
		cmd  fsm.Command
		from string
		ok   bool
	}{
		{"a child on another node", &fsm.Spawn{Parent: parent, Spec: fsm.Spec{Command: "x", Node: "n2"}}, "n1", true},
		{"the same, sent again after a leader here chose its node", &fsm.Spawn{Parent: parent, Spec: fsm.Spec{Command: "x", Node: "n2"}, Place: "n2"}, "n1", true},
		{"placed elsewhere than its node", &fsm.Spawn{Parent: parent, Spec: fsm.Spec{Command: "x", Node: "n2"}, Place: "n3"}, "n1", false},
		{"a child of another node's process", &fsm.Spawn{Parent: parent, Spec: fsm.Spec{Command: "x", Node: "n1"}}, "n2", false},
		{"a child bound to no node", &fsm.Spawn{Parent: parent, Spec: fsm.Spec{Command: "x"}}, "n1", false},
		{"a child of init", &fsm.Spawn{Spec: fsm.Spec{Command: "x", Node: "n2"}}, "n1", false},
		{"a child on another node with descriptors this node exports", &fsm.Spawn{Parent: parent, Spec: fsm.Spec{Command: "x", Node: "n2", Files: []fsm.FileRef{{Fd: 1, Node: "n1", Export: 3}}}}, "n1", true},
		{"a child with descriptors another node exports", &fsm.Spawn{Parent: parent, Spec: fsm.Spec{Command: "x", Node: "n2", Files: []fsm.FileRef{{Fd: 1, Node: "n2", Export: 3}}}}, "n1", false},
		{"a local process's kill", &fsm.Signal{ID: 7, Target: -int64(parent), Signal: 10, Sender: parent}, "n1", true},
		{"another node's process's kill", &fsm.Signal{ID: 7, Target: -int64(parent), Signal: 10, Sender: parent}, "n2", false},
		{"a kill without a request id", &fsm.Signal{Target: -int64(parent), Signal: 10, Sender: parent}, "n1", false},
		{"SIGKILL of a failed child", &fsm.Signal{Target: int64(parent), Signal: 9}, "n1", true},
		{"a reap after a parent's wait", &fsm.Reap{PID: parent}, "n2", true},
	}
	for _, tt := range tests {
		err := nodeMayReport(v, tt.cmd, tt.from)
		if (err == nil) != tt.ok {
			t.Errorf("%s from %s: got %v, want allowed %v", tt.name, tt.from, err, tt.ok)
		}
	}
}
