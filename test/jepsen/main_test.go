//go:build linux

package jepsen

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/vproc/vproc/internal/wasmtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { wasmtest.Cleanup() }))
}
