package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/spec"
)

func newPsCmd(e *env, g *globals) *cobra.Command {
	var (
		all    bool
		stale  bool
		wide   bool
		output string
		opts   client.ListOpts
	)
	cmd := &cobra.Command{
		Use:   "ps [-a] [-w] [--node NODE] [--state STATE,...] [--user USER] [-o json]",
		Short: "List processes",
		Long: `List the processes of the table. -a adds exited and lost processes.
MICRO and CPU come from the nodes that can be reached. STATUS says how a
process ended: "exited (CODE)", "killed (SIGNAL)" (with ", core" when it
dumped core), or "lost"; START is when its current incarnation started (the time today,
else the day, else the year) and AGE how long ago it was spawned.

On a terminal each line is cut to the terminal's width ($COLUMNS, else the
terminal's own); -w, or output to a pipe or a file, prints whole lines.
--state exited or lost lists those without -a.`,
		Example: `  vproc ps
  vproc ps -a --state exited --user alice
  vproc ps --node n2 -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			for _, st := range opts.States {
				if !slices.Contains(psStates, st) {
					return usagef(cmd, "bad --state %q: want one or more of %s", st, strings.Join(psStates, ", "))
				}
			}
			c, err := g.client(e)
			if err != nil {
				return err
			}
			defer c.Close()
			opts.All, opts.Stale = all, stale
			out := psOutput{json: output == "json", now: time.Now()}
			if !wide && !out.json {
				out.width = terminalWidth(e)
			}
			if err := psPages(cmd.Context(), c, opts, e.stdout, out); err != nil {
				return fmt.Errorf("ps: %s", describe(err, g.address(e)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "add exited and lost processes")
	cmd.Flags().BoolVar(&stale, "stale", false, "read the answering node's own table, which may lag")
	cmd.Flags().BoolVarP(&wide, "wide", "w", false, "print whole lines on a terminal too")
	cmd.Flags().StringVar(&opts.Node, "node", "", "only the processes assigned to this node (name or ID)")
	cmd.Flags().StringSliceVar(&opts.States, "state", nil, "only the processes in these states: "+strings.Join(psStates, ", "))
	cmd.Flags().StringVar(&opts.Owner, "user", "", "only the processes of this owner")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

var psStates = []string{"pending", "placed", "running", "stopped", "exited", "lost"}

// psOutput says how ps prints: JSON, or a table cut to width (0: not
// cut), with ages counted to now.
type psOutput struct {
	json  bool
	width int
	now   time.Time
	// cells, if set, is the table's scratch, reused from page to page.
	cells *psCells
}

// The pages ps asks for: a small first one, so that the first line comes
// at once, then the largest the API gives.
const (
	psFirstPage = 500
	psPage      = api.MaxListPage
)

// psFields are the fields of a process the table shows (and psKeep
// reads): a listing in rows carries only these.
var psFields = []string{"pid", "ppid", "owner", "state", "exit_code", "signal", "core",
	"micro_state", "node", "pending_reason", "priority", "cpu_ms", "started_at",
	"created_at", "command", "args"}

// psPageResult is one page of the listing, or the error that ended it.
type psPageResult struct {
	procs []api.Process
	err   error
}

// psPages lists the processes page by page, in PID order, and prints each
// page as it arrives: a table whose columns are sized per page, or one
// JSON array written element by element. The next page is fetched while
// one is printed.
func psPages(ctx context.Context, c *client.Client, opts client.ListOpts, w io.Writer, out psOutput) error {
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan psPageResult, 1)
	// A page's array goes back to the fetcher once printed: three
	// arrays (one printed, one waiting, one being read) serve the
	// whole listing.
	free := make(chan []api.Process, 3)
	q := opts // the fetcher's own: it moves After on
	if !out.json {
		q.Fields = psFields
	}
	go func() {
		defer close(pages)
		q.Limit = psFirstPage
		for {
			var list api.ProcessList
			select {
			case list.Processes = <-free:
			default:
			}
			err := c.ListInto(ctx, q, &list)
			select {
			case pages <- psPageResult{list.Processes, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || list.Next == 0 || len(list.Processes) == 0 {
				return
			}
			q.After, q.Limit = list.Next, psPage
		}
	}()
	defer func() {
		cancel()
		for range pages { // the fetcher ends once it sees the cancel
		}
	}()
	first := true
	bw := bufio.NewWriterSize(w, 64<<10)
	out.cells = new(psCells)
	for pg := range pages {
		if pg.err != nil {
			if !first && out.json {
				fmt.Fprintln(bw, "\n]")
			}
			bw.Flush()
			return pg.err
		}
		procs := psKeep(pg.procs, opts)
		slices.SortFunc(procs, func(a, b api.Process) int { return cmpUint(a.PID, b.PID) })
		if out.json {
			for _, p := range psJSON(procs) {
				b, err := json.MarshalIndent(p, "  ", "  ")
				if err != nil {
					return err
				}
				sep := ",\n  "
				if first {
					sep = "[\n  "
				}
				first = false
				if _, err := fmt.Fprintf(bw, "%s%s", sep, b); err != nil {
					return err
				}
			}
		} else {
			psRows(bw, procs, first, out)
			first = false
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		select {
		case free <- pg.procs:
		default:
		}
	}
	if out.json {
		if first {
			fmt.Fprintln(bw, "[]")
		} else {
			fmt.Fprintln(bw, "\n]")
		}
	}
	return bw.Flush()
}

// psKeep applies the state and owner filters of opts to a page again: an
// agent older than the filters answers everything. (A node may be named
// by its name or its ID, which only the agent resolves.)
func psKeep(procs []api.Process, opts client.ListOpts) []api.Process {
	if len(opts.States) == 0 && opts.Owner == "" {
		return procs
	}
	return slices.DeleteFunc(procs, func(p api.Process) bool {
		return len(opts.States) > 0 && !slices.Contains(opts.States, p.State) ||
			opts.Owner != "" && p.Owner != opts.Owner
	})
}

// psJSON prepares processes for -o json: an array, never null, whose args
// are arrays too.
func psJSON(procs []api.Process) []api.Process {
	out := make([]api.Process, len(procs))
	for i, p := range procs {
		if p.Args == nil {
			p.Args = []string{}
		}
		out[i] = p
	}
	return out
}

// psTable writes procs as top shows them: the table's columns, without
// ps's owner, status and times.
func psTable(w io.Writer, procs []api.Process) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tPPID\tSTATE\tMICRO\tNODE\tPRI\tCPU\tCOMMAND")
	for _, p := range procs {
		r := psRow(&p, time.Time{})
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n",
			p.PID, p.PPID, dash(p.State), dash(p.MicroState), r[6], p.Priority,
			cpuTime(p.CPUMillis), r[len(r)-1])
	}
	return tw.Flush()
}

var psHeader = []string{"PID", "PPID", "USER", "STATE", "STATUS", "MICRO", "NODE", "PRI", "CPU", "START", "AGE", "COMMAND"}

// psRows writes procs as table rows, after the header when header is
// set: columns two spaces apart, sized to this page, each line cut to
// out.width characters when it is not 0.
func psRows(w *bufio.Writer, procs []api.Process, header bool, out psOutput) {
	c := out.cells
	if c == nil {
		c = new(psCells)
	}
	c.reset()
	if header {
		for _, h := range psHeader {
			c.buf = append(c.buf, h...)
			c.end()
		}
	}
	for i := range procs {
		c.appendRow(&procs[i], out.now)
	}
	cols := len(psHeader)
	rows := len(c.ends) / cols
	widths := make([]int, cols)
	for r := range rows {
		for i := range cols - 1 {
			widths[i] = max(widths[i], c.width(r*cols+i))
		}
	}
	line := c.line[:0]
	for r := range rows {
		line = line[:0]
		for i := range cols {
			line = append(line, c.cell(r*cols+i)...)
			if i < cols-1 {
				for range widths[i] - c.width(r*cols+i) + 2 {
					line = append(line, ' ')
				}
			}
		}
		if out.width > 0 {
			line = bytes.TrimRight(cutRunes(line, out.width), " ")
		}
		line = append(line, '\n')
		w.Write(line)
	}
	c.line = line
}

// psCells holds a page's table cells in one array, a cell the bytes
// between two ends, rather than a string each: a listing of a million
// processes prints twelve million cells. psPages reuses one for every
// page.
type psCells struct {
	buf  []byte
	ends []int
	line []byte
}

func (c *psCells) reset() {
	c.buf, c.ends = c.buf[:0], c.ends[:0]
}

// end ends the cell being appended to buf.
func (c *psCells) end() { c.ends = append(c.ends, len(c.buf)) }

func (c *psCells) cell(i int) []byte {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.buf[start:c.ends[i]]
}

// width is cell i's width in characters.
func (c *psCells) width(i int) int { return utf8.RuneCount(c.cell(i)) }

// str appends s as a cell, "-" when it is empty.
func (c *psCells) str(s string) {
	if s == "" {
		s = "-"
	}
	c.buf = append(c.buf, s...)
	c.end()
}

// appendRow appends the cells of p's row, as psHeader names them.
func (c *psCells) appendRow(p *api.Process, now time.Time) {
	c.buf = strconv.AppendUint(c.buf, p.PID, 10)
	c.end()
	c.buf = strconv.AppendUint(c.buf, p.PPID, 10)
	c.end()
	c.str(p.Owner)
	c.str(p.State)
	c.buf = appendExitStatus(c.buf, p)
	c.end()
	c.str(p.MicroState)
	// A pending process has no node yet: the column says why.
	if p.Node == "" && p.PendingReason != "" {
		c.buf = append(append(append(c.buf, '('), p.PendingReason...), ')')
		c.end()
	} else {
		c.str(p.Node)
	}
	c.buf = strconv.AppendInt(c.buf, int64(p.Priority), 10)
	c.end()
	c.buf = appendCPUTime(c.buf, p.CPUMillis)
	c.end()
	c.buf = appendStartTime(c.buf, p.StartedAt, now)
	c.end()
	c.buf = appendAge(c.buf, p.CreatedAt, now)
	c.end()
	c.buf = appendCommandLine(c.buf, p.Command, p.Args)
	c.end()
}

// cutRunes cuts b to at most n characters.
func cutRunes(b []byte, n int) []byte {
	for i := range string(b) {
		if n == 0 {
			return b[:i]
		}
		n--
	}
	return b
}

// psRow is p's row, as psHeader names its cells.
func psRow(p *api.Process, now time.Time) []string {
	var c psCells
	c.appendRow(p, now)
	row := make([]string, len(c.ends))
	for i := range row {
		row[i] = string(c.cell(i))
	}
	return row
}

// A process's exit status is how it ended, in the manner of docker ps:
// "exited (CODE)", "killed (SIGNAL)" with ", core" when it dumped core,
// "lost"; "-" while it is live. appendExitStatus appends it to b.
func appendExitStatus(b []byte, p *api.Process) []byte {
	switch {
	case p.State == "lost":
		return append(b, "lost"...)
	case p.State != "exited":
		return append(b, '-')
	case p.ExitCode != nil:
		b = append(b, "exited ("...)
		b = strconv.AppendInt(b, int64(*p.ExitCode), 10)
		return append(b, ')')
	case p.Signal != nil:
		b = append(b, "killed ("...)
		b = append(b, spec.FormatSignal(ipc.Signal(*p.Signal))...)
		if p.Core {
			b = append(b, ", core"...)
		}
		return append(b, ')')
	}
	return append(b, "exited"...)
}

// startTime is when a process started, as ps's START: the time of day
// when it is today, else the month and day when it is this year, else the
// year; "-" before it starts.
func startTime(t, now time.Time) string { return string(appendStartTime(nil, t, now)) }

func appendStartTime(b []byte, t, now time.Time) []byte {
	if t.IsZero() {
		return append(b, '-')
	}
	t, now = t.Local(), now.Local()
	switch {
	case t.YearDay() == now.YearDay() && t.Year() == now.Year():
		return t.AppendFormat(b, "15:04")
	case t.Year() == now.Year():
		return t.AppendFormat(b, "Jan02")
	}
	return t.AppendFormat(b, "2006")
}

// age is how long ago t was, in the largest unit that fits, as
// kubectl's AGE: seconds below two minutes, minutes below two hours,
// hours below two days, then days.
func age(t, now time.Time) string { return string(appendAge(nil, t, now)) }

func appendAge(b []byte, t, now time.Time) []byte {
	if t.IsZero() {
		return append(b, '-')
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < 2*time.Minute:
		return append(strconv.AppendInt(b, int64(d/time.Second), 10), 's')
	case d < 2*time.Hour:
		return append(strconv.AppendInt(b, int64(d/time.Minute), 10), 'm')
	case d < 48*time.Hour:
		return append(strconv.AppendInt(b, int64(d/time.Hour), 10), 'h')
	}
	return append(strconv.AppendInt(b, int64(d/(24*time.Hour)), 10), 'd')
}

// terminalWidth is the width to cut ps's lines to: 0 unless stdout is a
// terminal; then $COLUMNS when it is a number, else the terminal's.
func terminalWidth(e *env) int {
	f, ok := e.stdout.(*os.File)
	if !ok || !isTerminal(f) {
		return 0
	}
	if n, err := strconv.Atoi(e.getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 0
	}
	return int(ws.Col)
}

// cpuTime formats CPU milliseconds.
func cpuTime(ms int64) string { return string(appendCPUTime(nil, ms)) }

func appendCPUTime(b []byte, ms int64) []byte {
	if ms == 0 {
		return append(b, "0s"...) // most of a large table: exited processes
	}
	return append(b, (time.Duration(ms) * time.Millisecond).String()...)
}

// commandLine joins a command and its arguments, quoting those that need
// it.
func commandLine(cmd string, args []string) string {
	return string(appendCommandLine(nil, cmd, args))
}

func appendCommandLine(b []byte, cmd string, args []string) []byte {
	for i := -1; i < len(args); i++ {
		a := cmd
		if i >= 0 {
			a = args[i]
			b = append(b, ' ')
		}
		if needsQuote(a) {
			b = strconv.AppendQuote(b, a)
		} else {
			b = append(b, a...)
		}
	}
	return b
}

// needsQuote reports whether commandLine quotes a.
func needsQuote(a string) bool {
	return a == "" || strings.ContainsAny(a, " \t\n\"'\\$")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
