package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

// logOutput is where the chunks of a log go: stdout chunks to out,
// stderr chunks to errOut; with since, chunks written earlier (or at an
// unknown time) are left out; with stamps, each line starts with the time
// it was written.
type logOutput struct {
	out, errOut io.Writer
	since       time.Time
	stamps      bool
	midLine     [2]bool // out, errOut: the last byte written was not '\n'
	// held, when not nil, keeps the chunks instead of writing them
	// (logs --tail reads the whole log first).
	held *[]api.LogChunk
}

// write writes chunk c.
func (o *logOutput) write(c api.LogChunk) error {
	if !o.since.IsZero() && (c.At.IsZero() || c.At.Before(o.since)) {
		return nil
	}
	if o.held != nil {
		*o.held = append(*o.held, c)
		return nil
	}
	w, i := o.out, 0
	if c.Stream == api.StreamStderr {
		w, i = o.errOut, 1
	}
	if !o.stamps {
		_, err := w.Write(c.Data)
		return err
	}
	stamp := "-"
	if !c.At.IsZero() {
		stamp = c.At.UTC().Format(time.RFC3339Nano)
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(c.Data), "\n") {
		if line == "" {
			continue
		}
		if !o.midLine[i] {
			b.WriteString(stamp)
			b.WriteByte(' ')
		}
		b.WriteString(line)
		o.midLine[i] = !strings.HasSuffix(line, "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// copyLogChunks copies pid's log from off to o, as chunks of stream (""
// for both), until the stream ends. It returns where a resumed read
// starts: after the last chunk written, or where the node's log starts
// when it dropped what was at off; and whether the stream was opened. A
// failure to write is an *outputError.
func copyLogChunks(ctx context.Context, c *client.Client, pid uint64, follow bool, off int64, stream string, o *logOutput) (next int64, opened bool, err error) {
	ls, err := c.LogsWith(ctx, pid, client.LogOpts{Follow: follow, Offset: off, Stream: stream, Chunks: true})
	if err != nil {
		return off, false, err
	}
	defer ls.Close()
	off = max(off, ls.Start)
	cr := client.NewChunkReader(ls)
	for {
		ch, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return off, true, nil
		}
		if err != nil {
			return off, true, err
		}
		if err := o.write(ch); err != nil {
			return off, true, &outputError{err}
		}
		off = ch.Off + int64(len(ch.Data))
	}
}

// tailChunks returns the part of cs that holds its last n lines (a last
// line without its newline counts as one), as tail -n and docker logs
// --tail count them: over both streams, in the order they were written.
func tailChunks(cs []api.LogChunk, n int) []api.LogChunk {
	if n <= 0 {
		return nil
	}
	lines := 0
	for i := len(cs) - 1; i >= 0; i-- {
		d := cs[i].Data
		for j := len(d) - 1; j >= 0; j-- {
			if d[j] != '\n' || i == len(cs)-1 && j == len(d)-1 {
				continue // the log's last newline ends its last line
			}
			// A newline here: what follows it is the start of a line.
			if lines++; lines == n {
				if j == len(d)-1 {
					return cs[i+1:]
				}
				c := cs[i]
				c.Data, c.Off = d[j+1:], c.Off+int64(j+1)
				return append([]api.LogChunk{c}, cs[i+1:]...)
			}
		}
	}
	return cs
}

// outputError is a failure to write what was read.
type outputError struct{ err error }

func (e *outputError) Error() string { return "writing the output: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// parseSince reads --since: a duration before now ("10m") or a time
// (RFC 3339).
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration such as 10m or a time such as 2006-01-02T15:04:05Z", v)
}

// checkStream reads --stream.
func checkStream(v string) error {
	switch v {
	case api.StreamStdout, api.StreamStderr, api.StreamBoth:
		return nil
	}
	return fmt.Errorf("--stream %q: want stdout, stderr or both", v)
}
