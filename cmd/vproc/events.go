package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
)

// eventsReconnectPause is the wait before reopening a stream that broke.
const eventsReconnectPause = 500 * time.Millisecond

func newEventsCmd(e *env, g *globals) *cobra.Command {
	var (
		topics []string
		pid    uint64
		node   string
		index  uint64
		output string
	)
	cmd := &cobra.Command{
		Use:   "events [--topic proc,node,ipc] [--pid N] [--node ID] [--index N] [-o json]",
		Short: "Follow the table's changes as they happen: processes, nodes, IPC objects",
		Long: `Follow the event stream (GET /v1/events) of the agent: processes spawned,
placed, started, exited, lost and signalled; nodes up, down and lost; IPC
objects created and removed. Any agent serves it, leader or not, with the
same raft indexes. --index N first replays the events after index N that
the agent still holds; an index it no longer holds is an error that names
the oldest one it has. A stream that breaks is reopened after the last
index seen. Ctrl-C ends it.

Each line shows the time (the leader's clock), the index, the topic, the
type, the PID, the node and the details; -o json prints each event as one
JSON object a line, as the API sends it.`,
		Example: `  vproc events
  vproc events --topic proc --pid 42
  vproc events --node n2 --index 0 -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			opts := client.EventOpts{PID: pid, Node: node, Resume: cmd.Flags().Changed("index"), Index: index}
			for _, t := range topics {
				for _, t := range strings.Split(t, ",") {
					switch t = strings.TrimSpace(t); t {
					case api.EventTopicProc, api.EventTopicNode, api.EventTopicIPC:
						opts.Topics = append(opts.Topics, t)
					case "":
					default:
						return usagef(cmd, "bad --topic %q (want proc, node or ipc)", t)
					}
				}
			}
			c, err := g.client(e)
			if err != nil {
				return err
			}
			defer c.Close()
			var print func(api.Event) error
			if output == "json" {
				enc := json.NewEncoder(e.stdout)
				print = func(ev api.Event) error { return enc.Encode(ev) }
			} else {
				print = func(ev api.Event) error { _, err := io.WriteString(e.stdout, eventLine(ev)); return err }
			}
			return followEvents(cmd.Context(), c, opts, print, e.stderr, g.address(e))
		},
	}
	cmd.Flags().StringSliceVar(&topics, "topic", nil, "only these topics: proc, node, ipc (comma-separated or repeated)")
	cmd.Flags().Uint64Var(&pid, "pid", 0, "only the events of this process")
	cmd.Flags().StringVar(&node, "node", "", "only the events of this node (its processes, its IPC objects, itself)")
	cmd.Flags().Uint64Var(&index, "index", 0, "first replay the events after this raft index (0: all the agent holds)")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// followEvents prints the stream's events until ctx ends, reopening it
// after the last index seen when it breaks or drops this reader.
func followEvents(ctx context.Context, c *client.Client, opts client.EventOpts, print func(api.Event) error, stderr io.Writer, addr string) error {
	opened := false
	for {
		es, err := c.Events(ctx, opts)
		var gone *client.EventsGoneError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &gone):
			return fmt.Errorf("events: the agent no longer holds the events after index %d; the oldest index to resume from is %d", opts.Index, gone.Oldest)
		case err != nil && !opened:
			return fmt.Errorf("events: %s", describe(err, addr))
		case err != nil:
			fmt.Fprintf(stderr, "vproc: events: reconnecting after index %d: %s\n", opts.Index, describe(err, addr))
		default:
			opened = true
			if !opts.Resume {
				opts.Resume, opts.Index = true, es.Start
			}
			err = readEvents(es, &opts, print)
			_ = es.Close()
			var oe *outputError
			if errors.As(err, &oe) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(stderr, "vproc: events: %s; resuming after index %d\n", err, opts.Index)
		}
		t := time.NewTimer(eventsReconnectPause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
}

// readEvents prints what es sends until it ends, keeping in opts.Index
// the index to resume after. It returns why the stream ended, never nil.
func readEvents(es *client.EventStream, opts *client.EventOpts, print func(api.Event) error) error {
	for {
		ev, err := es.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the stream ended")
			}
			return err
		}
		switch ev.Type {
		case api.EventHeartbeat:
			// Nothing was filtered out up to here: resume after it.
			opts.Index = max(opts.Index, ev.Index)
			continue
		case api.EventDropped:
			return fmt.Errorf("the agent dropped this reader: %v", ev.Detail["reason"])
		}
		if err := print(ev); err != nil {
			return &outputError{err}
		}
		opts.Index = max(opts.Index, ev.Index)
	}
}

// eventLine formats an event for people: time, index, topic, type, PID,
// node and the details as key=value, sorted.
func eventLine(ev api.Event) string {
	at := ev.Time
	if t, err := time.Parse(time.RFC3339Nano, ev.Time); err == nil {
		at = t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	pid := "-"
	if ev.PID != 0 {
		pid = strconv.FormatUint(ev.PID, 10)
	}
	keys := make([]string, 0, len(ev.Detail))
	for k := range ev.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var d strings.Builder
	for i, k := range keys {
		if i > 0 {
			d.WriteByte(' ')
		}
		v := fmt.Sprint(ev.Detail[k])
		if strings.ContainsAny(v, " \t\"=") || v == "" {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&d, "%s=%s", k, v)
	}
	return fmt.Sprintf("%-24s %8d %-4s %-9s %7s %-12s %s\n", dash(at), ev.Index, ev.Topic, ev.Type, pid, dash(ev.Node), d.String())
}
