package logstore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vproc/vproc/internal/ctxutil"
)

// logFlushDelay is how long the flusher waits after the first write before it
// flushes, so that a chatty process is written in batches.
const logFlushDelay = 50 * time.Millisecond

// ErrClosed is returned by reads after the store is closed.
var ErrClosed = errors.New("log store closed")

// Store holds the output logs of the processes this node runs. It is safe
// for concurrent use. Create it with New and stop it with Close.
type Store struct {
	dir    string // "" keeps the logs in memory
	segMax int64  // the capacity of each of a log's two segments
	log    *slog.Logger

	mu     sync.Mutex // guards logs, dirty, closed and each procLog's buffer fields
	logs   map[uint64]*procLog
	dirty  map[*procLog]struct{}
	closed bool

	delay time.Duration // how long the flusher waits after a write (logFlushDelay)
	kick  chan struct{} // capacity 1: wakes the flusher
	quit  chan struct{}
	wg    sync.WaitGroup
}

// procLog is one PID's log.
type procLog struct {
	pid uint64

	// Guarded by Store.mu.
	buf      []byte        // output not yet in a segment
	bufStart int64         // logical offset of buf[0]
	done     bool          // no incarnation writes to it now: the last one exited
	gone     bool          // deleted
	wake     chan struct{} // made by a waiting reader, closed by the next change
	recs     []record      // where each chunk of a stream starts, in offset order
	recSaved int           // recs[:recSaved] are in the records file
	recStale bool          // the records file must be written afresh

	io   sync.Mutex // guards segs, cur and the segment files; taken before Store.mu
	segs [2]segment // segs[cur] is appended to; segs[1-cur] is older
	cur  int
}

type segment struct {
	base int64  // logical offset of the segment's first byte
	size int64  // bytes in it
	data []byte // its bytes, in memory mode
}

func (s *segment) end() int64 { return s.base + s.size }

// New opens the store in dir (created if needed), or in memory when
// dir is "". maxBytes bounds each log.
func New(dir string, maxBytes int64, logger *slog.Logger) (*Store, error) {
	return newStore(dir, maxBytes, logger, logFlushDelay)
}

// newStore is New with the flusher's delay.
func newStore(dir string, maxBytes int64, logger *slog.Logger, delay time.Duration) (*Store, error) {
	if maxBytes < 2 {
		return nil, fmt.Errorf("log size bound %d is too small", maxBytes)
	}
	st := &Store{
		dir:    dir,
		segMax: maxBytes / 2,
		log:    logger,
		logs:   make(map[uint64]*procLog),
		dirty:  make(map[*procLog]struct{}),
		delay:  delay,
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("log store: %w", err)
		}
		if err := st.load(); err != nil {
			return nil, err
		}
	}
	st.wg.Add(1)
	go st.flusher()
	return st, nil
}

// load finds the logs a previous run left in the directory. Their processes
// have ended with that run, so they are done.
func (st *Store) load() error {
	ents, err := os.ReadDir(st.dir)
	if err != nil {
		return fmt.Errorf("log store: %w", err)
	}
	bases := make(map[uint64][]int64)
	var recFiles []uint64
	for _, e := range ents {
		if rec, ok := strings.CutSuffix(e.Name(), recTmpSuffix); ok && !e.IsDir() {
			if _, ok := parseRecordsName(rec); ok {
				_ = os.Remove(filepath.Join(st.dir, e.Name())) // a rewrite a crash cut short
			}
			continue
		}
		if pid, ok := parseRecordsName(e.Name()); ok && !e.IsDir() {
			recFiles = append(recFiles, pid)
			continue
		}
		pid, base, ok := parseSegmentName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		bases[pid] = append(bases[pid], base)
	}
	for pid, bs := range bases {
		sort.Slice(bs, func(i, j int) bool { return bs[i] < bs[j] })
		for len(bs) > 2 {
			_ = os.Remove(st.segPath(pid, bs[0]))
			bs = bs[1:]
		}
		var segs []segment
		for _, b := range bs {
			fi, err := os.Stat(st.segPath(pid, b))
			if err != nil {
				continue
			}
			segs = append(segs, segment{base: b, size: fi.Size()})
		}
		if len(segs) == 2 && segs[0].end() != segs[1].base {
			// Not contiguous: keep only the newer.
			_ = os.Remove(st.segPath(pid, segs[0].base))
			segs = segs[1:]
		}
		if len(segs) == 0 {
			continue
		}
		pl := &procLog{pid: pid, done: true}
		copy(pl.segs[:], segs)
		pl.cur = len(segs) - 1
		if len(segs) == 1 {
			pl.segs[1] = segment{base: segs[0].base}
		}
		pl.bufStart = pl.segs[pl.cur].end()
		start := pl.segs[pl.cur].base
		if other := pl.segs[1-pl.cur]; other.size > 0 && other.end() == start {
			start = other.base
		}
		pl.recs = st.loadRecords(pid, start)
		pl.trimLocked(start)
		pl.recStale = true
		st.logs[pid] = pl
	}
	for _, pid := range recFiles {
		if st.logs[pid] == nil {
			_ = os.Remove(st.recPath(pid)) // its segments are gone
		}
	}
	return nil
}

