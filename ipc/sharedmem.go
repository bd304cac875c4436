package ipc

import (
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
)

// MaxSegmentSize is the largest size a shared-memory segment may be given.
// Truncate beyond it is EFBIG.
const MaxSegmentSize = 1 << 32

// The segment's memory is a table of 4 KiB pages of 64-bit words. Pages are
// allocated on first write, so a large sparse segment costs only what is
// touched, as tmpfs does. Bytes are stored little-endian within a word: the
// word Load64 reads at offset off holds the bytes ReadAt reads at off..off+7,
// least significant first.
const (
	shmPageShift = 12
	shmPageSize  = 1 << shmPageShift
	shmPageWords = shmPageSize / 8
)

type shmPage [shmPageWords]uint64

// shmTable is one immutable view of a segment's size and pages. Truncate
// publishes a new table; the pages themselves never move, so an atomic
// operation that loaded an older table still acts on the live page.
type shmTable struct {
	size  int64
	pages []atomic.Pointer[shmPage] // nil entries read as zeros
}

var emptyShmTable = &shmTable{}

// ShmInfo describes a named segment, as listing /dev/shm would.
type ShmInfo struct {
	Name     string
	Size     int64
	Mode     uint32
	Owner    string
	Attached int // mappings that are not detached
}

// ShmNamespace holds the names of shared-memory segments: shm_open and
// shm_unlink act on it. It is safe for concurrent use.
type ShmNamespace struct {
	names nameTable[*shmObject, ShmInfo] // has its own lock
}

// NewShmNamespace returns an empty namespace.
func NewShmNamespace() *ShmNamespace { return &ShmNamespace{} }

// shmObject is a shared-memory segment.
type shmObject struct {
	id    uint64 // immutable
	name  string // immutable: the name it was created under
	mode  uint32 // immutable
	owner string // immutable

	// mu is held shared by ReadAt and exclusively by WriteAt, Truncate,
	// page allocation and changes of the counts below. The atomic word
	// operations do not take it.
	mu       sync.RWMutex
	tab      atomic.Pointer[shmTable] // written under mu held exclusively
	opens    int                      // guarded by mu: open Segment handles
	maps     int                      // guarded by mu: live Mappings
	unlinked bool                     // guarded by mu: no name refers to it
}

// Segment is an open handle on a shared-memory segment, like the file
// descriptor shm_open returns. It is safe for concurrent use.
type Segment struct {
	o      *shmObject  // immutable
	acc    OpenFlag    // immutable: the access mode
	closed atomic.Bool // set once by Close
}

// Mapping is an attachment of a segment, like the memory mmap returns. It
// outlives the Segment it came from. It is safe for concurrent use.
type Mapping struct {
	o        *shmObject  // immutable
	readonly bool        // immutable
	detached atomic.Bool // set once by Detach
}

// Open opens, and with O_CREAT creates, the segment called name (shm_open).
// The name rules and errors are those of MQNamespace.Open. A new segment has
// size 0. O_TRUNC truncates an existing segment to 0 and needs write
// permission.
func (ns *ShmNamespace) Open(name string, flags OpenFlag, mode uint32, owner string) (*Segment, error) {
	o, err := ns.names.open(name, flags, owner, func() (*shmObject, error) {
		o := &shmObject{id: nextID(), name: name, mode: mode & 0o777, owner: owner}
		o.tab.Store(emptyShmTable)
		return o, nil
	})
	if err != nil {
		return nil, err
	}
	return &Segment{o: o, acc: flags & O_ACCMODE}, nil
}

// Unlink removes name (shm_unlink). The segment's memory lives on until no
// handle is open and no mapping remains. A missing name is ENOENT.
func (ns *ShmNamespace) Unlink(name string) error { return ns.names.unlink(name) }

// Lookup describes the segment called name, or returns false if there is
// none.
func (ns *ShmNamespace) Lookup(name string) (ShmInfo, bool) { return ns.names.lookup(name) }

// List describes every named segment, sorted by name.
func (ns *ShmNamespace) List() []ShmInfo { return ns.names.list() }

// checkOpen checks the access mode, and for O_TRUNC write permission too.
func (o *shmObject) checkOpen(owner string, flags OpenFlag) error {
	if err := checkAccess(o.mode, o.owner, owner, flags); err != nil {
		return err
	}
	if flags&O_TRUNC != 0 {
		return checkAccess(o.mode, o.owner, owner, O_WRONLY)
	}
	return nil
}

// opened counts a handle, and truncates an existing segment for O_TRUNC.
func (o *shmObject) opened(flags OpenFlag, existed bool) {
	o.mu.Lock()
	o.opens++
	if existed && flags&O_TRUNC != 0 {
		o.tab.Store(emptyShmTable)
	}
	o.mu.Unlock()
}

func (o *shmObject) unlink() {
	o.mu.Lock()
	o.unlinked = true
	o.releaseIfUnused()
	o.mu.Unlock()
}

func (o *shmObject) info() ShmInfo {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return ShmInfo{Name: o.name, Size: o.tab.Load().size, Mode: o.mode, Owner: o.owner, Attached: o.maps}
}

// releaseIfUnused frees the memory of a segment that nothing refers to any
// more. o.mu is held exclusively.
func (o *shmObject) releaseIfUnused() {
	if o.unlinked && o.opens == 0 && o.maps == 0 {
		o.tab.Store(emptyShmTable)
	}
}

// Truncate sets the segment's size (ftruncate). New bytes read as zero; bytes
// cut off are gone. It is safe while the segment is mapped: accesses past the
// new size fail, and atomic operations racing with the change either land
// before it or fail. A handle not open for writing or a negative size is
// EINVAL; a size above MaxSegmentSize is EFBIG; a closed handle is EBADF.
func (s *Segment) Truncate(size int64) error {
	if s.closed.Load() {
		return EBADF
	}
	if !s.acc.writable() || size < 0 {
		return EINVAL
	}
	if size > MaxSegmentSize {
		return EFBIG
	}
	o := s.o
	o.mu.Lock()
	defer o.mu.Unlock()
	old := o.tab.Load()
	if size == old.size {
		return nil
	}
	t := &shmTable{size: size, pages: make([]atomic.Pointer[shmPage], (size+shmPageSize-1)>>shmPageShift)}
	for i := range min(len(t.pages), len(old.pages)) {
		t.pages[i].Store(old.pages[i].Load())
	}
	if size > old.size && old.size&(shmPageSize-1) != 0 {
		// Clear what a racing store may have left past the old end of its
		// last page, so that the grown part reads as zeros.
		if pg := old.pages[old.size>>shmPageShift].Load(); pg != nil {
			end := min(size, (old.size|(shmPageSize-1))+1)
			var zero [shmPageSize]byte
			storeBytes(pg, int(old.size&(shmPageSize-1)), zero[:end-old.size])
		}
	}
	o.tab.Store(t)
	return nil
}

// Size returns the segment's size in bytes (fstat's st_size).
func (s *Segment) Size() int64 { return s.o.tab.Load().size }

// ID returns a number that identifies the segment object; every handle and
// mapping of one segment returns the same ID.
func (s *Segment) ID() uint64 { return s.o.id }

// Name returns the name the segment was created under, even once unlinked.
func (s *Segment) Name() string { return s.o.name }

// Close closes the handle, as closing the descriptor shm_open returned does.
// It is idempotent. Mappings stay valid.
func (s *Segment) Close() error {
	o := s.o
	closeHandle(&o.mu, &s.closed, func() {
		o.opens--
		o.releaseIfUnused()
	})
	return nil
}

// Dup returns another handle on the segment, as dup(2) or fork(2) make one.
// Dup of a closed handle returns a closed handle.
func (s *Segment) Dup() *Segment {
	d := &Segment{o: s.o, acc: s.acc}
	dupHandle(&s.o.mu, &s.closed, &d.closed, &s.o.opens)
	return d
}

