package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The agent as a service: it tells the service manager its state over the
// sd_notify(3) protocol, and runs a callback for each SIGHUP.

// sdNotify sends state (such as "READY=1") to the service manager as one
// datagram on the unix socket that $NOTIFY_SOCKET names, as sd_notify(3)
// does. A name that starts with '@' is an abstract socket, which Go's
// net package reaches by that same spelling. Without $NOTIFY_SOCKET it
// does nothing.
func sdNotify(getenv func(string) string, state string) error {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] != '/' && path[0] != '@' {
		return fmt.Errorf("NOTIFY_SOCKET %q: want a unix socket path or an abstract name starting with @", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	return nil
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// onSignal calls fn for each sig until ctx ends or stop is called; stop
// returns once fn no longer runs, and may be called more than once.
// Without a notify function (tests) it does nothing.
func (e *env) onSignal(ctx context.Context, sig os.Signal, fn func()) (stop func()) {
	if e.notify == nil {
		return func() {}
	}
	ch := make(chan os.Signal, 1)
	stopNotify := e.notify(ch, sig)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ch:
				fn()
			case <-ctx.Done():
				return
			}
		}
	}()
	return sync.OnceFunc(func() {
		stopNotify()
		cancel()
		<-done
	})
}
