// Package secure runs the README's "Secure cluster" section as a user
// would: it builds vproc, runs the section's shell block (only vproc
// commands) in a scratch directory, and then checks the cluster it made
// from outside: plaintext refused, a client without a certificate
// refused, three voters, the gossip key rotated on every member, anonymous
// requests denied but for the health check, another user's kill and a
// user's operator request denied.
//
// The block lies between the README's secure-cluster-steps markers; the
// test runs it as it is, so the README and the test cannot drift apart.
package secure
