package node

import (
	"testing"
	"time"
)

func checkTimerHeap(t *testing.T, h *timerHeap) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, p := range h.procs {
		if int(p.timerIdx) != i+1 {
			t.Fatalf("entry %d has index %d", i, p.timerIdx)
		}
		if i > 0 && h.procs[(i-1)/2].timerWhen > p.timerWhen {
			t.Fatalf("entry %d is earlier than its parent", i)
		}
	}
}

// TestTimerHeap: the kernel's timer heap keeps its order through adds and
// removals, wakes exactly the processes whose deadline has passed, takes
// them out, and stops its timer once it is empty.
func TestTimerHeap(t *testing.T) {
	var h timerHeap
	now := runtimeNano()
	ps := make([]*Process, 50)
	for i := range ps {
		ps[i] = &Process{}
		ps[i].initPark()
	}
	// Deadlines out of order: the even ones have passed, the odd ones are
	// an hour away.
	for i, p := range ps {
		when := now + int64(time.Hour) + int64(i*37%50)
		if i%2 == 0 {
			when = now - 1 - int64(i*37%50)
		}
		h.add(p, when)
	}
	removed := map[int]bool{4: true, 7: true, 10: true, 33: true, 49: true}
	for i := range removed {
		h.del(ps[i])
		if ps[i].timerIdx != 0 {
			t.Fatalf("process %d still indexed after del", i)
		}
	}
	checkTimerHeap(t, &h)
	h.fire() // the runtime timer may have fired already: same outcome
	for i, p := range ps {
		in := p.timerIdx != 0
		switch {
		case removed[i]:
			if in {
				t.Errorf("process %d: removed but in the heap", i)
			}
		case i%2 == 0:
			if in || !p.woken.Load() {
				t.Errorf("process %d: deadline passed, in heap %v, woken %v", i, in, p.woken.Load())
			}
		default:
			if !in || p.woken.Load() {
				t.Errorf("process %d: deadline ahead, in heap %v, woken %v", i, in, p.woken.Load())
			}
		}
	}
	checkTimerHeap(t, &h)
	for _, p := range ps {
		h.del(p)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.procs) != 0 || h.armed != 0 {
		t.Fatalf("empty heap: %d entries, armed %d", len(h.procs), h.armed)
	}
}
