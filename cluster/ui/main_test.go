package ui_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the agent the
// browser test starts is shut down by its cleanup, and chromedp's
// allocator is cancelled, which ends the browser and its readers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
