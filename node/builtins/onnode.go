package builtins

import (
	"errors"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// progOnNode is "onnode NODE CMD [ARGS...]": it runs CMD as its child on
// node NODE (in a cluster; a kernel without one refuses another node),
// waits for it, and exits as the child did: its code, or 128+N for a death
// by signal N. The child is in onnode's process group.
func progOnNode(s *node.Sys) int {
	args := s.Args()
	if len(args) < 2 {
		s.Errorf("usage: onnode NODE CMD [ARGS...]")
		return 2
	}
	pid, err := s.Spawn(node.SpawnAttr{Command: args[1], Args: args[2:], Node: args[0]})
	if err != nil {
		s.Errorf("%s: %v", args[1], err)
		if errors.Is(err, ipc.ENOENT) {
			return 127
		}
		return 126
	}
	for {
		_, ws, err := s.Wait4(pid, 0)
		switch {
		case errors.Is(err, ipc.EINTR):
			continue
		case err != nil:
			s.Errorf("wait: %v", err)
			return 126
		}
		return ws.Code()
	}
}
