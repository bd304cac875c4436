package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// TypeChecked is the checksummed envelope: a version byte, the CRC-32C
// (Castagnoli) of the inner entry as four big-endian bytes, and the inner
// entry itself (any other command, a Batch included). It does not carry
// the ignore-if-unknown bit: a replica that cannot check an entry must
// stop rather than skip it. Entries written without the envelope still
// decode as they always did. Its value stands apart from the types that
// follow one another from 0x01, so that the two lists never meet.
const TypeChecked Type = 0x30

const checkedVersion = 1

// checkedHeader is the envelope's length before the inner entry: type,
// version and checksum.
const checkedHeader = 1 + 1 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrChecksum means that a checksummed entry does not match its checksum:
// the log was damaged after it was written. Like ErrMalformed, it never
// appears in a Result.
var ErrChecksum = errors.New("fsm: checksum mismatch")

// Seal wraps an encoded entry in the checksummed envelope. It returns the
// entry unchanged if it is already sealed.
func Seal(entry []byte) []byte {
	if len(entry) > 0 && Type(entry[0]) == TypeChecked {
		return entry
	}
	out := make([]byte, checkedHeader, checkedHeader+len(entry))
	out[0] = byte(TypeChecked)
	out[1] = checkedVersion
	binary.BigEndian.PutUint32(out[2:], crc32.Checksum(entry, castagnoli))
	return append(out, entry...)
}

// Sealed reports whether entry is in the checksummed envelope.
func Sealed(entry []byte) bool { return len(entry) > 0 && Type(entry[0]) == TypeChecked }

// unseal returns the inner entry of a sealed one, checking its checksum.
func unseal(data []byte) ([]byte, error) {
	if len(data) < checkedHeader {
		return nil, fmt.Errorf("%w: %v: %d bytes, shorter than its header", errDecode, TypeChecked, len(data))
	}
	if v := data[1]; v == 0 || v > checkedVersion {
		return nil, fmt.Errorf("%w: %v: unknown version %d", errDecode, TypeChecked, v)
	}
	inner := data[checkedHeader:]
	want := binary.BigEndian.Uint32(data[2:])
	if got := crc32.Checksum(inner, castagnoli); got != want {
		return nil, fmt.Errorf("%w: crc32c %08x, recorded %08x, over %d bytes", ErrChecksum, got, want, len(inner))
	}
	if len(inner) > 0 && Type(inner[0]) == TypeChecked {
		return nil, fmt.Errorf("%w: %v nested in another", errDecode, TypeChecked)
	}
	return inner, nil
}
