//go:build vproc_unsafe_reads

package replica

import (
	"os"
	"sync/atomic"
)

// Built with the vproc_unsafe_reads tag, the agent can serve "linearizable"
// reads without the read barrier: a node that believes it leads answers
// from whatever it has applied. That is wrong on purpose. The fault suite
// builds such a binary to prove that its checker catches the stale reads.
// The switch is off by default; VPROC_UNSAFE_READS=1 in the agent's
// environment, or SetUnsafeReads, turns it on.

// unsafeReads is the switch.
var unsafeReads atomic.Bool

func init() { unsafeReads.Store(os.Getenv("VPROC_UNSAFE_READS") == "1") }

// SetUnsafeReads turns the unsafe read mode on or off. It exists only in
// builds with the vproc_unsafe_reads tag.
func SetUnsafeReads(on bool) { unsafeReads.Store(on) }

func unsafeReadsOn() bool { return unsafeReads.Load() }
