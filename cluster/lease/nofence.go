//go:build vproc_unsafe_nofence

package lease

// Fencing is false in this deliberately broken build (tag
// vproc_unsafe_nofence), which exists only for the fault suite: nodes keep
// running their processes after their lease ended, so that a partitioned
// node and the node its processes were moved to both run them.
const Fencing = false
