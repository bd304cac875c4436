package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// WaitRound is how long one blocking /wait query of Wait lasts before it is
// asked again.
const WaitRound = time.Minute

// ReadOpts are the options of a read of one process.
type ReadOpts struct {
	// Stale reads the answering node's own table, which may lag the
	// leader's, instead of a linearizable read on the leader.
	Stale bool
}

// ListOpts are the options of List.
type ListOpts struct {
	// All adds exited and lost processes.
	All bool
	// Stale reads the answering node's own table (see ReadOpts).
	Stale bool
	// Index, if not 0, makes List a blocking query: it answers once the
	// table has moved past Index, or when Wait has passed.
	Index uint64
	// Wait bounds a blocking query; 0 leaves the bound to the server.
	Wait time.Duration
	// Limit, if not 0, asks for one page of at most Limit processes, those
	// with a PID above After; the answer's Next is the After of the next
	// page, 0 after the last.
	Limit int
	After uint64
	// Node, States and Owner keep the processes assigned to a node (its
	// ID or name), in one of the states (which includes exited and lost
	// ones when asked for, without All), or of one owner. An agent older
	// than these filters ignores them and answers everything.
	Node   string
	States []string
	Owner  string
	// Fields, if not empty, asks for these fields of each process only
	// (JSON names, api.ParseFields; the PID always comes): the others
	// are left zero. An agent older than it answers every field.
	Fields []string
}

// Spawn asks for a new process and returns its PID once its spawn entry,
// placement included, has committed. It is a write: see the package
// documentation for its retries. Concurrent calls share requests (see
// Config.MaxSpawnBatch and the package documentation); each still gets its
// own PID or error. A request whose grammar fields do not parse
// (api.SpawnRequest.ParseSpec) is refused before anything is sent, with the
// *spec.SyntaxError that says why.
func (c *Client) Spawn(ctx context.Context, req api.SpawnRequest) (api.SpawnResponse, error) {
	var out api.SpawnResponse
	if req.Command == "" {
		return out, errors.New("spawn: empty command")
	}
	if _, err := req.ParseSpec(); err != nil {
		return out, fmt.Errorf("spawn: %w", err)
	}
	if c.maxSpawnBatch() > 1 {
		return c.spawnMerged(ctx, req)
	}
	err := c.write(ctx, &request{method: http.MethodPost, path: "/v1/spawn", in: req, out: &out})
	return out, err
}

// Kill sends a signal to each target, a PID or -PGID, and returns once the
// signal requests have committed. It is a write: see the package
// documentation for its retries.
func (c *Client) Kill(ctx context.Context, req api.KillRequest) (api.KillResponse, error) {
	var out api.KillResponse
	if len(req.Targets) == 0 {
		return out, errors.New("kill: no target")
	}
	err := c.write(ctx, &request{method: http.MethodPost, path: "/v1/kill", in: req, out: &out})
	return out, err
}

// Get returns the process pid. A process not in the table is ErrNotFound.
func (c *Client) Get(ctx context.Context, pid uint64, opts ReadOpts) (api.Process, error) {
	var out api.Process
	q := url.Values{}
	if opts.Stale {
		q.Set("stale", "true")
	}
	err := c.read(ctx, &request{method: http.MethodGet, path: procPath(pid, ""), query: q, out: &out})
	return out, err
}

// List returns the processes of the table: the live ones, or all with
// opts.All. With opts.Index it is a blocking query.
func (c *Client) List(ctx context.Context, opts ListOpts) (api.ProcessList, error) {
	var out api.ProcessList
	err := c.ListInto(ctx, opts, &out)
	return out, err
}

// ListInto is List into out, whose Processes array it reuses (the caller
// no longer holds those processes): a caller that reads a large table
// page by page then allocates a page's array once rather than per page.
func (c *Client) ListInto(ctx context.Context, opts ListOpts, out *api.ProcessList) error {
	q := url.Values{}
	if opts.All {
		q.Set("all", "true")
	}
	if opts.Stale {
		q.Set("stale", "true")
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.After > 0 {
		q.Set("after", strconv.FormatUint(opts.After, 10))
	}
	if opts.Node != "" {
		q.Set("node", opts.Node)
	}
	if len(opts.States) > 0 {
		q.Set("state", strings.Join(opts.States, ","))
	}
	if opts.Owner != "" {
		q.Set("owner", opts.Owner)
	}
	if len(opts.Fields) > 0 {
		q.Set("fields", strings.Join(opts.Fields, ","))
	}
	var timeout time.Duration
	if opts.Index > 0 {
		q.Set("index", strconv.FormatUint(opts.Index, 10))
		if opts.Wait > 0 {
			q.Set("wait", opts.Wait.String())
		}
		timeout = c.cfg.Timeout + max(opts.Wait, WaitRound)
	}
	q.Set("format", api.FormatNDJSON)
	decode := func(h http.Header, body io.Reader) error { return decodeList(h, body, opts.Limit, out) }
	return c.read(ctx, &request{method: http.MethodGet, path: "/v1/procs", query: q, decode: decode, timeout: timeout})
}

// decodeList decodes a listing as it arrives: in rows
// (api.FormatNDJSON), which List asks for, or the JSON object, which an
// agent that does not know rows answers instead. limit sizes the list;
// out's Processes array is reused when it is large enough.
func decodeList(h http.Header, body io.Reader, limit int, out *api.ProcessList) error {
	procs := out.Processes[:0]
	*out = api.ProcessList{}
	if ct, _, _ := strings.Cut(h.Get("Content-Type"), ";"); strings.TrimSpace(ct) != "application/x-ndjson" {
		return json.NewDecoder(body).Decode(out)
	}
	var err error
	if v := h.Get(api.HeaderIndex); v != "" {
		if out.Index, err = strconv.ParseUint(v, 10, 64); err != nil {
			return fmt.Errorf("bad %s %q", api.HeaderIndex, v)
		}
	}
	if v := h.Get(api.HeaderNext); v != "" {
		if out.Next, err = strconv.ParseUint(v, 10, 64); err != nil {
			return fmt.Errorf("bad %s %q", api.HeaderNext, v)
		}
	}
	if cap(procs) < max(limit, 16) {
		procs = make([]api.Process, 0, max(limit, 16))
	}
	out.Processes = procs
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxRowLine)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out.Processes = append(out.Processes, api.Process{})
		if err := api.ParseProcessJSON(line, &out.Processes[len(out.Processes)-1]); err != nil {
			return err
		}
	}
	return sc.Err()
}

