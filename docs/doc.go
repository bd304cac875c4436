// Package docs holds vproc's design documents, design.md and
// guarantees.md, and the test that keeps the paths and functions they name
// in step with the code.
package docs
