package node

import (
	"math"
	"sync"
	"time"
	_ "unsafe" // for go:linkname
)

// Scheduler is the local CPU scheduler (Schedule, Yield, GetNextRunnable):
// it hands the node's CPU slots to runnable processes. The kernel's
// implementation is *FairScheduler.
type Scheduler interface {
	// Schedule makes p runnable: it gets a free slot at once, or joins the
	// run queue.
	Schedule(p *Process) error
	// Yield gives p's slot to the next runnable process, if there is one,
	// and queues p behind it, as sched_yield(2) does.
	Yield(p *Process)
	// GetNextRunnable removes and returns the runnable process that should
	// run next, or nil when none waits.
	GetNextRunnable() *Process
}

// Clock is the scheduler's time source: monotonic nanoseconds. Tests inject a
// deterministic one, so that shares are measured in the scheduler's own
// accounting rather than in wall time.
type Clock interface {
	Now() int64
}

// monoClock reads the runtime's monotonic clock: one vDSO call, where
// time.Now makes two.
type monoClock struct{}

func (monoClock) Now() int64 { return runtimeNano() }

//go:linkname runtimeNano runtime.nanotime
func runtimeNano() int64

// niceWeights is Linux's sched_prio_to_weight table, for nice -20 to 19.
var niceWeights = [40]uint32{
	88761, 71755, 56483, 46273, 36291,
	29154, 23254, 18705, 14949, 11916,
	9548, 7620, 6100, 4904, 3906,
	3121, 2501, 1991, 1586, 1277,
	1024, 820, 655, 526, 423,
	335, 272, 215, 172, 137,
	110, 87, 70, 56, 45,
	36, 29, 23, 18, 15,
}

// Nice returns the nice value for a priority (1..100):
// clamp(round((50 - priority) / 2.5), -20, 19).
func Nice(priority int) int {
	n := int(math.Round(float64(50-priority) / 2.5))
	return max(-20, min(19, n))
}

// Weight returns the CPU weight of a priority: the Linux weight of its nice
// value. Priority 50 weighs 1024.
func Weight(priority int) uint32 { return niceWeights[Nice(priority)+20] }

// FairScheduler is a CFS-style weighted fair scheduler over K CPU slots.
//
// Every process has a virtual runtime that grows by the CPU time it used,
// scaled by 1024/weight; the run queue is ordered by virtual runtime, so the
// process that has had the least weighted CPU runs next, and over time each
// runnable process receives CPU in proportion to its weight. A process that
// wakes up or is new starts no lower than the queue's minimum virtual runtime
// less one slice, so sleeping earns no credit to starve others with.
//
// Slots are handed over directly: a process that gives up its slot passes it
// to the head of the run queue and wakes that process's goroutine, so a switch
// costs one goroutine handoff.
type FairScheduler struct {
	clock Clock // immutable
	slice int64 // immutable: the slice in nanoseconds

	mu          sync.Mutex
	free        int        // guarded by mu: slots nobody holds
	slots       int        // immutable: K
	rq          runQueue   // guarded by mu: runnable processes waiting for a slot
	minVruntime uint64     // guarded by mu: never decreases
	seq         uint64     // guarded by mu: orders equal vruntimes first come, first served
	busy        int        // guarded by mu: slots held
	holders     []*Process // guarded by mu: the processes holding slots
}

// newFairScheduler returns a scheduler with k slots and the given slice.
func newFairScheduler(k int, slice time.Duration, clock Clock) *FairScheduler {
	return &FairScheduler{clock: clock, slice: int64(slice), free: k, slots: k}
}

// Schedule makes p runnable. A process that already holds a slot or is
// already queued is left as it is.
func (s *FairScheduler) Schedule(p *Process) error {
	if s.schedule(p) {
		p.wake()
	}
	return nil
}

// schedule is Schedule for the kernel's own use, by p's goroutine or before
// that goroutine starts: it reports whether p was handed a free slot at once
// and leaves no wake-up behind, since p checks for its slot before it parks.
// (A stray wake-up would make p's next blocking wait return at once, and a
// process that blocks, is granted a free slot, and blocks again would spin.)
func (s *FairScheduler) schedule(p *Process) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.onSlot.Load() || p.queued {
		return false
	}
	s.placeLocked(p)
	return s.enqueueLocked(p, s.clock.Now()) != nil
}

// placeLocked sets the virtual runtime of a process that becomes runnable
// after sleeping or being created: no less than the minimum minus one slice.
func (s *FairScheduler) placeLocked(p *Process) {
	floor := s.minVruntime
	if floor > uint64(s.slice) {
		floor -= uint64(s.slice)
	} else {
		floor = 0
	}
	if p.vruntime < floor {
		p.vruntime = floor
	}
}

// enqueueLocked gives p a free slot, or queues it. It returns the process to
// wake (p itself when it got a slot). now is a clock reading made under the
// lock.
func (s *FairScheduler) enqueueLocked(p *Process, now int64) *Process {
	if s.free > 0 {
		s.free--
		s.busy++
		s.grantLocked(p, now)
		return p
	}
	s.seq++
	p.queued = true
	s.rq.push(rqItem{p: p, seq: s.seq})
	return nil
}

// grantLocked hands p a slot. now, the start of its slice, is the clock
// reading of the caller, made under the lock: a switch reads the clock once.
// The process also reads it (acquire) to see whether the lease had ended
// when it was handed the slot.
func (s *FairScheduler) grantLocked(p *Process, now int64) {
	p.sliceStart = now
	p.onSlot.Store(true)
	p.slotIdx = int32(len(s.holders))
	s.holders = append(s.holders, p)
}

