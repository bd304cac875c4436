package fsm

import "sort"

// feed is an append-only list of (index, pid) pairs in index order, shared
// by the table and its views without copying: the pairs live in fixed-size
// chunks, and the table only writes past the end every view has seen. A
// view copies the feed's header (the chunk list and the count), so what it
// holds never changes. The oldest chunks go once the feed holds more than
// it must keep.
type feed struct {
	chunks []*feedChunk // chunks[0] holds the pairs from position first
	first  int          // position of chunks[0][0]; a multiple of feedChunkLen
	n      int          // position past the last pair
	// from: every pair of an index above it is in the feed.
	from uint64
}

const feedChunkLen = 1024

type feedChunk [feedChunkLen]pairKey

// add appends (index, pid), then drops whole chunks from the front for as
// long as keep pairs remain. index is at least that of the last pair.
func (f *feed) add(index, pid uint64, keep int) {
	if f.n-f.first == len(f.chunks)*feedChunkLen {
		f.chunks = append(f.chunks, new(feedChunk))
	}
	f.chunks[(f.n-f.first)/feedChunkLen][(f.n-f.first)%feedChunkLen] = pairKey{index, pid}
	f.n++
	if drop := (f.n - f.first - keep) / feedChunkLen; drop > 0 {
		// Drop whole chunks. A new list, so that the dropped chunks can go
		// once no view holds them; the list is short, and this is rare.
		last := f.chunks[drop-1][feedChunkLen-1]
		f.from = max(f.from, last.a)
		f.chunks = append([]*feedChunk(nil), f.chunks[drop:]...)
		f.first += drop * feedChunkLen
	}
}

// at returns the pair at position i, between first and n.
func (f *feed) at(i int) pairKey {
	i -= f.first
	return f.chunks[i/feedChunkLen][i%feedChunkLen]
}

// since returns the position of the first pair of an index above index,
// and whether the feed holds every such pair.
func (f *feed) since(index uint64) (int, bool) {
	if index < f.from {
		return 0, false
	}
	i := sort.Search(f.n-f.first, func(i int) bool { return f.at(f.first+i).a > index })
	return f.first + i, true
}
