package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal: top redraws in place there,
// and the long verbs show their progress there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressEvery is how often a progress line is redrawn while work goes
// on.
const progressEvery = 200 * time.Millisecond

// progress is one line of progress on a terminal, redrawn in place. On
// anything else (a pipe, a file, a test's buffer) it draws nothing, so
// that scripts read only the verb's output.
type progress struct {
	mu    sync.Mutex
	w     io.Writer // nil when not a terminal
	shown bool      // guarded by mu: a line is on the screen
}

// newProgress returns the progress line of w, which is drawn only when w
// is a terminal.
func newProgress(w io.Writer) *progress {
	p := &progress{}
	if isTerminal(w) {
		p.w = w
	}
	return p
}

// show replaces the line with the formatted text.
func (p *progress) show(format string, a ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[K"+format, a...)
	p.shown = true
}

// clear removes the line, before other output is written to the
// terminal.
func (p *progress) clear() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// finish replaces the line with the formatted text and ends it, leaving
// it on the screen.
func (p *progress) finish(format string, a ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[K"+format+"\n", a...)
	p.shown = false
}

// every calls draw at once and then every progressEvery until stop is
// called; stop returns once draw has run for the last time. It starts
// nothing when the line is not drawn.
func (p *progress) every(draw func()) (stop func()) {
	if p.w == nil {
		return func() {}
	}
	draw()
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				draw()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// byteSize formats a number of bytes for people: 512 B, 1.5 KiB, 3.2 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, suffix := float64(n)/unit, "KiB"
	for _, next := range []string{"MiB", "GiB", "TiB"} {
		if f < unit {
			break
		}
		f, suffix = f/unit, next
	}
	return fmt.Sprintf("%.1f %s", f, suffix)
}

// rate formats n bytes over d as a rate.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return byteSize(int64(float64(n)/d.Seconds())) + "/s"
}