func parseSegmentName(name string) (pid uint64, base int64, ok bool) {
	rest, found := strings.CutSuffix(name, ".log")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, ".")
	if !found {
		return 0, 0, false
	}
	pid, err1 := strconv.ParseUint(a, 10, 64)
	base, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || base < 0 {
		return 0, 0, false
	}
	return pid, base, true
}

func (st *Store) segPath(pid uint64, base int64) string {
	return filepath.Join(st.dir, strconv.FormatUint(pid, 10)+"."+strconv.FormatInt(base, 10)+".log")
}

// getLocked returns pid's log, creating it when create is set. Callers hold
// st.mu.
func (st *Store) getLocked(pid uint64, create bool) *procLog {
	pl := st.logs[pid]
	if pl == nil && create && !st.closed {
		pl = &procLog{pid: pid}
		st.logs[pid] = pl
	}
	return pl
}

func (pl *procLog) wakeLocked() {
	if pl.wake != nil {
		close(pl.wake)
		pl.wake = nil
	}
}

// logWriter is the io.Writer a process's stdout or stderr goes to.
type logWriter struct {
	st     *Store
	pid    uint64
	stream Stream
}

// Write appends to the log's buffer. It never blocks on I/O and never fails:
// output that cannot be kept is dropped, oldest first.
func (w logWriter) Write(b []byte) (int, error) {
	st := w.st
	st.mu.Lock()
	pl := st.getLocked(w.pid, true)
	if pl == nil || pl.gone || st.closed {
		st.mu.Unlock()
		return len(b), nil
	}
	if len(b) > 0 {
		pl.noteLocked(w.stream, pl.bufStart+int64(len(pl.buf)), time.Now().UnixNano())
	}
	pl.buf = append(pl.buf, b...)
	if over := int64(len(pl.buf)) - 2*st.segMax; over > 0 {
		pl.buf = append([]byte(nil), pl.buf[over:]...)
		pl.bufStart += over
		pl.trimLocked(pl.bufStart)
		pl.recStale = true
	}
	st.dirty[pl] = struct{}{}
	pl.wakeLocked()
	st.mu.Unlock()
	ctxutil.Kick(st.kick)
	return len(b), nil
}

// Writer returns the writer for pid's standard output, and marks the log as
// written to again (not done).
func (st *Store) Writer(pid uint64) io.Writer {
	w, _ := st.Writers(pid)
	return w
}

// Writers returns the writers for pid's standard output and standard error,
// which share its log, each write recorded with its stream and time; it
// marks the log as written to again (not done).
func (st *Store) Writers(pid uint64) (stdout, stderr io.Writer) {
	st.mu.Lock()
	if pl := st.getLocked(pid, true); pl != nil {
		pl.done = false
		pl.wakeLocked()
	}
	st.mu.Unlock()
	return logWriter{st: st, pid: pid, stream: Stdout}, logWriter{st: st, pid: pid, stream: Stderr}
}

