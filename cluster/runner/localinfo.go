package runner

import (
	"time"

	"github.com/vproc/vproc/node"
)

// LocalInfo returns the micro-state and CPU time of incarnation inc of pid
// as this node's kernel sees it.
func (r *Runner) LocalInfo(pid, inc uint64) (micro string, cpu time.Duration, ok bool) {
	out := r.LocalInfos([]ProcRef{{PID: pid, Inc: inc}})
	if len(out) == 0 {
		return "", 0, false
	}
	return out[0].Micro, out[0].CPU, out[0].OK
}

// ProcRef names an incarnation.
type ProcRef struct{ PID, Inc uint64 }

// ProcInfo is what the local kernel knows of an incarnation.
type ProcInfo struct {
	Micro string        // ready, running or waiting
	CPU   time.Duration // CPU time used
	OK    bool          // the kernel knows the incarnation
	// Command and Args name the program the incarnation runs now, which
	// an exec may have changed since its spawn; "" once it has ended.
	Command string
	Args    []string
}

// LocalInfos returns LocalInfo for each incarnation, asking the kernel for
// its whole list when there are many.
func (r *Runner) LocalInfos(refs []ProcRef) []ProcInfo {
	out := make([]ProcInfo, len(refs))
	live := make([]bool, len(refs))
	r.mu.Lock()
	for i, ref := range refs {
		lp := r.procs[ref.PID]
		fc, hasFinal := r.final[ref.PID]
		switch {
		case hasFinal && fc.inc == ref.Inc && (lp == nil || lp.inc != ref.Inc || lp.exited || lp.failed):
			out[i] = ProcInfo{CPU: fc.cpu, OK: true}
		case lp != nil && lp.inc == ref.Inc:
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
			kp = all[int(ref.PID)]
		} else if p, err := r.kernel.Get(int(ref.PID)); err == nil {
			kp = p
		}
		if kp != nil {
			out[i] = ProcInfo{Micro: kp.State.MicroState(), CPU: kp.CPUTime, OK: true, Command: kp.Command, Args: kp.Args}
		}
	}
	return out
}
