package programs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vproc/vproc/internal/atomicfile"
)

// Errors of the store.
var (
	// ErrCorrupt is the error of stored or fetched bytes whose sha256 is
	// not their name. A corrupt file is removed.
	ErrCorrupt = errors.New("program bytes do not match their hash")
	// ErrNotHeld is the error of Get for a hash this node does not hold.
	ErrNotHeld = errors.New("program bytes not held on this node")
	// ErrBadHash is the error of a hash that is not 64 lowercase hex digits.
	ErrBadHash = errors.New("malformed program hash")
)

// Store keeps module bytes in a directory, one file per sha256. It is safe
// for concurrent use: files are written whole under a temporary name and
// renamed into place.
type Store struct {
	dir string // immutable
}

// NewStore returns a store in dir, creating it.
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("program store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Hash is the name of bin in the store: its sha256 in lowercase hex.
func Hash(bin []byte) string {
	sum := sha256.Sum256(bin)
	return hex.EncodeToString(sum[:])
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Put stores bin and returns its hash.
func (s *Store) Put(bin []byte) (string, error) {
	h := Hash(bin)
	final := filepath.Join(s.dir, h)
	if _, err := os.Stat(final); err == nil {
		return h, nil
	}
	if err := atomicfile.WriteBytes(final, bin); err != nil {
		return "", fmt.Errorf("program store: %w", err)
	}
	return h, nil
}

// Get returns the bytes of hash, checked against it. Bytes that do not
// match are removed and refused with ErrCorrupt.
func (s *Store) Get(hash string) ([]byte, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("%w: %q", ErrBadHash, hash)
	}
	p := filepath.Join(s.dir, hash)
	bin, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %.12s", ErrNotHeld, hash)
	}
	if err != nil {
		return nil, fmt.Errorf("program store: %w", err)
	}
	if Hash(bin) != hash {
		os.Remove(p)
		return nil, fmt.Errorf("%w: %.12s on disk", ErrCorrupt, hash)
	}
	return bin, nil
}

// Has reports whether the store has a file for hash (not checked).
func (s *Store) Has(hash string) bool {
	if !validHash(hash) {
		return false
	}
	_, err := os.Stat(filepath.Join(s.dir, hash))
	return err == nil
}

// Path returns the file of hash.
func (s *Store) Path(hash string) string { return filepath.Join(s.dir, hash) }
