// Package security holds the capability types of a virtual process, after
// OpenBSD's pledge(2) and unveil(2): a Promise is the set of system-call
// groups a process may still use, and an UnveilPath makes one path of the
// namespace visible with given permissions.
//
// Promises can only be narrowed, and children inherit them. The kernel
// enforces them on every system call (node/pledge.go): a process that breaks
// a promise dies of SIGABRT, with the reason recorded.
package security
