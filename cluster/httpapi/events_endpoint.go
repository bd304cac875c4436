package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/events"
)

// GET /v1/events: the table's changes as they are applied here, one JSON
// object a line (package api's events.go is the contract). Every node
// serves it from its own replica, never forwarding: followers derive the
// same events at the same indexes. ACLs: the level of every read (a
// user's token sees the table's events, as it sees the table).

const (
	// eventHeartbeat is how long an idle stream waits before a heartbeat
	// line; the contract allows at most api.EventHeartbeatIntervalSeconds.
	eventHeartbeat = 5 * time.Second
	// eventWriteTimeout bounds each write to the client: a reader that
	// takes nothing for this long has its connection closed.
	eventWriteTimeout = 30 * time.Second
	// eventBatch is the most events read from the buffer at once.
	eventBatch = 64
)

// eventTopics are the topics a filter may name.
var eventTopics = []string{api.EventTopicProc, api.EventTopicNode, api.EventTopicIPC}

// eventQuery reads the stream's filters and where it starts.
func eventQuery(q url.Values) (f events.Filter, from uint64, resume bool, err error) {
	for _, v := range q["topic"] {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			known := false
			for _, k := range eventTopics {
				known = known || k == t
			}
			if !known {
				return f, 0, false, badRequest("unknown topic %q: the topics are %s", t, strings.Join(eventTopics, ", "))
			}
			f.Topics = append(f.Topics, t)
		}
	}
	if v := q.Get("pid"); v != "" {
		pid, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil || pid == 0 {
			return f, 0, false, badRequest("pid %q is not a positive integer", v)
		}
		f.PID = pid
	}
	f.Node = q.Get("node")
	if q.Has("index") {
		v := q.Get("index")
		n, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil {
			return f, 0, false, badRequest("index %q is not a raft index (a non-negative integer)", v)
		}
		from, resume = n, true
	}
	return f, from, resume, nil
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	f, from, resume, err := eventQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err := s.events.Subscribe(f, from, resume)
	var gone *events.GoneError
	if errors.As(err, &gone) {
		msg := gone.Error()
		writeJSON(w, http.StatusGone, api.EventsGone{Code: api.CodeCompacted, Message: msg, Err: msg, OldestIndex: gone.Oldest})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	last := sub.UpTo()
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", api.ContentTypeEvents)
	// A stream from now shows the events after the index it subscribed
	// at; a resumed one, those after from.
	w.Header().Set(api.HeaderIndex, strconv.FormatUint(last, 10))
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	// send writes lines and flushes them; false: the client is gone.
	send := func(evs ...api.Event) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		for i := range evs {
			if enc.Encode(&evs[i]) != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	idle := time.NewTimer(eventHeartbeat)
	defer idle.Stop()
	for {
		evs, wait, dropped := sub.Read(eventBatch)
		switch {
		case dropped != "":
			send(api.Event{Index: last, Topic: api.EventTopicStream, Type: api.EventDropped, Detail: map[string]any{"reason": dropped}})
			return
		case len(evs) > 0:
			if !send(evs...) {
				return
			}
			last = evs[len(evs)-1].Index
			idle.Reset(eventHeartbeat)
			continue
		case wait == nil:
			continue // the filter passed over many events: read on
		}
		select {
		case <-wait:
		case <-idle.C:
			if !send(api.Event{Index: sub.UpTo(), Type: api.EventHeartbeat}) {
				return
			}
			idle.Reset(eventHeartbeat)
		case <-ctx.Done():
			return
		}
	}
}
