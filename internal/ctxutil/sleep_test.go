package ctxutil

import (
	"context"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want bool
	}{
		{"live, zero", live, 0, true},
		{"live, negative", live, -time.Second, true},
		{"live, short", live, time.Millisecond, true},
		{"done, zero", done, 0, false},
		{"done, long", done, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sleep(tc.ctx, tc.d); got != tc.want {
				t.Errorf("Sleep(%s, %v) = %v, want %v", tc.name, tc.d, got, tc.want)
			}
		})
	}
}

func TestSleepEndsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan bool, 1)
	go func() { res <- Sleep(ctx, time.Hour) }()
	cancel()
	select {
	case got := <-res:
		if got {
			t.Errorf("Sleep cancelled = true, want false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Sleep did not end when its context was cancelled")
	}
}
