package node

import (
	"sync"
	"time"
)

// timerHeap holds the deadlines of the kernel's blocked processes (sleep,
// timed waits), earliest first, and serves them all with one runtime timer
// set for the earliest. A sleeping process so costs two words in the kernel
// rather than a runtime timer and its callback.
//
// Deadlines are runtime monotonic nanoseconds (runtimeNano), not the kernel
// clock, which tests replace. When the timer fires it wakes every process
// whose deadline has passed; a process removes itself when its wait ends,
// however it ended. The timer is stopped whenever the heap is empty, so no
// callback is left pending once every process has ended.
type timerHeap struct {
	mu    sync.Mutex
	procs []*Process  // guarded by mu: a min-heap on Process.timerWhen
	t     *time.Timer // guarded by mu: made on first use; fires at armed
	armed int64       // guarded by mu: when t is set to fire; 0 when stopped
}

// add wakes p at when (runtime nanoseconds), unless del removes it first.
// p must not be in the heap.
func (h *timerHeap) add(p *Process, when int64) {
	h.mu.Lock()
	p.timerWhen = when
	p.timerIdx = int32(len(h.procs)) + 1
	h.procs = append(h.procs, p)
	h.up(len(h.procs) - 1)
	if h.armed == 0 || when < h.armed {
		h.armLocked(when)
	}
	h.mu.Unlock()
}

// del removes p from the heap, if it is there.
func (h *timerHeap) del(p *Process) {
	h.mu.Lock()
	if i := int(p.timerIdx) - 1; i >= 0 {
		h.removeLocked(i)
	}
	if len(h.procs) == 0 && h.armed != 0 {
		h.t.Stop()
		h.armed = 0
	}
	h.mu.Unlock()
}

// armLocked sets the timer to fire at when.
func (h *timerHeap) armLocked(when int64) {
	d := time.Duration(when - runtimeNano())
	if h.t == nil {
		h.t = time.AfterFunc(d, h.fire)
	} else {
		h.t.Reset(d)
	}
	h.armed = when
}

// fire wakes the processes whose deadline has passed and sets the timer for
// the next one.
func (h *timerHeap) fire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = 0
	now := runtimeNano()
	for len(h.procs) > 0 && h.procs[0].timerWhen <= now {
		h.removeLocked(0).wake()
	}
	if len(h.procs) > 0 {
		h.armLocked(h.procs[0].timerWhen)
	}
}

func (h *timerHeap) less(i, j int) bool { return h.procs[i].timerWhen < h.procs[j].timerWhen }

func (h *timerHeap) swap(i, j int) {
	q := h.procs
	q[i], q[j] = q[j], q[i]
	q[i].timerIdx = int32(i) + 1
	q[j].timerIdx = int32(j) + 1
}

func (h *timerHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *timerHeap) down(i, n int) bool {
	i0 := i
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// removeLocked takes the process at index i out of the heap and returns it.
func (h *timerHeap) removeLocked(i int) *Process {
	n := len(h.procs) - 1
	if i != n {
		h.swap(i, n)
		if !h.down(i, n) {
			h.up(i)
		}
	}
	p := h.procs[n]
	h.procs[n] = nil
	h.procs = h.procs[:n]
	p.timerIdx = 0
	if n == 0 && cap(h.procs) > 1024 {
		h.procs = nil // let a burst of sleepers' array go
	}
	return p
}
