package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

// eventReader reads an event stream in a goroutine of its own, so that a
// test can wait for lines with a deadline. Its cleanup closes the stream
// and waits for the goroutine.
type eventReader struct {
	t    *testing.T
	ch   chan api.Event
	seen []api.Event // what until has read so far
}

func openEvents(t *testing.T, cl *client.Client, opts client.EventOpts) *eventReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	es, err := cl.Events(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("events %+v: %v", opts, err)
	}
	r := &eventReader{t: t, ch: make(chan api.Event, 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(r.ch)
		for {
			e, err := es.Next()
			if err != nil {
				return
			}
			select {
			case r.ch <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = es.Close()
		<-done
	})
	return r
}

// until reads events, heartbeats skipped, until stop says so of all it
// has read (in this call and earlier ones), and returns them all; the
// test fails after timeout.
func (r *eventReader) until(timeout time.Duration, stop func(seen []api.Event) bool) []api.Event {
	r.t.Helper()
	seen := r.seen
	defer func() { r.seen = seen }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !stop(seen) {
		select {
		case e, ok := <-r.ch:
			if !ok {
				r.t.Fatalf("the stream ended after %s", describeEvents(seen))
			}
			if e.Type != api.EventHeartbeat {
				seen = append(seen, e)
			}
		case <-deadline.C:
			r.t.Fatalf("after %v the stream had only %s", timeout, describeEvents(seen))
		}
	}
	return seen
}

func describeEvents(evs []api.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %d %s %s pid=%d node=%s %v", e.Index, e.Topic, e.Type, e.PID, e.Node, e.Detail)
	}
	return b.String()
}

// has reports whether evs hold an event of that topic, type and PID
// (any PID when 0) whose detail includes want.
func has(evs []api.Event, topic, typ string, pid uint64, want map[string]any) bool {
	return find(evs, topic, typ, pid, want) >= 0
}

func find(evs []api.Event, topic, typ string, pid uint64, want map[string]any) int {
next:
	for i, e := range evs {
		if e.Topic != topic || e.Type != typ || pid != 0 && e.PID != pid {
			continue
		}
		for k, v := range want {
			if fmt.Sprint(e.Detail[k]) != fmt.Sprint(v) {
				continue next
			}
		}
		return i
	}
	return -1
}

