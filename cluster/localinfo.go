package cluster

import (
	"time"

	"github.com/vproc/vproc/node"
)

// localInfo returns the micro-state and CPU time of incarnation inc of pid
// as this node's kernel sees it.
func (r *runner) localInfo(pid, inc uint64) (micro string, cpu time.Duration, ok bool) {
	out := r.localInfos([]procRef{{pid, inc}})
	if len(out) == 0 {
		return "", 0, false
	}
	return out[0].micro, out[0].cpu, out[0].ok
}

// procRef names an incarnation.
type procRef struct{ pid, inc uint64 }

// procInfo is what the local kernel knows of an incarnation.
type procInfo struct {
	micro string
	cpu   time.Duration
	ok    bool
}

// localInfos returns localInfo for each incarnation, asking the kernel for
// its whole list when there are many.
func (r *runner) localInfos(refs []procRef) []procInfo {
	out := make([]procInfo, len(refs))
	live := make([]bool, len(refs))
	r.mu.Lock()
	for i, ref := range refs {
		lp := r.procs[ref.pid]
		fc, hasFinal := r.final[ref.pid]
		switch {
		case hasFinal && fc.inc == ref.inc && (lp == nil || lp.inc != ref.inc || lp.exited || lp.failed):
			out[i] = procInfo{cpu: fc.cpu, ok: true}
		case lp != nil && lp.inc == ref.inc:
			live[i] = true
		}
	}
	r.mu.Unlock()
	var all map[int]*node.Process
	if len(refs) > 32 {
		all = make(map[int]*node.Process)
		for _, kp := range r.kernel.List() {
			all[kp.PID] = kp
		}
	}
	for i, ref := range refs {
		if !live[i] {
			continue
		}
		var kp *node.Process
		if all != nil {
			kp = all[int(ref.pid)]
		} else if p, err := r.kernel.Get(int(ref.pid)); err == nil {
			kp = p
		}
		if kp != nil {
			out[i] = procInfo{micro: kp.State.MicroState(), cpu: kp.CPUTime, ok: true}
		}
	}
	return out
}
