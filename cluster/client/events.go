package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vproc/vproc/cluster/api"
)

// EventOpts selects the events Events streams.
type EventOpts struct {
	// Topics, if any, are the topics wanted (api.EventTopicProc, …).
	Topics []string
	// PID, if not 0, selects one process's events.
	PID uint64
	// Node, if not "", selects one node's events.
	Node string
	// Resume starts after Index: every event with a higher index the
	// agent holds comes first. Without it the stream starts now.
	Resume bool
	Index  uint64
}

// EventsGoneError is the answer to a resume from an index the agent no
// longer holds (410).
type EventsGoneError struct {
	Message string
	// Oldest is the smallest index a stream may resume from.
	Oldest uint64
}

func (e *EventsGoneError) Error() string { return e.Message }

// EventStream reads an event stream, one event at a time.
type EventStream struct {
	body io.ReadCloser
	dec  *json.Decoder
	// Node is the name of the agent that serves the stream.
	Node string
	// Start is the index the agent had applied when the stream opened:
	// a stream without Resume shows the events after it.
	Start uint64
}

// Events opens the event stream of the agent the client talks to (any
// agent serves it; it is never forwarded). A resume from an index the
// agent no longer holds is an *EventsGoneError. Close the stream when
// done; cancelling ctx ends it too.
func (c *Client) Events(ctx context.Context, opts EventOpts) (*EventStream, error) {
	q := url.Values{}
	if len(opts.Topics) > 0 {
		q.Set("topic", strings.Join(opts.Topics, ","))
	}
	if opts.PID != 0 {
		q.Set("pid", strconv.FormatUint(opts.PID, 10))
	}
	if opts.Node != "" {
		q.Set("node", opts.Node)
	}
	if opts.Resume {
		q.Set("index", strconv.FormatUint(opts.Index, 10))
	}
	resp, err := c.open(ctx, &request{method: http.MethodGet, path: api.EventsPath, query: q, timeout: -1, anyStatus: true})
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusGone:
		defer resp.Body.Close()
		var g api.EventsGone
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &g) != nil || g.Code != api.CodeCompacted {
			return nil, fmt.Errorf("events: unexpected answer %d %q", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		return nil, &EventsGoneError{Message: g.Message, Oldest: g.OldestIndex}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		defer resp.Body.Close()
		return nil, errorAnswer(resp)
	}
	es := &EventStream{body: resp.Body, dec: json.NewDecoder(resp.Body), Node: resp.Header.Get(api.HeaderNode)}
	es.Start, _ = strconv.ParseUint(resp.Header.Get(api.HeaderIndex), 10, 64)
	return es, nil
}

// Next returns the next line of the stream: an event, a heartbeat or the
// dropped notice. It returns io.EOF when the stream ends.
func (s *EventStream) Next() (api.Event, error) {
	var e api.Event
	if err := s.dec.Decode(&e); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return e, io.EOF
		}
		return e, err
	}
	return e, nil
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }
