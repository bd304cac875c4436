package ipc

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"
	"testing"
)

func mustShm(t *testing.T, ns *ShmNamespace, name string, flags OpenFlag) *Segment {
	t.Helper()
	s, err := ns.Open(name, flags, 0o600, "u")
	if err != nil {
		t.Fatalf("Open(%q, %#x): %v", name, flags, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustAttach(t *testing.T, s *Segment, readonly bool) *Mapping {
	t.Helper()
	m, err := s.Attach(readonly)
	if err != nil {
		t.Fatalf("Attach(%v): %v", readonly, err)
	}
	t.Cleanup(func() { m.Detach() })
	return m
}

func TestShmOpen(t *testing.T) {
	mk := func(name string, mode uint32, owner string) func(*ShmNamespace) {
		return func(ns *ShmNamespace) {
			s, err := ns.Open(name, O_CREAT|O_EXCL|O_RDWR, mode, owner)
			if err != nil {
				panic(err)
			}
			s.Close()
		}
	}
	tests := []struct {
		name  string
		setup func(*ShmNamespace)
		sname string
		flags OpenFlag
		owner string
		want  error
	}{
		{name: "create", sname: "/s", flags: O_CREAT | O_RDWR},
		{name: "create exclusive", sname: "/s", flags: O_CREAT | O_EXCL | O_RDWR},
		{name: "missing", sname: "/s", flags: O_RDWR, want: ENOENT},
		{name: "existing exclusive", setup: mk("/s", 0o600, "u"), sname: "/s", flags: O_CREAT | O_EXCL | O_RDWR, want: EEXIST},
		{name: "existing", setup: mk("/s", 0o600, "u"), sname: "/s", flags: O_RDWR, owner: "u"},
		{name: "bad name", sname: "s", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "nested name", sname: "/a/b", flags: O_CREAT | O_RDWR, want: EINVAL},
		{name: "long name", sname: "/" + string(bytes.Repeat([]byte{'x'}, NameMax+1)), flags: O_CREAT | O_RDWR, want: ENAMETOOLONG},
		{name: "bad access mode", sname: "/s", flags: O_CREAT | O_ACCMODE, want: EINVAL},
		{name: "owner read-only", setup: mk("/s", 0o400, "u"), sname: "/s", flags: O_RDWR, owner: "u", want: EACCES},
		{name: "other read", setup: mk("/s", 0o604, "u"), sname: "/s", flags: O_RDONLY, owner: "v"},
		{name: "other denied", setup: mk("/s", 0o660, "u"), sname: "/s", flags: O_RDONLY, owner: "v", want: EACCES},
		{name: "O_TRUNC needs write permission", setup: mk("/s", 0o444, "u"), sname: "/s", flags: O_RDONLY | O_TRUNC, owner: "u", want: EACCES},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := NewShmNamespace()
			if tt.setup != nil {
				tt.setup(ns)
			}
			s, err := ns.Open(tt.sname, tt.flags, 0, tt.owner)
			if err != tt.want {
				t.Fatalf("Open(%q, %#x, owner %q): got %v, want %v", tt.sname, tt.flags, tt.owner, err, tt.want)
			}
			if err == nil {
				if s.Size() != 0 {
					t.Errorf("new segment has size %d", s.Size())
				}
				s.Close()
			}
		})
	}
}

func TestShmTruncate(t *testing.T) {
	ns := NewShmNamespace()
	rw := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
	ro := mustShm(t, ns, "/s", O_RDONLY)
	closed := mustShm(t, ns, "/s", O_RDWR)
	closed.Close()
	tests := []struct {
		name string
		s    *Segment
		size int64
		want error
	}{
		{"grow", rw, 10000, nil},
		{"shrink", rw, 10, nil},
		{"to zero", rw, 0, nil},
		{"largest", rw, MaxSegmentSize, nil},
		{"too large", rw, MaxSegmentSize + 1, EFBIG},
		{"negative", rw, -1, EINVAL},
		{"read-only handle", ro, 100, EINVAL},
		{"closed handle", closed, 100, EBADF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rw.Size()
			err := tt.s.Truncate(tt.size)
			if err != tt.want {
				t.Fatalf("Truncate(%d): got %v, want %v", tt.size, err, tt.want)
			}
			want := tt.size
			if err != nil {
				want = before
			}
			if got := ro.Size(); got != want {
				t.Fatalf("Size after Truncate(%d): got %d, want %d", tt.size, got, want)
			}
		})
	}
}

