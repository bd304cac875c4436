package builtins

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

func TestHeartbeat(t *testing.T) {
	k := newKernel(t)
	var out syncBuffer
	pid := mustSpawn(t, k, node.Spec{Command: "heartbeat", Args: []string{"5ms"}, Stdout: &out,
		Env: []string{"VPROC_INCARNATION=3", "VPROC_NODE=n1"}})
	waitFor(t, "two beats", 10*time.Second, func() bool { return strings.Count(out.String(), "hb ") >= 2 })
	k.Kill(pid, ipc.SIGUSR1)
	waitFor(t, "the signal line", 10*time.Second, func() bool { return strings.Contains(out.String(), "sig=10") })
	k.Kill(pid, ipc.SIGKILL)
	mustWait(t, k, pid)
	var last int64
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var kind, node string
		var p, inc int
		var mono int64
		if strings.HasPrefix(l, "sig ") {
			var sig int
			if _, err := fmt.Sscanf(l, "sig pid=%d inc=%d node=%s sig=%d mono=%d", &p, &inc, &node, &sig, &mono); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			kind = "sig"
		} else if _, err := fmt.Sscanf(l, "hb pid=%d inc=%d node=%s mono=%d", &p, &inc, &node, &mono); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if p != pid || inc != 3 || node != "n1" || mono < last {
			t.Fatalf("%s line %q: pid %d inc %d node %s, mono going back from %d", kind, l, p, inc, node, last)
		}
		last = mono
	}
}
