//go:build !vproc_unsafe_reads

package replica

// unsafeReadsOn reports whether linearizable reads skip Guarantee 6's
// recipe. Only a build with the vproc_unsafe_reads tag can turn that on.
func unsafeReadsOn() bool { return false }
