package events

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// GoneError answers a resume from an index whose events the buffer no
// longer holds.
type GoneError struct {
	// Index is the index asked for.
	Index uint64
	// Oldest is the smallest index a stream may resume from.
	Oldest uint64
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("events after index %d are no longer held; the oldest index to resume from is %d", e.Index, e.Oldest)
}

// Buffer is the ring of an agent's recent events and the readers'
// cursors into it. Publish and Reset are called by the goroutine that
// applies the log; the readers' methods from any goroutine.
type Buffer struct {
	size uint64

	// applied is the index of the last entry published.
	applied atomic.Uint64

	mu sync.Mutex
	// ring holds the events of sequence numbers [head-len, head), event
	// seq at ring[seq%size]; ring grows up to size, then wraps.
	ring []record
	head uint64
	// floor is the smallest index a stream may resume from: every event
	// of a later index is held (or still to come).
	floor uint64
	// epoch counts resets; a reader of an older epoch is dropped.
	epoch uint64
	// wake is closed and replaced when events are added or the buffer
	// is reset.
	wake chan struct{}

	// scratch holds the records of the entry being published; only
	// Publish's goroutine uses it.
	scratch []record
}

// New returns an empty buffer of cfg.Size events, which holds every event
// after index floor (the table's applied index when it starts).
func New(cfg Config, floor uint64) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Buffer{size: uint64(cfg.Size), floor: floor, wake: make(chan struct{})}
	b.applied.Store(floor)
	return b, nil
}

// Publish adds the events of the entry at index, derived from its
// changes. It never waits for a reader.
func (b *Buffer) Publish(index uint64, changes []fsm.Change) {
	recs := derive(b.scratch[:0], index, changes)
	if len(recs) == 0 {
		b.applied.Store(index)
		return
	}
	b.mu.Lock()
	for i := range recs {
		if uint64(len(b.ring)) < b.size {
			b.ring = append(b.ring, recs[i])
		} else {
			slot := &b.ring[b.head%b.size]
			// The evicted event's index may still have events held:
			// a resume from below it would miss this one.
			b.floor = max(b.floor, slot.index)
			*slot = recs[i]
		}
		b.head++
	}
	b.applied.Store(index)
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
	clear(recs) // drop the change's pointers until the next entry
	b.scratch = recs[:0]
}

// Reset empties the buffer after the table was replaced by a snapshot of
// index: the events before it are unknown. Every reader is dropped. An
// operator's restore carries index 0 and lands above the entries applied
// so far, so a resume may start no lower than those either.
func (b *Buffer) Reset(index uint64) {
	b.mu.Lock()
	index = max(index, b.applied.Load())
	clear(b.ring) // let the old table's records go
	b.ring = b.ring[:0]
	b.head = 0
	b.floor = index
	b.epoch++
	b.applied.Store(index)
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// Applied returns the index of the last entry published.
func (b *Buffer) Applied() uint64 { return b.applied.Load() }

// Oldest returns the smallest index a stream may resume from.
func (b *Buffer) Oldest() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.floor
}

// Filter selects events. The zero Filter selects all; each field set
// must match.
type Filter struct {
	// Topics, if not empty, are the topics selected.
	Topics []string
	// PID, if not 0, selects that process's events.
	PID uint64
	// Node, if not "", selects the events of that node.
	Node string
}

// Match reports whether f selects e.
func (f *Filter) Match(e *api.Event) bool {
	return f.match(e.Topic, e.PID, e.Node)
}

func (f *Filter) match(topic string, pid uint64, node string) bool {
	if len(f.Topics) > 0 {
		ok := false
		for _, t := range f.Topics {
			ok = ok || t == topic
		}
		if !ok {
			return false
		}
	}
	return (f.PID == 0 || pid == f.PID) && (f.Node == "" || node == f.Node)
}

// Subscription is a reader's cursor into a Buffer. It holds no goroutine
// and needs no closing. One goroutine uses it at a time.
type Subscription struct {
	b      *Buffer
	filter Filter
	next   uint64 // the sequence number of the next event to read
	epoch  uint64
	// upTo is the applied index when Read last caught up with the buffer.
	upTo uint64
}

// UpTo returns the index up to which the reader has read every event: the
// index applied when a Read last returned a channel to wait on (a
// heartbeat's index), or the index it subscribed after.
func (s *Subscription) UpTo() uint64 { return s.upTo }

// Subscribe returns a reader of the events that f selects: those after
// index from when resume is set (a *GoneError when the buffer no longer
// holds them all), otherwise those published from now on.
func (b *Buffer) Subscribe(f Filter, from uint64, resume bool) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &Subscription{b: b, filter: f, next: b.head, epoch: b.epoch, upTo: b.applied.Load()}
	if !resume {
		return s, nil
	}
	s.upTo = from
	if from < b.floor {
		return nil, &GoneError{Index: from, Oldest: b.floor}
	}
	// The first held event with an index above from; indexes never go
	// down along the ring.
	tail := b.head - uint64(len(b.ring))
	n := sort.Search(len(b.ring), func(i int) bool {
		return b.ring[(tail+uint64(i))%b.size].index > from
	})
	s.next = tail + uint64(n)
	return s, nil
}

// maxScan bounds how many events one Read looks at under the lock, so
// that a filter that selects few events does not hold Publish back.
const maxScan = 1024

// Read returns up to limit events the subscription has not read yet (at
// least one when limit < 1); or none and the channel that is closed when
// there may be more; or none and no channel when the filter passed over
// many events: read again. dropped, when not "", says why the reader is
// dropped: it fell behind the buffer, or the buffer was reset; it reads
// nothing more.
func (s *Subscription) Read(limit int) (evs []api.Event, wait <-chan struct{}, dropped string) {
	recs, wait, dropped := s.take(limit)
	if len(recs) > 0 {
		// Formatted outside the lock: Publish does not wait for it.
		evs = make([]api.Event, len(recs))
		for i := range recs {
			evs[i] = recs[i].event()
		}
	}
	return evs, wait, dropped
}

// take is Read's part under the lock: the records the filter selects.
func (s *Subscription) take(limit int) (recs []record, wait <-chan struct{}, dropped string) {
	if limit < 1 {
		limit = 1
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case s.epoch != b.epoch:
		return nil, nil, fmt.Sprintf("the table was restored from a snapshot at index %d; resume from there", b.floor)
	case b.head-s.next > uint64(len(b.ring)):
		return nil, nil, fmt.Sprintf("the reader fell more than %d events behind", b.size)
	}
	for scanned := 0; s.next < b.head && len(recs) < limit && scanned < maxScan; scanned++ {
		r := &b.ring[s.next%b.size]
		s.next++
		if s.filter.match(r.topic, r.pid, r.node) {
			recs = append(recs, *r)
		}
	}
	if len(recs) == 0 && s.next == b.head {
		// Events are added, and their index made applied, under mu; an
		// entry without events only moves applied. So every event up to
		// applied has been read.
		s.upTo = max(s.upTo, b.applied.Load())
		return nil, b.wake, ""
	}
	return recs, nil, ""
}
