package runner

import (
	"io"

	"github.com/vproc/vproc/cluster/httpapi"
)

// stdinPipe feeds a process's standard input from POST .../stdin. It
// belongs to the first incarnation that starts after it is made; later
// incarnations read EOF.
type stdinPipe struct {
	r        *io.PipeReader
	w        *io.PipeWriter
	inc      uint64 // the incarnation reading it; 0 until one starts
	attached bool   // a stdin stream has been attached
}

// stdinLocked returns pid's stdin pipe, making it if needed. Callers hold
// r.mu.
func (r *Runner) stdinLocked(pid uint64) *stdinPipe {
	sp := r.stdins[pid]
	if sp == nil {
		pr, pw := io.Pipe()
		sp = &stdinPipe{r: pr, w: pw}
		r.stdins[pid] = sp
	}
	return sp
}

// closeStdinLocked ends the stdin of incarnation inc of pid, so that a read
// blocked in it returns and a pending kill is acted on.
func (r *Runner) closeStdinLocked(pid, inc uint64) {
	if sp := r.stdins[pid]; sp != nil && sp.inc == inc {
		sp.r.CloseWithError(io.EOF)
	}
}

// AttachStdin claims pid's stdin pipe for a POST .../stdin stream. It
// fails if a stream was attached already.
func (r *Runner) AttachStdin(pid uint64) (*io.PipeWriter, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return nil, httpapi.ErrStopping
	}
	sp := r.stdinLocked(pid)
	if sp.attached {
		return nil, httpapi.ErrStdinAttached
	}
	sp.attached = true
	return sp.w, nil
}