// Attach maps the segment (mmap with MAP_SHARED). A writable mapping needs a
// handle open for reading and writing, a read-only one a handle open for
// reading; otherwise it is EACCES. A closed handle is EBADF.
func (s *Segment) Attach(readonly bool) (*Mapping, error) {
	if s.closed.Load() {
		return nil, EBADF
	}
	if !s.acc.readable() || (!readonly && !s.acc.writable()) {
		return nil, EACCES
	}
	o := s.o
	o.mu.Lock()
	defer o.mu.Unlock()
	o.maps++
	return &Mapping{o: o, readonly: readonly}, nil
}

// Detach unmaps the mapping (munmap). It is idempotent. Any later access
// through it is EFAULT.
func (m *Mapping) Detach() error {
	o := m.o
	closeHandle(&o.mu, &m.detached, func() {
		o.maps--
		o.releaseIfUnused()
	})
	return nil
}

// Dup returns another mapping of the same segment with the same protection,
// as fork(2) gives the child a copy of each shared mapping. Dup of a detached
// mapping returns a detached mapping.
func (m *Mapping) Dup() *Mapping {
	d := &Mapping{o: m.o, readonly: m.readonly}
	dupHandle(&m.o.mu, &m.detached, &d.detached, &m.o.maps)
	return d
}

// ReadOnly reports whether the mapping was attached read-only.
func (m *Mapping) ReadOnly() bool { return m.readonly }

// ID returns the mapped segment's ID.
func (m *Mapping) ID() uint64 { return m.o.id }

// Size returns the mapped segment's current size.
func (m *Mapping) Size() int64 { return m.o.tab.Load().size }

// ReadAt copies len(p) bytes from offset off into p, as io.ReaderAt does: a
// read that reaches the end of the segment returns the bytes it got and
// io.EOF. It excludes WriteAt and Truncate for its duration, so it never
// sees half of a WriteAt. A negative off is EINVAL; a detached mapping is
// EFAULT.
func (m *Mapping) ReadAt(p []byte, off int64) (int, error) {
	if m.detached.Load() {
		return 0, EFAULT
	}
	if off < 0 {
		return 0, EINVAL
	}
	o := m.o
	o.mu.RLock()
	t := o.tab.Load()
	if off >= t.size {
		o.mu.RUnlock()
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), t.size-off))
	for done := 0; done < n; {
		i, s := (off+int64(done))>>shmPageShift, int((off+int64(done))&(shmPageSize-1))
		k := min(n-done, shmPageSize-s)
		if pg := t.pages[i].Load(); pg != nil {
			loadBytes(pg, s, p[done:done+k])
		} else {
			clear(p[done : done+k])
		}
		done += k
	}
	o.mu.RUnlock()
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt copies p into the segment at offset off. A write that reaches the
// end of the segment stops there and returns the count written and io.EOF:
// the segment grows only through Truncate. A read-only mapping is EACCES, a
// negative off EINVAL, a detached mapping EFAULT.
func (m *Mapping) WriteAt(p []byte, off int64) (int, error) {
	if m.detached.Load() {
		return 0, EFAULT
	}
	if m.readonly {
		return 0, EACCES
	}
	if off < 0 {
		return 0, EINVAL
	}
	o := m.o
	o.mu.Lock()
	t := o.tab.Load()
	if off >= t.size {
		o.mu.Unlock()
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), t.size-off))
	for done := 0; done < n; {
		i, s := (off+int64(done))>>shmPageShift, int((off+int64(done))&(shmPageSize-1))
		k := min(n-done, shmPageSize-s)
		pg := t.pages[i].Load()
		if pg == nil {
			pg = new(shmPage)
			t.pages[i].Store(pg)
		}
		storeBytes(pg, s, p[done:done+k])
		done += k
	}
	o.mu.Unlock()
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// word returns the word at off for an atomic operation, or nil if it lies in
// a page never written and the operation only reads.
func (m *Mapping) word(off int64, write bool) (*uint64, error) {
	if m.detached.Load() {
		return nil, EFAULT
	}
	if write && m.readonly {
		return nil, EACCES
	}
	t := m.o.tab.Load()
	if off < 0 || off&7 != 0 || off > t.size-8 {
		return nil, EINVAL
	}
	i := off >> shmPageShift
	pg := t.pages[i].Load()
	if pg == nil {
		if !write {
			return nil, nil
		}
		if pg = m.o.allocPage(off); pg == nil {
			return nil, EINVAL
		}
	}
	return &pg[(off&(shmPageSize-1))>>3], nil
}

