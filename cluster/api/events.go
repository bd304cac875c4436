package api

// The event stream: GET /v1/events streams the table's changes as
// newline-delimited JSON (ContentTypeEvents), one Event a line, flushed as
// each happens.
//
//	GET /v1/events[?topic=proc,node,ipc][&pid=N][&node=ID][&index=N]
//
// Every agent serves it from its own replica of the table, leader or not,
// with the same indexes: events are derived from the entries each replica
// applies. Filters: topic (a comma-separated list, or repeated), pid (the
// process's events only) and node (the events of that node: its
// processes, the objects it holds, its own up, down and lost); an event
// passes when it matches every filter given. index=N resumes after N:
// every event with an index above N that the agent still holds, then the
// live ones. Without index the stream starts with the next event. An N
// older than what the agent holds is answered 410 (CodeCompacted) with an
// EventsGone body, whose OldestIndex is the smallest index a stream may
// resume from. While idle the stream sends a heartbeat line
// (EventHeartbeat) at least every EventHeartbeatInterval. A reader that
// falls behind by more than the agent's buffer is dropped: its last line
// is an EventDropped event of topic EventTopicStream.

// EventsPath is the route of the event stream.
const EventsPath = "/v1/events"

// ContentTypeEvents is the Content-Type of the event stream.
const ContentTypeEvents = "application/x-ndjson"

// EventHeartbeatIntervalSeconds is the longest, in seconds, an idle event
// stream stays silent.
const EventHeartbeatIntervalSeconds = 10

// Event topics.
const (
	EventTopicProc   = "proc"
	EventTopicNode   = "node"
	EventTopicIPC    = "ipc"
	EventTopicStream = "stream" // the stream's own news: dropped
)

// Event types. Topic proc: spawned, placed, started, exited, lost and
// signalled; topic node: up, down and lost; topic ipc: created and
// removed; heartbeat has no topic.
const (
	EventSpawned   = "spawned"
	EventPlaced    = "placed"
	EventStarted   = "started"
	EventExited    = "exited"
	EventLost      = "lost"
	EventSignalled = "signalled"
	EventUp        = "up"
	EventDown      = "down"
	EventCreated   = "created"
	EventRemoved   = "removed"
	EventHeartbeat = "heartbeat"
	EventDropped   = "dropped"
)

// Event is one line of the event stream.
type Event struct {
	// Index is the raft index of the entry that made the change; on a
	// heartbeat, the index the agent has applied; on dropped, the index
	// of the last event sent.
	Index uint64 `json:"index"`
	Topic string `json:"topic,omitempty"`
	Type  string `json:"type"`
	PID   uint64 `json:"pid,omitempty"`
	Node  string `json:"node,omitempty"`
	// Time is the table's time of the change (the leader's clock),
	// RFC 3339 with nanoseconds; the same on every agent.
	Time string `json:"time,omitempty"`
	// Detail says more, by type: exited has exit_code or signal, ipc
	// events kind and name, dropped a reason.
	Detail map[string]any `json:"detail,omitempty"`
}

// EventsGone is the body of the 410 answer to a resume from an index the
// agent no longer holds. It carries Error's code and message too.
type EventsGone struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Err repeats Message.
	Err string `json:"error"`
	// OldestIndex is the smallest index a stream may resume from.
	OldestIndex uint64 `json:"oldest_index"`
}

// CodeCompacted answers a resume from an index the agent no longer holds
// (410).
const CodeCompacted = "compacted"