func (s *FairScheduler) ungrantLocked(p *Process) {
	p.onSlot.Store(false)
	i, last := int(p.slotIdx), len(s.holders)-1
	s.holders[i] = s.holders[last]
	s.holders[i].slotIdx = int32(i)
	s.holders[last] = nil
	s.holders = s.holders[:last]
	p.slotIdx = -1
}

// chargeLocked accounts the CPU p used since it was handed its slot.
func (s *FairScheduler) chargeLocked(p *Process, now int64) {
	d := now - p.sliceStart
	if d <= 0 {
		return
	}
	p.cpuNs.Add(d)
	p.vruntime += uint64(d) * 1024 / uint64(p.weight)
	p.sliceStart = now
	s.updateMinLocked(p.vruntime)
}

func (s *FairScheduler) updateMinLocked(candidate uint64) {
	m := candidate
	if len(s.rq) > 0 && s.rq[0].p.vruntime < m {
		m = s.rq[0].p.vruntime
	}
	if m > s.minVruntime {
		s.minVruntime = m
	}
}

// release takes p's slot away (p blocks, stops or exits) and passes it on.
func (s *FairScheduler) release(p *Process) {
	s.mu.Lock()
	if p.queued {
		s.rq.remove(int(p.heapIdx))
		p.queued = false
	}
	if !p.onSlot.Load() {
		s.mu.Unlock()
		return
	}
	now := s.clock.Now()
	s.chargeLocked(p, now)
	s.ungrantLocked(p)
	next := s.passLocked(now)
	s.mu.Unlock()
	if next != nil {
		next.wake()
	}
}

// passLocked hands a slot that just became free to the head of the queue.
func (s *FairScheduler) passLocked(now int64) *Process {
	if len(s.rq) == 0 {
		s.free++
		s.busy--
		return nil
	}
	next := s.rq.pop().p
	next.queued = false
	s.grantLocked(next, now)
	return next
}

// Yield implements sched_yield(2) for a fair scheduler: p gives its slot to
// the head of the run queue if the head has had no more weighted CPU than p,
// and joins the queue; otherwise p keeps running. So yielding spinners share
// CPU by weight, and two equal ones alternate on every Yield. The caller must
// then wait for p to be handed a slot again (the kernel does).
func (s *FairScheduler) Yield(p *Process) { s.yield(p) }

// yield is Yield reporting whether p lost its slot.
func (s *FairScheduler) yield(p *Process) bool {
	return s.tick(p, s.clock.Now())
}

// switchLocked queues p (which holds a slot) and hands the slot to the head.
func (s *FairScheduler) switchLocked(p *Process, now int64) *Process {
	next := s.rq.pop().p
	next.queued = false
	s.ungrantLocked(p)
	s.seq++
	p.queued = true
	s.rq.push(rqItem{p: p, seq: s.seq})
	s.grantLocked(next, now)
	return next
}

// tick is the preemption check every system call makes. It charges p and
// switches to the head of the queue when p's slice has expired and the head
// has run less (in weighted time). It reports whether p lost its slot.
func (s *FairScheduler) tick(p *Process, now int64) bool {
	s.mu.Lock()
	if !p.onSlot.Load() {
		s.mu.Unlock()
		return false
	}
	s.chargeLocked(p, now)
	if len(s.rq) == 0 || s.rq[0].p.vruntime > p.vruntime {
		s.mu.Unlock()
		return false
	}
	next := s.switchLocked(p, now)
	s.mu.Unlock()
	next.wake()
	return true
}

// GetNextRunnable removes and returns the process that would run next.
func (s *FairScheduler) GetNextRunnable() *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rq) == 0 {
		return nil
	}
	p := s.rq.pop().p
	p.queued = false
	return p
}

// flagHogs marks every slot holder that has held its slot for longer than
// limit nanoseconds without a system call.
func (s *FairScheduler) flagHogs(now, limit int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.holders {
		if now-p.sliceStart > limit {
			p.attention.Or(attnHog)
		}
	}
}

// Stats returns the number of slots, how many are held, and how many
// processes wait for one.
func (s *FairScheduler) Stats() (slots, busy, queued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slots, s.busy, len(s.rq)
}

// runQueue is a min-heap on (vruntime, seq), kept by hand to avoid the
// interface boxing of container/heap on this hot path. It is guarded by
// FairScheduler.mu.
type rqItem struct {
	p   *Process
	seq uint64
}

type runQueue []rqItem

func (q runQueue) less(i, j int) bool {
	a, b := q[i].p.vruntime, q[j].p.vruntime
	if a != b {
		return a < b
	}
	return q[i].seq < q[j].seq
}

func (q runQueue) swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].p.heapIdx = int32(i)
	q[j].p.heapIdx = int32(j)
}

func (q runQueue) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !q.less(j, i) {
			break
		}
		q.swap(i, j)
		j = i
	}
}

func (q runQueue) down(i int) bool {
	i0, n := i, len(q)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && q.less(r, l) {
			j = r
		}
		if !q.less(j, i) {
			break
		}
		q.swap(i, j)
		i = j
	}
	return i > i0
}

func (q *runQueue) push(it rqItem) {
	it.p.heapIdx = int32(len(*q))
	*q = append(*q, it)
	q.up(len(*q) - 1)
}

func (q *runQueue) pop() rqItem {
	return q.remove(0)
}

func (q *runQueue) remove(i int) rqItem {
	old := *q
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
		if !old[:n].down(i) {
			old[:n].up(i)
		}
	}
	it := old[n]
	old[n] = rqItem{}
	*q = old[:n]
	it.p.heapIdx = -1
	return it
}
