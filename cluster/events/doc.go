// Package events turns the table's changes into the event stream that
// GET /v1/events serves (package api's events.go is the wire contract).
//
// Every replica derives the same events from the entries it applies:
// cluster/replica hands each applied entry's changes (fsm.Change, returned
// as data by fsm.FSM.ApplyEntryChanges) to Buffer.Publish, which decides
// which events they make (derive) and keeps the most recent ones in a
// bounded ring. The ring holds each event's header (index, topic, type,
// PID, node) and the change it comes from; its time and detail are
// formatted only when a reader takes it, so that the apply path pays
// almost nothing for a stream nobody reads. Any agent, leader or follower, serves them with the same indexes
// and times (the table's leader time, not the local clock).
//
// Publishing never waits for a reader: it appends to the ring under a
// short lock and wakes the readers by closing a channel. Readers are
// passive cursors into the ring (Subscription) with no goroutine and no
// registration; one that falls behind by more than the ring's size finds,
// at its next read, that the events it missed are gone, and is dropped.
// A snapshot restore (Reset) empties the ring and drops every reader: the
// events between the old and the restored index are unknown.
//
// The package does no I/O; the HTTP handler (cluster/httpapi) owns the
// goroutine of each stream.
package events
