package api

import "time"

// The streams of a process's log, for GET /v1/procs/{pid}/logs?stream=.
// Without the parameter the answer is both, interleaved as written.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamBoth   = "both"
)

// LogFormatChunks is the value of GET /v1/procs/{pid}/logs?format= that
// answers the log as newline-separated JSON LogChunk objects instead of its
// bytes.
const LogFormatChunks = "chunks"

// ContentTypeChunks is the Content-Type of an answer of LogChunks.
const ContentTypeChunks = "application/x-ndjson"

// LogChunk is a run of a log's bytes from one stream. Off is the log offset
// of Data's first byte (offsets count both streams); At is when it was
// written, absent for output kept from before chunks were recorded.
type LogChunk struct {
	Off    int64     `json:"off"`
	Stream string    `json:"stream"`
	At     time.Time `json:"at,omitzero"`
	Data   []byte    `json:"data"`
}