// TestEventsThroughTheAPI follows a real agent's stream while processes
// are spawned, exit and are killed and IPC objects come and go; then it
// resumes, filters, and asks for an index the buffer no longer holds.
func TestEventsThroughTheAPI(t *testing.T) {
	c := MakeCluster(t, 1, func(_ int, cfg *Config) { cfg.EventBuffer = 256 })
	a := c.leader()
	cl := clientOf(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	all := openEvents(t, cl, client.EventOpts{})

	sleeper, err := cl.Spawn(ctx, api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	if err != nil {
		t.Fatal(err)
	}
	quick, err := cl.Spawn(ctx, api.SpawnRequest{Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Wait(ctx, quick.PID); err != nil {
		t.Fatal(err)
	}
	all.until(30*time.Second, func(seen []api.Event) bool { return has(seen, api.EventTopicProc, api.EventStarted, sleeper.PID, nil) })
	if _, err := cl.Kill(ctx, api.KillRequest{Targets: []int64{int64(sleeper.PID)}, Signal: 9}); err != nil {
		t.Fatal(err)
	}
	if err := cl.MQCreate(ctx, api.MQCreateRequest{Name: "/evq"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.FIFOCreate(ctx, api.FIFOCreateRequest{Path: "/evfifo"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.MQUnlink(ctx, "/evq"); err != nil {
		t.Fatal(err)
	}
	if err := cl.FIFORemove(ctx, "/evfifo"); err != nil {
		t.Fatal(err)
	}
	seen := all.until(30*time.Second, func(seen []api.Event) bool {
		return has(seen, api.EventTopicIPC, api.EventRemoved, 0, map[string]any{"kind": "fifo", "name": "/evfifo"}) &&
			has(seen, api.EventTopicProc, api.EventExited, sleeper.PID, nil)
	})
	for i := 1; i < len(seen); i++ {
		if seen[i].Index < seen[i-1].Index {
			t.Fatalf("indexes go down:%s", describeEvents(seen))
		}
	}
	for _, e := range seen {
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
			t.Fatalf("event time %q: %v", e.Time, err)
		}
	}
	// Each process's events come in the order of its life.
	inOrder := func(pid uint64, steps ...[2]any) {
		t.Helper()
		at := -1
		for _, s := range steps {
			want, _ := s[1].(map[string]any)
			i := find(seen, api.EventTopicProc, s[0].(string), pid, want)
			if i <= at {
				t.Fatalf("pid %d: %s %v at %d, after %d:%s", pid, s[0], want, i, at, describeEvents(seen))
			}
			at = i
		}
	}
	inOrder(quick.PID, [2]any{api.EventSpawned}, [2]any{api.EventPlaced}, [2]any{api.EventStarted}, [2]any{api.EventExited, map[string]any{"exit_code": 0}})
	inOrder(sleeper.PID, [2]any{api.EventSpawned}, [2]any{api.EventPlaced}, [2]any{api.EventStarted},
		[2]any{api.EventSignalled, map[string]any{"signal": "SIGKILL"}}, [2]any{api.EventExited, map[string]any{"signal": "SIGKILL"}})
	ipcAt := -1
	for _, s := range [][3]string{{api.EventCreated, "mq", "/evq"}, {api.EventCreated, "fifo", "/evfifo"}, {api.EventRemoved, "mq", "/evq"}, {api.EventRemoved, "fifo", "/evfifo"}} {
		i := find(seen, api.EventTopicIPC, s[0], 0, map[string]any{"kind": s[1], "name": s[2]})
		if i <= ipcAt || seen[i].Node != a.Name() {
			t.Fatalf("ipc %v at %d after %d:%s", s, i, ipcAt, describeEvents(seen))
		}
		ipcAt = i
	}

	// Resuming from 0 replays from the start: the node came up first.
	replay := openEvents(t, cl, client.EventOpts{Resume: true, Index: 0})
	first := replay.until(30*time.Second, func(seen []api.Event) bool { return len(seen) > 0 })
	if first[0].Topic != api.EventTopicNode || first[0].Type != api.EventUp || first[0].Node != a.Name() {
		t.Fatalf("the first event is not the node's up:%s", describeEvents(first))
	}
	// Resuming after an index gives exactly the events above it.
	started := seen[find(seen, api.EventTopicProc, api.EventStarted, sleeper.PID, nil)]
	after := openEvents(t, cl, client.EventOpts{Resume: true, Index: started.Index, Topics: []string{api.EventTopicProc}, PID: sleeper.PID})
	got := after.until(30*time.Second, func(s []api.Event) bool { return has(s, api.EventTopicProc, api.EventExited, sleeper.PID, nil) })
	for _, e := range got {
		if e.Index <= started.Index || e.PID != sleeper.PID || e.Topic != api.EventTopicProc {
			t.Fatalf("resume after %d with pid %d:%s", started.Index, sleeper.PID, describeEvents(got))
		}
	}
	if got[0].Type != api.EventSignalled {
		t.Fatalf("the first event after the start is not the signal:%s", describeEvents(got))
	}
	// A node and topic filter.
	ipcOnly := openEvents(t, cl, client.EventOpts{Resume: true, Index: 0, Topics: []string{api.EventTopicIPC}, Node: a.Name()})
	ipcs := ipcOnly.until(30*time.Second, func(s []api.Event) bool { return len(s) == 4 })
	for _, e := range ipcs {
		if e.Topic != api.EventTopicIPC {
			t.Fatalf("topic filter let through:%s", describeEvents(ipcs))
		}
	}

	// Bad filters are refused with a clear message.
	if _, err := cl.Events(ctx, client.EventOpts{Topics: []string{"jobs"}}); err == nil || !strings.Contains(err.Error(), `unknown topic "jobs"`) {
		t.Fatalf("unknown topic: %v", err)
	}

	// More events than the buffer holds: resuming from 0 is gone, with
	// the oldest index to resume from, which works.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := cl.Spawn(ctx, api.SpawnRequest{Command: "true"})
			if err == nil {
				_, err = cl.Wait(ctx, r.PID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = cl.Events(ctx, client.EventOpts{Resume: true, Index: 0})
	var gone *client.EventsGoneError
	if !errors.As(err, &gone) || gone.Oldest == 0 || !strings.Contains(gone.Message, "no longer held") {
		t.Fatalf("resume from 0 after the buffer wrapped: %v", err)
	}
	from := openEvents(t, cl, client.EventOpts{Resume: true, Index: gone.Oldest})
	if got := from.until(30*time.Second, func(s []api.Event) bool { return len(s) > 0 }); got[0].Index <= gone.Oldest {
		t.Fatalf("resume from the oldest index %d:%s", gone.Oldest, describeEvents(got))
	}

	// The first stream, idle now, sends heartbeats with the applied index.
	deadline := time.After(30 * time.Second)
	for hb := false; !hb; {
		select {
		case e, ok := <-all.ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			hb = e.Type == api.EventHeartbeat && e.Index > 0 && e.Topic == ""
		case <-deadline:
			t.Fatal("no heartbeat")
		}
	}
}

// TestEventsFollowersServeTheSame checks that every node of a cluster
// serves the same events, indexes and times, leader or not.
func TestEventsFollowersServeTheSame(t *testing.T) {
	c := MakeCluster(t, 3)
	l := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc := clientOf(t, l)
	r, err := lc.Spawn(ctx, api.SpawnRequest{Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Wait(ctx, r.PID); err != nil {
		t.Fatal(err)
	}
	var want []api.Event
	for _, a := range c.up() {
		s := openEvents(t, clientOf(t, a), client.EventOpts{Resume: true, Index: 0, Topics: []string{api.EventTopicProc}, PID: r.PID})
		got := s.until(30*time.Second, func(s []api.Event) bool { return has(s, api.EventTopicProc, api.EventExited, r.PID, nil) })
		if want == nil {
			want = got
			continue
		}
		if describeEvents(got) != describeEvents(want) {
			t.Fatalf("%s serves%s\nbut another node%s", a.Name(), describeEvents(got), describeEvents(want))
		}
		for i := range got {
			if got[i].Time != want[i].Time {
				t.Fatalf("%s: event %d at %s, elsewhere %s", a.Name(), i, got[i].Time, want[i].Time)
			}
		}
	}
	// A node that crashes with a process on it goes down, is declared
	// lost, and so is its process: the leader's stream says so.
	gone := c.followers()[0]
	name := gone.Name()
	nodes := openEvents(t, lc, client.EventOpts{Node: name})
	sp, err := lc.Spawn(ctx, api.SpawnRequest{Command: "sleep", Args: []string{"60"}, Node: name})
	if err != nil {
		t.Fatal(err)
	}
	nodes.until(30*time.Second, func(s []api.Event) bool { return has(s, api.EventTopicProc, api.EventStarted, sp.PID, nil) })
	c.crash(c.index(gone))
	lost := nodes.until(60*time.Second, func(s []api.Event) bool {
		return has(s, api.EventTopicNode, api.EventLost, 0, nil) && has(s, api.EventTopicProc, api.EventLost, sp.PID, nil)
	})
	for _, e := range lost {
		if e.Node != name {
			t.Fatalf("events of node %s:%s", name, describeEvents(lost))
		}
	}
}

// TestEventsSlowReaderDropped opens a stream that reads nothing, through
// a connection with a small receive buffer, while more events than the
// buffer holds are made: the spawns all complete (the apply path does not
// wait for the reader), and the reader, once it reads, finds the dropped
// notice last.
func TestEventsSlowReaderDropped(t *testing.T) {
	c := MakeCluster(t, 1, func(_ int, cfg *Config) { cfg.EventBuffer = 16 })
	a := c.leader()
	cl := clientOf(t, a)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", a.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: vproc\r\n\r\n")
	br := bufio.NewReaderSize(conn, 512)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("status line %q, %v", status, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Enough events to fill the socket's buffers behind a reader that
	// reads nothing, many times over the agent's buffer.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r, err := cl.Spawn(ctx, api.SpawnRequest{Command: "true"})
				if err == nil {
					_, err = cl.Wait(ctx, r.PID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a spawn while a reader stalls: %v", err)
	}
	// Now read: the stream ends with the dropped notice.
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	var last api.Event
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		var e api.Event
		if json.Unmarshal([]byte(line), &e) == nil && e.Type != "" {
			last = e
		}
		if last.Type == api.EventDropped {
			break
		}
	}
	if last.Type != api.EventDropped || last.Topic != api.EventTopicStream || !strings.Contains(fmt.Sprint(last.Detail["reason"]), "fell more than 16 events behind") {
		t.Fatalf("the stalled stream's last line is %+v, want the dropped notice", last)
	}
}

// TestEventsClientGoneEndsHandler checks that a stream's handler ends when
// its client goes away, idle or not.
func TestEventsClientGoneEndsHandler(t *testing.T) {
	c := MakeCluster(t, 1)
	a := c.leader()
	cl := clientOf(t, a)
	inHandler := func() bool {
		buf := make([]byte, 1<<20)
		return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "(*Server).handleEvents")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var streams []*client.EventStream
	for i := 0; i < 3; i++ {
		es, err := cl.Events(ctx, client.EventOpts{Resume: i > 0, Topics: []string{api.EventTopicProc}})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, es)
	}
	poll(t, 10*time.Second, func() error {
		if !inHandler() {
			return errors.New("no stream handler runs")
		}
		return nil
	})
	cancel()
	for _, es := range streams {
		_ = es.Close()
	}
	poll(t, 30*time.Second, func() error {
		if inHandler() {
			return errors.New("a stream handler still runs after its client went away")
		}
		return nil
	})
}

// TestEventsSnapshotRestoreDropsReaders checks that restoring a snapshot
// drops the readers (the events between are unknown) and that a resume
// from before the snapshot is gone.
func TestEventsSnapshotRestoreDropsReaders(t *testing.T) {
	c := MakeCluster(t, 1)
	a := c.leader()
	cl := clientOf(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if r, err := cl.Spawn(ctx, api.SpawnRequest{Command: "true"}); err != nil {
		t.Fatal(err)
	} else if _, err := cl.Wait(ctx, r.PID); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := cl.SnapshotSave(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	s := openEvents(t, cl, client.EventOpts{})
	if err := cl.SnapshotRestore(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	var last api.Event
	deadline := time.After(30 * time.Second)
	for last.Type != api.EventDropped {
		select {
		case e, ok := <-s.ch:
			if !ok {
				t.Fatalf("the stream ended without the dropped notice; last %+v", last)
			}
			last = e
		case <-deadline:
			t.Fatal("no dropped notice after the restore")
		}
	}
	if !strings.Contains(fmt.Sprint(last.Detail["reason"]), "restored from a snapshot") {
		t.Fatalf("dropped: %+v", last)
	}
	_, err := cl.Events(ctx, client.EventOpts{Resume: true, Index: 0})
	var gone *client.EventsGoneError
	if !errors.As(err, &gone) || gone.Oldest == 0 {
		t.Fatalf("resume from before the snapshot: %v", err)
	}
}
