package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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
	ls.plain = opts.Chunks && !strings.HasPrefix(resp.Header.Get("Content-Type"), api.ContentTypeChunks)
	return ls, nil
}

// ChunkReader reads the chunks of a LogsWith stream opened with Chunks.
type ChunkReader struct {
	dec *json.Decoder
	// For a node that answered bytes: the stream and the offset of its
	// next byte.
	plain io.Reader
	off   int64
}

// NewChunkReader reads chunks from r. When r is a *LogStream whose node
// answered bytes rather than chunks (an older release), each read of them
// is a stdout chunk of unknown time.
func NewChunkReader(r io.Reader) *ChunkReader {
	if ls, ok := r.(*LogStream); ok && ls.plain {
		return &ChunkReader{plain: ls, off: ls.Start}
	}
	return &ChunkReader{dec: json.NewDecoder(r)}
}

// Next returns the next chunk, or io.EOF at the end of the stream.
func (cr *ChunkReader) Next() (api.LogChunk, error) {
	if cr.plain != nil {
		buf := make([]byte, 32<<10)
		n, err := cr.plain.Read(buf)
		if n > 0 {
			ch := api.LogChunk{Off: cr.off, Stream: api.StreamStdout, Data: buf[:n]}
			cr.off += int64(n)
			return ch, nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return api.LogChunk{}, err
	}
	var ch api.LogChunk
	err := cr.dec.Decode(&ch)
	return ch, err
}
