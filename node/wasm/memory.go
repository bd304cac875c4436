package wasm

import "github.com/tetratelabs/wazero/experimental"

// cappedAllocator backs a module's linear memory with a Go slice that never
// grows past limit bytes: a memory.grow beyond it fails (the instruction
// returns -1), as mmap(2) fails past RLIMIT_AS.
func cappedAllocator(limit uint64) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, max uint64) experimental.LinearMemory {
		return &cappedMemory{limit: min(limit, max), initialCap: min(capacity, limit)}
	})
}

// cappedMemory is one module's linear memory, owned by the module.
type cappedMemory struct {
	buf        []byte
	limit      uint64
	initialCap uint64
}

// Reallocate implements experimental.LinearMemory.
func (m *cappedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	c := max(size, min(2*uint64(cap(m.buf)), m.limit), m.initialCap)
	nb := make([]byte, size, c)
	copy(nb, m.buf)
	m.buf = nb
	return nb
}

// Free implements experimental.LinearMemory.
func (m *cappedMemory) Free() { m.buf = nil }
