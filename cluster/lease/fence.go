//go:build !vproc_unsafe_nofence

package lease

// Fencing is true in every real build: a node whose lease ended freezes its
// processes (Guarantee 3). The fault suite's broken build turns it off with
// the vproc_unsafe_nofence tag, to show that its heartbeat checker then
// sees two runners of one PID.
const Fencing = true
