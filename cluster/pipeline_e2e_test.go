package cluster

import (
	"context"
	"testing"
	"time"
)

// Pipelines across nodes: a child on another node inherits its parent's
// descriptors (pipes, files), each a stream to the parent's node, with EOF
// and EPIPE kept end to end. Three in-process nodes; the shell runs on
// node 0 and places stages with onnode.
func TestPipelineAcrossNodes(t *testing.T) {
	_, clients, names := unixCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n1, n2 := names[1], names[2]
	cases := []struct {
		name, script, want string
		code               int
	}{
		{"remote writer into a local reader", "onnode " + n1 + " echo hi | wc -l", "1\n", 0},
		{"local writer into a remote reader", "echo one two three | onnode " + n1 + " wc -w", "3\n", 0},
		{"two remote stages on two nodes", "onnode " + n1 + " echo a b | onnode " + n2 + " wc -w", "2\n", 0},
		{"a file of the namespace as stdin", "echo from-file > /in.txt; onnode " + n2 + " cat < /in.txt", "from-file\n", 0},
		{"a file of the namespace as stdout", "onnode " + n1 + " echo to-file > /out.txt; cat /out.txt", "to-file\n", 0},
		{"the last reader closes: EPIPE on the remote writer", "onnode " + n1 + " yes | head -n 2", "y\ny\n", 0},
		{"the output of a remote child reaches its parent's log", "onnode " + n2 + " echo direct", "direct\n", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runOn(t, ctx, clients[0], names[0], "sh", "-c", tc.script)
			if out != tc.want || code != tc.code {
				t.Fatalf("got %q, exit %d, want %q, exit %d for sh -c %q", out, code, tc.want, tc.code, tc.script)
			}
		})
	}
}
