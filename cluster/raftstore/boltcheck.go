package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged is wrapped by every error about a store file that is damaged:
// cut short, garbled or not a store at all. The error names the file and
// what is wrong with it. Such a node cannot start from its data dir; the
// README's "Recovering a damaged node" says what to do.
var ErrDamaged = errors.New("damaged store")

// Bolt's meta page, as go.etcd.io/bbolt lays it out: a 16-byte page header,
// then magic, version, page size and flags (uint32 each), the root bucket
// (root page and sequence), the freelist page, the high-water page id and
// the transaction id (uint64 each), then an FNV-64a checksum of the fields
// before it. Pages 0 and 1 are the two meta pages.
const (
	boltPageHeader = 16
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltMetaSum    = 56 // bytes of meta covered by the checksum
	boltMetaLen    = boltMetaSum + 8
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // high-water mark: pages [0, pgid) are in use
	txid     uint64
}

// parseBoltMeta reads one meta page's fields from b (the page's bytes from
// its start) and checks its magic, version and checksum.
func parseBoltMeta(b []byte) (boltMeta, error) {
	if len(b) < boltPageHeader+boltMetaLen {
		return boltMeta{}, errors.New("meta page cut short")
	}
	m := b[boltPageHeader : boltPageHeader+boltMetaLen]
	le := binary.LittleEndian
	switch {
	case le.Uint32(m[0:]) != boltMagic:
		return boltMeta{}, errors.New("bad magic number")
	case le.Uint32(m[4:]) != boltVersion:
		return boltMeta{}, fmt.Errorf("bolt format version %d, want %d", le.Uint32(m[4:]), boltVersion)
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:boltMetaSum])
	if h.Sum64() != le.Uint64(m[boltMetaSum:]) {
		return boltMeta{}, errors.New("meta checksum mismatch")
	}
	meta := boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	if meta.pageSize < 512 || meta.pageSize > 1<<20 || meta.pageSize&(meta.pageSize-1) != 0 {
		return boltMeta{}, fmt.Errorf("bad page size %d", meta.pageSize)
	}
	return meta, nil
}

// checkBoltFile checks an existing bolt file against bolt's own meta
// before bolt maps it: at least one meta page must be intact, and the file
// must hold every page the newer intact meta counts. A file that does not
// exist is fine (bolt creates it); an empty one is reported with
// empty=true, and is an error only if the caller knows the node has state.
func checkBoltFile(path string) (empty bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("raft log %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("raft log %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 {
		return true, nil
	}
	damaged := func(format string, args ...any) error {
		return fmt.Errorf("%w: raft log %s (%d bytes): %s", ErrDamaged, path, size, fmt.Sprintf(format, args...))
	}
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("raft log %s: %w", path, err)
	}
	head = head[:n]
	m0, err0 := parseBoltMeta(head)
	// The second meta page starts one page in; its size is the first
	// meta's, or the system's when the first is garbled.
	ps := os.Getpagesize()
	if err0 == nil {
		ps = int(m0.pageSize)
	}
	var m1 boltMeta
	err1 := errors.New("meta page missing")
	if ps < len(head) {
		m1, err1 = parseBoltMeta(head[ps:])
	}
	var m boltMeta
	switch {
	case err0 != nil && err1 != nil:
		return false, damaged("no intact meta page (page 0: %v; page 1: %v)", err0, err1)
	case err0 != nil:
		m = m1
	case err1 != nil || m0.txid >= m1.txid:
		m = m0
	default:
		m = m1
	}
	if need := int64(m.pgid) * int64(m.pageSize); size < need {
		return false, damaged("cut short: its meta counts %d pages of %d bytes (%d bytes)", m.pgid, m.pageSize, need)
	}
	return false, nil
}

// checkBoltPages opens the bolt file read-only and reads every key and
// value of every bucket, in this goroutine, so that a fault or panic on a
// garbled page becomes an error naming the file.
func checkBoltPages(path string) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: raft log %s: reading it failed: %v", ErrDamaged, path, r)
		}
	}()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: openTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return fmt.Errorf("raft log %s: %w", path, err)
		}
		return fmt.Errorf("%w: raft log %s: %v", ErrDamaged, path, err)
	}
	defer func() { _ = db.Close() }()
	return db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return walkBucket(b)
		})
	})
}

// walkBucket touches every key and value under b, nested buckets
// included.
func walkBucket(b *bbolt.Bucket) error {
	var sum int
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				return walkBucket(nb)
			}
		}
		for _, c := range k {
			sum += int(c)
		}
		for _, c := range v {
			sum += int(c)
		}
		return nil
	})
}