// Finish marks pid's log done: the incarnation writing it has exited. It
// writes what is buffered to the log's files before it returns, so that
// the output of a process whose exit the node then reports survives a
// crash of the agent (the files are not synced: a crash of the machine
// may still lose the last of it).
func (st *Store) Finish(pid uint64) {
	st.mu.Lock()
	pl := st.logs[pid]
	if pl != nil {
		pl.done = true
		pl.wakeLocked()
		delete(st.dirty, pl)
	}
	st.mu.Unlock()
	if pl == nil {
		return
	}
	if err := st.flush(pl); err != nil {
		st.log.Warn("writing a process log", "pid", pid, "err", err)
	}
}

// Remove deletes pid's log (the table reaped the process).
func (st *Store) Remove(pid uint64) {
	st.mu.Lock()
	pl := st.logs[pid]
	if pl == nil {
		st.mu.Unlock()
		return
	}
	delete(st.logs, pid)
	delete(st.dirty, pl)
	pl.gone = true
	pl.wakeLocked()
	st.mu.Unlock()

	pl.io.Lock()
	defer pl.io.Unlock()
	for i := range pl.segs {
		if st.dir != "" && pl.segs[i].size > 0 {
			if err := os.Remove(st.segPath(pid, pl.segs[i].base)); err != nil && !errors.Is(err, os.ErrNotExist) {
				st.log.Warn("removing a process log", "pid", pid, "err", err)
			}
		}
		pl.segs[i] = segment{}
	}
	if st.dir != "" {
		if err := os.Remove(st.recPath(pid)); err != nil && !errors.Is(err, os.ErrNotExist) {
			st.log.Warn("removing a process log's records", "pid", pid, "err", err)
		}
	}
}

// PIDs lists the PIDs that have a log.
func (st *Store) PIDs() []uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]uint64, 0, len(st.logs))
	for pid := range st.logs {
		out = append(out, pid)
	}
	return out
}

// Has reports whether pid has a log here.
func (st *Store) Has(pid uint64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.logs[pid] != nil
}

// Read copies output of pid's log from logical offset off into p. It
// returns the number of bytes copied and the offset of p[0], which is above
// off when the output at off has been dropped. n is 0 when there is nothing
// at or after off yet.
func (st *Store) Read(pid uint64, off int64, p []byte) (n int, at int64, err error) {
	st.mu.Lock()
	pl := st.logs[pid]
	closed := st.closed
	st.mu.Unlock()
	if closed {
		return 0, off, ErrClosed
	}
	if pl == nil {
		return 0, off, nil
	}
	pl.io.Lock()
	defer pl.io.Unlock()
	st.mu.Lock()
	old, cur := pl.segs[1-pl.cur], pl.segs[pl.cur]
	start := cur.base
	if old.size > 0 && old.end() == cur.base {
		start = old.base
	}
	if cur.end() != pl.bufStart || (cur.size == 0 && old.size == 0) {
		// Nothing flushed yet, or the buffer outran the flusher: only the
		// buffer is current.
		start = pl.bufStart
	}
	off = max(off, start)
	if off >= pl.bufStart {
		i := off - pl.bufStart
		if i < int64(len(pl.buf)) {
			n = copy(p, pl.buf[i:])
		}
		st.mu.Unlock()
		return n, off, nil
	}
	st.mu.Unlock()
	seg := cur
	if off < cur.base {
		seg = old
	}
	want := min(int64(len(p)), seg.end()-off)
	if st.dir == "" {
		return copy(p[:want], seg.data[off-seg.base:]), off, nil
	}
	f, err := os.Open(st.segPath(pid, seg.base))
	if err != nil {
		return 0, off, err
	}
	defer f.Close()
	n, err = f.ReadAt(p[:want], off-seg.base)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, off, err
}

