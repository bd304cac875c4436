package fsm

import "crypto/sha256"

// hashState returns the SHA-256 of the canonical encoding of the table: the
// body of its snapshot (see snapshot.go). Two replicas with the same records
// get the same hash, whatever order they were inserted in, because the body
// lists every record in key order. The applied index is not covered.
func hashState(s *state) [32]byte {
	h := sha256.New()
	// A hash never fails to write.
	_ = writeBody(h, s)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