// maxRowLine bounds one line of a listing in rows: a process with the
// largest arguments and environment a spawn may carry, escaped.
const maxRowLine = 8 << 20

// Wait blocks until process pid has exited (or is lost) and returns it with
// its status. It repeats the blocking /wait query for as long as ctx lets
// it, and never reaps: every Wait on a PID sees the same status.
func (c *Client) Wait(ctx context.Context, pid uint64) (api.Process, error) {
	q := url.Values{"timeout": {WaitRound.String()}}
	r := &request{method: http.MethodGet, path: procPath(pid, "/wait"), query: q,
		timeout: c.cfg.Timeout + WaitRound}
	rt := retrier{c: c}
	for {
		var p api.Process
		r.out = &p
		err := c.call(ctx, r, nil)
		switch {
		case err == nil && p.Exited():
			return p, nil
		case (err == nil || codeOf(err) == api.CodeTimeout) && ctx.Err() == nil:
			// The round ended without an exit: ask again, after a short
			// pause in case the server answers rounds at once.
			rt = retrier{c: c}
			if c.pause(ctx, 0) != nil {
				return p, ctx.Err()
			}
			continue
		case ctx.Err() != nil:
			return p, ctx.Err()
		}
		if !rt.again(ctx, classify(ctx, err)) {
			if cerr := ctx.Err(); cerr != nil {
				return p, cerr
			}
			return p, err
		}
	}
}

// LogStream is the output of a process, as Logs returns it.
type LogStream struct {
	io.ReadCloser
	// Start is the log offset of the stream's first byte. It is above the
	// offset asked for when the node has dropped older output to stay
	// within its bound.
	Start int64
	// plain: chunks were asked for and the node answered the bytes (a
	// release that does not know chunks); ChunkReader reads them as stdout.
	plain bool
}

// Logs returns the output of process pid (standard output and error,
// interleaved) from log offset on. With follow the stream goes on as the
// process writes, and ends once it has exited and everything it wrote has
// been sent. The caller closes the stream; ctx bounds it. The stream is a
// *LogStream, which tells where it starts, so that a broken stream can be
// resumed at Start plus the bytes read.
func (c *Client) Logs(ctx context.Context, pid uint64, follow bool, offset int64) (io.ReadCloser, error) {
	q := url.Values{}
	if follow {
		q.Set("follow", "true")
	}
	if offset > 0 {
		q.Set("offset", strconv.FormatInt(offset, 10))
	}
	resp, err := c.open(ctx, &request{method: http.MethodGet, path: procPath(pid, "/logs"), query: q, timeout: -1})
	if err != nil {
		return nil, err
	}
	ls := &LogStream{ReadCloser: resp.Body, Start: offset}
	if v, err := strconv.ParseInt(resp.Header.Get(api.HeaderOffset), 10, 64); err == nil && v >= 0 {
		ls.Start = v
	}
	return ls, nil
}

// Stdin feeds r to the standard input of process pid, which must have been
// spawned with Stdin set. It returns when r is exhausted (the process then
// reads EOF) or the process has exited. It is not retried: r cannot be
// replayed.
func (c *Client) Stdin(ctx context.Context, pid uint64, r io.Reader) error {
	return c.call(ctx, &request{method: http.MethodPost, path: procPath(pid, "/stdin"), stream: r, timeout: -1}, nil)
}

// open sends r until it gets the headers of a 2xx answer, retrying
// transient failures, and returns the answer; the caller closes its body.
func (c *Client) open(ctx context.Context, r *request) (*http.Response, error) {
	rt := retrier{c: c}
	for {
		resp, err := c.send(ctx, r, nil)
		if err == nil {
			return resp, nil
		}
		if r.stream != nil || !rt.again(ctx, classify(ctx, err)) {
			return nil, err
		}
	}
}

func procPath(pid uint64, suffix string) string {
	return "/v1/procs/" + strconv.FormatUint(pid, 10) + suffix
}