// allocPage returns the page holding off, allocating it if needed, or nil if
// the segment has shrunk below off meanwhile.
func (o *shmObject) allocPage(off int64) *shmPage {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tab.Load()
	if off > t.size-8 {
		return nil
	}
	i := off >> shmPageShift
	pg := t.pages[i].Load()
	if pg == nil {
		pg = new(shmPage)
		t.pages[i].Store(pg)
	}
	return pg
}

// Load64 atomically loads the 64-bit word at off. off must be a multiple of 8
// with the word inside the segment, else EINVAL.
func (m *Mapping) Load64(off int64) (uint64, error) {
	w, err := m.word(off, false)
	if w == nil {
		return 0, err
	}
	return atomic.LoadUint64(w), nil
}

// Store64 atomically stores v in the word at off. The offset rules are those
// of Load64; a read-only mapping is EACCES.
func (m *Mapping) Store64(off int64, v uint64) error {
	w, err := m.word(off, true)
	if err != nil {
		return err
	}
	atomic.StoreUint64(w, v)
	return nil
}

// Add64 atomically adds delta to the word at off and returns the new value.
// The offset rules are those of Load64; a read-only mapping is EACCES.
func (m *Mapping) Add64(off int64, delta uint64) (uint64, error) {
	w, err := m.word(off, true)
	if err != nil {
		return 0, err
	}
	return atomic.AddUint64(w, delta), nil
}

// CompareAndSwap64 atomically replaces the word at off with new if it holds
// old, and reports whether it did. The offset rules are those of Load64; a
// read-only mapping is EACCES.
func (m *Mapping) CompareAndSwap64(off int64, old, new uint64) (bool, error) {
	w, err := m.word(off, true)
	if err != nil {
		return false, err
	}
	return atomic.CompareAndSwapUint64(w, old, new), nil
}

// loadBytes copies len(dst) bytes from pg starting at byte s, with atomic
// word loads.
func loadBytes(pg *shmPage, s int, dst []byte) {
	for len(dst) > 0 {
		wi, bo := s>>3, s&7
		if bo == 0 && len(dst) >= 8 {
			words := len(dst) >> 3
			for j := range words {
				binary.LittleEndian.PutUint64(dst[j*8:], atomic.LoadUint64(&pg[wi+j]))
			}
			dst, s = dst[words*8:], s+words*8
			continue
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], atomic.LoadUint64(&pg[wi]))
		k := copy(dst, b[bo:])
		dst, s = dst[k:], s+k
	}
}

// storeBytes copies src into pg starting at byte s, with atomic word stores,
// and compare-and-swap for words it covers only in part, so that it never
// undoes a concurrent atomic operation on the other bytes of such a word.
func storeBytes(pg *shmPage, s int, src []byte) {
	for len(src) > 0 {
		wi, bo := s>>3, s&7
		if bo == 0 && len(src) >= 8 {
			words := len(src) >> 3
			for j := range words {
				atomic.StoreUint64(&pg[wi+j], binary.LittleEndian.Uint64(src[j*8:]))
			}
			src, s = src[words*8:], s+words*8
			continue
		}
		k := min(8-bo, len(src))
		for {
			old := atomic.LoadUint64(&pg[wi])
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], old)
			copy(b[bo:bo+k], src[:k])
			if atomic.CompareAndSwapUint64(&pg[wi], old, binary.LittleEndian.Uint64(b[:])) {
				break
			}
		}
		src, s = src[k:], s+k
	}
}