func TestShmAttach(t *testing.T) {
	ns := NewShmNamespace()
	tests := []struct {
		flags    OpenFlag
		readonly bool
		want     error
	}{
		{O_RDWR, false, nil},
		{O_RDWR, true, nil},
		{O_RDONLY, true, nil},
		{O_RDONLY, false, EACCES},
		{O_WRONLY, true, EACCES},
		{O_WRONLY, false, EACCES},
	}
	mustShm(t, ns, "/s", O_CREAT|O_RDWR)
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			s := mustShm(t, ns, "/s", tt.flags)
			m, err := s.Attach(tt.readonly)
			if err != tt.want {
				t.Fatalf("Attach(%v) on a %#x handle: got %v, want %v", tt.readonly, tt.flags, err, tt.want)
			}
			if err == nil {
				if m.ReadOnly() != tt.readonly || m.ID() != s.ID() {
					t.Errorf("mapping: ReadOnly %v, ID %d", m.ReadOnly(), m.ID())
				}
				m.Detach()
			}
		})
	}
	s := mustShm(t, ns, "/s", O_RDWR)
	s.Close()
	if _, err := s.Attach(true); err != EBADF {
		t.Fatalf("Attach on a closed handle: got %v, want EBADF", err)
	}
}

func TestShmReadWrite(t *testing.T) {
	ns := NewShmNamespace()
	s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
	must(t, s.Truncate(3*shmPageSize+5))
	m := mustAttach(t, s, false)
	ro := mustAttach(t, s, true)
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + 1)
		}
		return b
	}
	tests := []struct {
		name  string
		off   int64
		n     int
		wantN int
		want  error
	}{
		{"aligned", 0, 64, 64, nil},
		{"one byte", 3, 1, 1, nil},
		{"unaligned within a word", 9, 5, 5, nil},
		{"unaligned across words", 13, 30, 30, nil},
		{"across pages", shmPageSize - 11, 2*shmPageSize + 3, 2*shmPageSize + 3, nil},
		{"up to the end", 3*shmPageSize - 3, 8, 8, nil},
		{"past the end", 3 * shmPageSize, 100, 5, io.EOF},
		{"at the end", 3*shmPageSize + 5, 1, 0, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pattern(tt.n)
			n, err := m.WriteAt(p, tt.off)
			if n != tt.wantN || err != tt.want {
				t.Fatalf("WriteAt(%d bytes, %d): got (%d, %v), want (%d, %v)", tt.n, tt.off, n, err, tt.wantN, tt.want)
			}
			got := make([]byte, tt.n)
			n, err = ro.ReadAt(got, tt.off)
			if n != tt.wantN || err != tt.want {
				t.Fatalf("ReadAt(%d bytes, %d): got (%d, %v), want (%d, %v)", tt.n, tt.off, n, err, tt.wantN, tt.want)
			}
			if !bytes.Equal(got[:n], p[:n]) {
				t.Fatalf("ReadAt(%d bytes, %d) differs from what was written", tt.n, tt.off)
			}
		})
	}
	t.Run("neighbours untouched", func(t *testing.T) {
		must(t, s.Truncate(0))
		must(t, s.Truncate(32))
		m.WriteAt(bytes.Repeat([]byte{0xff}, 32), 0)
		m.WriteAt([]byte{1, 2, 3}, 10)
		got := make([]byte, 32)
		ro.ReadAt(got, 0)
		want := bytes.Repeat([]byte{0xff}, 32)
		copy(want[10:], []byte{1, 2, 3})
		if !bytes.Equal(got, want) {
			t.Fatalf("got % x, want % x", got, want)
		}
	})
	t.Run("errors", func(t *testing.T) {
		if _, err := ro.WriteAt([]byte("x"), 0); err != EACCES {
			t.Errorf("WriteAt on read-only: got %v, want EACCES", err)
		}
		if _, err := m.WriteAt([]byte("x"), -1); err != EINVAL {
			t.Errorf("WriteAt at -1: got %v, want EINVAL", err)
		}
		if _, err := m.ReadAt(make([]byte, 1), -1); err != EINVAL {
			t.Errorf("ReadAt at -1: got %v, want EINVAL", err)
		}
	})
}

func TestShmByteOrder(t *testing.T) {
	ns := NewShmNamespace()
	s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
	must(t, s.Truncate(16))
	m := mustAttach(t, s, false)
	must(t, m.Store64(8, 0x0807060504030201))
	got := make([]byte, 8)
	m.ReadAt(got, 8)
	if !bytes.Equal(got, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("bytes of a stored word: got % x, want little-endian", got)
	}
	m.WriteAt(binary.LittleEndian.AppendUint64(nil, 42), 0)
	if v, _ := m.Load64(0); v != 42 {
		t.Fatalf("Load64 after WriteAt: got %d, want 42", v)
	}
}

