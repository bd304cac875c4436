package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/vproc/vproc/cluster/api"
)

// LogOpts selects what LogsWith returns.
type LogOpts struct {
	Follow bool
	Offset int64
	// Stream is api.StreamStdout, api.StreamStderr, or "" and
	// api.StreamBoth for both.
	Stream string
	// Chunks asks for api.LogChunk objects, one JSON value a line (read
	// them with a ChunkReader), rather than the bytes.
	Chunks bool
}

// LogsWith returns the log of process pid as Logs does, restricted to one
// stream or as chunks by opts. Offsets count both streams: a stream of
// chunks tells where each starts, so that a broken stream can be resumed
// after the last chunk read.
func (c *Client) LogsWith(ctx context.Context, pid uint64, opts LogOpts) (*LogStream, error) {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Offset > 0 {
		q.Set("offset", strconv.FormatInt(opts.Offset, 10))
	}
	if opts.Stream != "" && opts.Stream != api.StreamBoth {
		q.Set("stream", opts.Stream)
	}
	if opts.Chunks {
		q.Set("format", api.LogFormatChunks)
	}
	resp, err := c.open(ctx, &request{method: http.MethodGet, path: procPath(pid, "/logs"), query: q, timeout: -1})
	if err != nil {
		return nil, err
	}
	ls := &LogStream{ReadCloser: resp.Body, Start: opts.Offset}
	if v, err := strconv.ParseInt(resp.Header.Get(api.HeaderOffset), 10, 64); err == nil && v >= 0 {
		ls.Start = v
	}
	return ls, nil
}

// ChunkReader reads the chunks of a LogsWith stream opened with Chunks.
type ChunkReader struct{ dec *json.Decoder }

// NewChunkReader reads chunks from r.
func NewChunkReader(r io.Reader) *ChunkReader { return &ChunkReader{dec: json.NewDecoder(r)} }

// Next returns the next chunk, or io.EOF at the end of the stream.
func (cr *ChunkReader) Next() (api.LogChunk, error) {
	var ch api.LogChunk
	err := cr.dec.Decode(&ch)
	return ch, err
}