// WaitChan returns a channel closed when pid's log changes, and whether
// the log is done with nothing left at or after off. The log is created if
// needed so that a reader can wait for a process that has not written yet.
func (st *Store) WaitChan(pid uint64, off int64) (wake <-chan struct{}, finished bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	pl := st.getLocked(pid, true)
	if pl == nil || pl.gone {
		return nil, true
	}
	end := pl.bufStart + int64(len(pl.buf))
	if off < end {
		c := make(chan struct{})
		close(c)
		return c, false
	}
	if pl.wake == nil {
		pl.wake = make(chan struct{})
	}
	return pl.wake, pl.done
}

// flusher moves buffered output into the segments.
func (st *Store) flusher() {
	defer st.wg.Done()
	for {
		select {
		case <-st.quit:
			st.flushAll()
			return
		case <-st.kick:
		}
		t := time.NewTimer(st.delay)
		select {
		case <-st.quit:
			t.Stop()
			st.flushAll()
			return
		case <-t.C:
		}
		st.flushAll()
	}
}

func (st *Store) flushAll() {
	st.mu.Lock()
	list := make([]*procLog, 0, len(st.dirty))
	for pl := range st.dirty {
		list = append(list, pl)
	}
	clear(st.dirty)
	st.mu.Unlock()
	for _, pl := range list {
		if err := st.flush(pl); err != nil {
			st.log.Warn("writing a process log", "pid", pl.pid, "err", err)
		}
	}
}

// flush appends pl's buffer to its segments.
func (st *Store) flush(pl *procLog) error {
	pl.io.Lock()
	defer pl.io.Unlock()
	st.mu.Lock()
	if pl.gone {
		st.mu.Unlock()
		return nil
	}
	data, off := pl.buf, pl.bufStart
	pl.buf = nil
	pl.bufStart += int64(len(data))
	st.mu.Unlock()
	if len(data) == 0 {
		return nil
	}
	dropped := false
	defer func() {
		if dropped {
			start := pl.segs[pl.cur].base
			if other := pl.segs[1-pl.cur]; other.size > 0 && other.end() == start {
				start = other.base
			}
			st.mu.Lock()
			pl.trimLocked(start)
			st.mu.Unlock()
		}
		st.mu.Lock()
		rewrite := dropped || pl.recStale
		pl.recStale = false
		st.mu.Unlock()
		if err := st.saveRecords(pl, rewrite); err != nil {
			st.log.Warn("writing a process log's records", "pid", pl.pid, "err", err)
		}
	}()
	cur := &pl.segs[pl.cur]
	if cur.end() != off || (cur.size == 0 && pl.segs[1-pl.cur].size == 0) {
		// The first output, or a gap where buffered output was dropped:
		// start afresh at off.
		dropped = true
		for i := range pl.segs {
			if err := st.dropSegment(pl, i); err != nil {
				return err
			}
		}
		pl.cur = 0
		pl.segs[0].base = off
		pl.segs[1].base = off
		cur = &pl.segs[0]
	}
	for len(data) > 0 {
		if cur.size >= st.segMax {
			other := 1 - pl.cur
			dropped = true
			if err := st.dropSegment(pl, other); err != nil {
				return err
			}
			pl.segs[other].base = cur.end()
			pl.cur = other
			cur = &pl.segs[other]
		}
		n := min(int64(len(data)), st.segMax-cur.size)
		if err := st.appendSegment(pl.pid, cur, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (st *Store) dropSegment(pl *procLog, i int) error {
	s := &pl.segs[i]
	if st.dir != "" && s.size > 0 {
		if err := os.Remove(st.segPath(pl.pid, s.base)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	*s = segment{base: s.end()}
	return nil
}

func (st *Store) appendSegment(pid uint64, s *segment, b []byte) error {
	if st.dir == "" {
		s.data = append(s.data, b...)
		s.size += int64(len(b))
		return nil
	}
	f, err := os.OpenFile(st.segPath(pid, s.base), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n, err := f.Write(b)
	s.size += int64(n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close flushes what is buffered and stops the flusher. Later writes are
// dropped and reads fail.
func (st *Store) Close() {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	for _, pl := range st.logs {
		pl.wakeLocked()
	}
	st.mu.Unlock()
	close(st.quit)
	st.wg.Wait()
}