func TestShmAtomics(t *testing.T) {
	ns := NewShmNamespace()
	s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
	must(t, s.Truncate(2*shmPageSize+4))
	m := mustAttach(t, s, false)
	ro := mustAttach(t, s, true)
	gone := mustAttach(t, s, false)
	gone.Detach()
	last := int64(2*shmPageSize - 8)
	tests := []struct {
		name string
		op   func() (uint64, error)
		want uint64
		err  error
	}{
		{"load untouched", func() (uint64, error) { return m.Load64(shmPageSize) }, 0, nil},
		{"store", func() (uint64, error) { return 0, m.Store64(16, 5) }, 0, nil},
		{"load stored", func() (uint64, error) { return ro.Load64(16) }, 5, nil},
		{"add", func() (uint64, error) { return m.Add64(16, 10) }, 15, nil},
		{"add wraps", func() (uint64, error) { return m.Add64(16, ^uint64(0)) }, 14, nil},
		{"cas fails", func() (uint64, error) { ok, err := m.CompareAndSwap64(16, 1, 2); return b2u(ok), err }, 0, nil},
		{"cas succeeds", func() (uint64, error) { ok, err := m.CompareAndSwap64(16, 14, 99); return b2u(ok), err }, 1, nil},
		{"load after cas", func() (uint64, error) { return m.Load64(16) }, 99, nil},
		{"last full word", func() (uint64, error) { return m.Add64(last, 1) }, 1, nil},
		{"word past the end", func() (uint64, error) { return m.Load64(2 * shmPageSize) }, 0, EINVAL},
		{"misaligned load", func() (uint64, error) { return m.Load64(4) }, 0, EINVAL},
		{"misaligned store", func() (uint64, error) { return 0, m.Store64(12, 1) }, 0, EINVAL},
		{"misaligned add", func() (uint64, error) { return m.Add64(1, 1) }, 0, EINVAL},
		{"misaligned cas", func() (uint64, error) { ok, err := m.CompareAndSwap64(20, 0, 1); return b2u(ok), err }, 0, EINVAL},
		{"negative", func() (uint64, error) { return m.Load64(-8) }, 0, EINVAL},
		{"store on read-only", func() (uint64, error) { return 0, ro.Store64(0, 1) }, 0, EACCES},
		{"add on read-only", func() (uint64, error) { return ro.Add64(0, 1) }, 0, EACCES},
		{"cas on read-only", func() (uint64, error) { ok, err := ro.CompareAndSwap64(0, 0, 1); return b2u(ok), err }, 0, EACCES},
		{"detached", func() (uint64, error) { return gone.Load64(0) }, 0, EFAULT},
		{"detached read", func() (uint64, error) { n, err := gone.ReadAt(make([]byte, 1), 0); return uint64(n), err }, 0, EFAULT},
		{"detached write", func() (uint64, error) { n, err := gone.WriteAt(make([]byte, 1), 0); return uint64(n), err }, 0, EFAULT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.op()
			if got != tt.want || err != tt.err {
				t.Fatalf("got (%d, %v), want (%d, %v)", got, err, tt.want, tt.err)
			}
		})
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func TestShmTruncateZeroFills(t *testing.T) {
	ns := NewShmNamespace()
	s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
	m := mustAttach(t, s, false)
	must(t, s.Truncate(2*shmPageSize))
	m.WriteAt(bytes.Repeat([]byte{0xaa}, 2*shmPageSize), 0)
	must(t, s.Truncate(100))
	must(t, s.Truncate(2*shmPageSize))
	got := make([]byte, 2*shmPageSize)
	if n, err := m.ReadAt(got, 0); n != len(got) || err != nil {
		t.Fatalf("ReadAt: (%d, %v)", n, err)
	}
	want := make([]byte, 2*shmPageSize)
	copy(want, bytes.Repeat([]byte{0xaa}, 100))
	if !bytes.Equal(got, want) {
		t.Fatal("bytes cut off by a shrink came back after growing")
	}
}

func TestShmLifetime(t *testing.T) {
	t.Run("unlinked segment lives while mapped", func(t *testing.T) {
		ns := NewShmNamespace()
		s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
		must(t, s.Truncate(64))
		m := mustAttach(t, s, false)
		must(t, m.Store64(0, 7))
		must(t, ns.Unlink("/s"))
		if err := ns.Unlink("/s"); err != ENOENT {
			t.Fatalf("second Unlink: got %v, want ENOENT", err)
		}
		if _, err := ns.Open("/s", O_RDWR, 0, "u"); err != ENOENT {
			t.Fatalf("Open after Unlink: got %v, want ENOENT", err)
		}
		must(t, s.Close())
		must(t, s.Close())
		if v, err := m.Load64(0); v != 7 || err != nil {
			t.Fatalf("mapping after Close: got (%d, %v), want (7, nil)", v, err)
		}
		if s.Name() != "/s" || m.Size() != 64 {
			t.Fatalf("Name %q, Size %d", s.Name(), m.Size())
		}
		o := s.o
		must(t, m.Detach())
		must(t, m.Detach())
		if o.tab.Load().size != 0 || o.maps != 0 || o.opens != 0 {
			t.Fatal("memory not released after unlink, close and detach")
		}
	})
	t.Run("unlinked segment lives while open", func(t *testing.T) {
		ns := NewShmNamespace()
		s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
		must(t, s.Truncate(64))
		m := mustAttach(t, s, false)
		m.Store64(8, 9)
		m.Detach()
		must(t, ns.Unlink("/s"))
		m2 := mustAttach(t, s, true)
		if v, _ := m2.Load64(8); v != 9 {
			t.Fatalf("got %d, want 9", v)
		}
	})
	t.Run("named segment persists with nothing open", func(t *testing.T) {
		ns := NewShmNamespace()
		s, err := ns.Open("/s", O_CREAT|O_RDWR, 0o600, "u")
		must(t, err)
		must(t, s.Truncate(64))
		m, _ := s.Attach(false)
		m.Store64(0, 11)
		m.Detach()
		s.Close()
		s = mustShm(t, ns, "/s", O_RDONLY)
		m = mustAttach(t, s, true)
		if v, _ := m.Load64(0); v != 11 || s.Size() != 64 {
			t.Fatalf("reopened: got %d, size %d", v, s.Size())
		}
	})
	t.Run("dups keep it alive", func(t *testing.T) {
		ns := NewShmNamespace()
		s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
		must(t, s.Truncate(64))
		m := mustAttach(t, s, false)
		s2, m2 := s.Dup(), m.Dup()
		must(t, ns.Unlink("/s"))
		s.Close()
		m.Detach()
		must(t, m2.Store64(0, 3))
		if _, err := m.Load64(0); err != EFAULT {
			t.Fatalf("detached original: got %v, want EFAULT", err)
		}
		if s2.Size() != 64 {
			t.Fatalf("dup handle: size %d, want 64", s2.Size())
		}
		if d := s.Dup(); d.Truncate(8) != EBADF {
			t.Fatal("Dup of a closed handle is open")
		}
		if d := m.Dup(); d.Store64(0, 1) != EFAULT {
			t.Fatal("Dup of a detached mapping is attached")
		}
		o := s.o
		s2.Close()
		if o.tab.Load().size != 64 {
			t.Fatal("memory released while a mapping remains")
		}
		m2.Detach()
		if o.tab.Load().size != 0 || o.opens != 0 || o.maps != 0 {
			t.Fatalf("after the last dup: size %d, opens %d, maps %d", o.tab.Load().size, o.opens, o.maps)
		}
	})
	t.Run("O_TRUNC", func(t *testing.T) {
		ns := NewShmNamespace()
		s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
		must(t, s.Truncate(64))
		s2 := mustShm(t, ns, "/s", O_RDWR|O_TRUNC)
		if s.Size() != 0 || s2.Size() != 0 {
			t.Fatalf("size after O_TRUNC: %d", s.Size())
		}
	})
}

func TestShmList(t *testing.T) {
	ns := NewShmNamespace()
	b := mustShm(t, ns, "/b", O_CREAT|O_RDWR)
	must(t, b.Truncate(100))
	mustAttach(t, b, true)
	mustShm(t, ns, "/a", O_CREAT|O_RDWR)
	got := ns.List()
	want := []ShmInfo{{Name: "/a", Mode: 0o600, Owner: "u"}, {Name: "/b", Size: 100, Mode: 0o600, Owner: "u", Attached: 1}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("List: got %+v, want %+v", got, want)
	}
	if info, ok := ns.Lookup("/b"); !ok || info != want[1] {
		t.Fatalf("Lookup(/b): got %+v, %v", info, ok)
	}
}

// TestShmConcurrent mixes atomics, locked copies and truncation; under -race
// it proves they never race, and the counter proves no atomic add is lost
// while the segment grows and shrinks around it.
func TestShmConcurrent(t *testing.T) {
	ns := NewShmNamespace()
	s := mustShm(t, ns, "/s", O_CREAT|O_RDWR)
	must(t, s.Truncate(shmPageSize))
	m := mustAttach(t, s, false)
	const adders, adds = 4, 2000
	var wg sync.WaitGroup
	for range adders {
		wg.Go(func() {
			for range adds {
				if _, err := m.Add64(0, 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		buf := make([]byte, 3*shmPageSize)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m.WriteAt(buf[:100], 13)
			m.ReadAt(buf, 0)
			m.Store64(int64(8+i%500*8), uint64(i))
			m.Load64(2 * shmPageSize)
		}
	})
	bg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Truncate(int64(shmPageSize + i%3*shmPageSize + i%7))
		}
	})
	wg.Wait()
	close(stop)
	bg.Wait()
	if v, _ := m.Load64(0); v != adders*adds {
		t.Fatalf("counter: got %d, want %d", v, adders*adds)
	}
}
