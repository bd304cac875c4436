package cluster

import (
	"testing"

	"github.com/vproc/vproc/internal/wasmtest"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every agent a
// test starts is shut down by its cleanup, and Shutdown stops raft,
// memberlist, the transport and every loop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { wasmtest.Cleanup() }))
}
