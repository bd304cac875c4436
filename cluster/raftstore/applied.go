package raftstore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vproc/vproc/internal/atomicfile"
)

// AppliedFile records, outside the raft log, the highest log index this
// node has applied. Open refuses a directory whose log and snapshots end
// below it: the log was lost or replaced, and starting from it would
// forget acknowledged writes and hand their PIDs out again.
const AppliedFile = "applied-index"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ReadApplied returns the index recorded in dir's AppliedFile, or 0 when
// there is none. A record that does not parse or whose checksum does not
// match is an error wrapping ErrDamaged.
func ReadApplied(dir string) (uint64, error) {
	path := filepath.Join(dir, AppliedFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("applied index %s: %w", path, err)
	}
	idx, sum, ok := strings.Cut(strings.TrimSuffix(string(b), "\n"), " ")
	n, err1 := strconv.ParseUint(idx, 10, 64)
	want, err2 := strconv.ParseUint(sum, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: applied index %s: cannot parse %q", ErrDamaged, path, b)
	}
	if got := crc32.Checksum([]byte(idx), castagnoli); uint64(got) != want {
		return 0, fmt.Errorf("%w: applied index %s: checksum mismatch", ErrDamaged, path)
	}
	return n, nil
}

// WriteApplied records index in dir's AppliedFile: written to a temporary
// file, synced, and renamed over the old record, so that a crash leaves
// either record whole.
func WriteApplied(dir string, index uint64) error {
	path := filepath.Join(dir, AppliedFile)
	idx := strconv.FormatUint(index, 10)
	body := fmt.Sprintf("%s %08x\n", idx, crc32.Checksum([]byte(idx), castagnoli))
	if err := atomicfile.WriteBytes(path, []byte(body)); err != nil {
		return fmt.Errorf("applied index %s: %w", path, err)
	}
	return nil
}
