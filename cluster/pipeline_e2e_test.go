package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
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
		{"the fault suite's pipeline", "i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo $i; done | onnode " + n1 + " cat", numbers(300), 0},
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

// A node that dies ends the streams of the descriptors its processes
// inherited, as a crash ends a local process's: the reader on the parent's
// node sees EOF, the writer there EPIPE, never a hang.
func TestPipelineNodeDies(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         func(out string, code int) bool
	}{
		// wc -c prints what it counted once the remote writer's end is gone.
		{"remote writer dies: EOF", "onnode %s yes | wc -c", func(out string, code int) bool {
			n, err := strconv.Atoi(strings.TrimSpace(out))
			return err == nil && n > 0 && code == 0
		}},
		// yes is killed by SIGPIPE once the remote reader's end is gone.
		{"remote reader dies: EPIPE", "yes | onnode %s cat > /dev/null; echo status $?", func(out string, code int) bool {
			return strings.HasPrefix(out, "status ") && code == 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := MakeCluster(t, 3, func(i int, cfg *Config) { cfg.Programs = unixPrograms() })
			clients := ipcClients(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// The shell runs on a follower's node; the stage on node 2 dies.
			script := fmt.Sprintf(tc.script, c.agents[2].Name())
			res, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "sh", Args: []string{"-c", script}, Node: c.agents[0].Name()})
			if err != nil {
				t.Fatal(err)
			}
			// The remote stage runs and data flows.
			poll(t, 30*time.Second, func() error {
				list, err := clients[0].List(ctx, client.ListOpts{})
				if err != nil {
					return err
				}
				for _, p := range list.Processes {
					if p.Node == c.agents[2].Name() && p.State == "running" {
						return nil
					}
				}
				return fmt.Errorf("no stage running on %s yet", c.agents[2].Name())
			})
			c.crash(2)
			p, err := clients[0].Wait(ctx, res.PID)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := logOf(ctx, clients[0], res.PID)
			code := -1
			if p.ExitCode != nil {
				code = *p.ExitCode
			}
			if !tc.want(out, code) {
				if len(out) > 200 {
					out = out[:100] + "..." + out[len(out)-100:]
				}
				t.Fatalf("sh -c %q after node 2 died: output %q, exit %d", script, out, code)
			}
		})
	}
}

// numbers returns "1\n2\n…n\n".
func numbers(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i) + "\n")
	}
	return b.String()
}
