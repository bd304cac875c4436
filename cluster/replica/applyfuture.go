package replica

import (
	"reflect"

	"github.com/hashicorp/raft"
)

// Raft does not answer every log future it accepted (Apply, Barrier and
// configuration changes). A committed entry waits for its state machine in
// a buffered channel, and raft's state machine goroutine returns on
// shutdown without answering what is still queued there
// (hashicorp/raft#498): the future's Error then blocks forever. Its futures
// do have an escape, the exported ShutdownCh of the future's embedded
// deferError, which raft sets only for its own internal futures.
// unblockOnShutdown sets it on f to down, a channel the agent closes once
// raft's Shutdown has returned, when no answer can come any more: Error
// then returns raft.ErrRaftShutdown, which the applier reports as an
// unknown outcome. It reports false when f has no such field (another raft
// version); a test pins the version in go.mod.
func unblockOnShutdown(f raft.Future, down chan struct{}) bool {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	field := v.Elem().FieldByName("ShutdownCh")
	if !field.IsValid() || !field.CanSet() || field.Type() != reflect.TypeOf(down) {
		return false
	}
	field.Set(reflect.ValueOf(down))
	return true
}
