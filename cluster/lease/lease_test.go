package lease

import (
	"context"
	"testing"
	"time"
)

func TestRenewInterval(t *testing.T) {
	for _, fence := range []time.Duration{time.Second, 1500 * time.Millisecond, 8 * time.Second} {
		if got, want := RenewInterval(fence), fence/8; got != want {
			t.Errorf("RenewInterval(%v) = %v, want %v", fence, got, want)
		}
	}
}

func TestNewNeedsItsParts(t *testing.T) {
	for _, cfg := range []Config{{}, {Name: "n1"}, {FenceTimeout: time.Second}} {
		if _, err := New(context.Background(), cfg, nil, nil, nil, nil, nil); err == nil {
			t.Errorf("New(%+v) with no parts succeeded", cfg)
		}
	}
	if _, err := New(context.Background(), Config{Name: "n1", FenceTimeout: time.Second}, nil, nil, nil, nil, nil); err == nil {
		t.Error("New without a core, client, kernel or runner succeeded")
	}
}
