package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Stream says which of a process's outputs a chunk of its log came from.
type Stream uint8

// The streams. A log written before records existed reads as Stdout.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// String returns "stdout" or "stderr".
func (s Stream) String() string {
	if s == Stderr {
		return "stderr"
	}
	return "stdout"
}

// recordMerge is how close in time two writes to the same stream must be to
// share a record: the time of a chunk is that of its first write, within
// this much.
const recordMerge = 10 * time.Millisecond

// record marks where a chunk of one stream starts in the log: the bytes
// from off up to the next record's off (or the log's end) came from stream,
// first written at (unix ns; 0 when unknown, for a log kept from before
// records existed).
type record struct {
	off    int64
	at     int64
	stream Stream
}

// recordSize is the size of a record in a records file: off and at as
// little-endian int64, then the stream byte.
const recordSize = 17

func (r record) append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(r.off))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.at))
	return append(b, byte(r.stream))
}

// Chunk is a run of a log's bytes from one stream, as ReadChunks returns it.
type Chunk struct {
	Off    int64     // the log offset of Data[0]
	Stream Stream    // where Data came from
	At     time.Time // when it was written; zero when unknown
	Data   []byte
}

// noteLocked records a write of n bytes of stream at logical offset off
// (the end of the log before it). Callers hold st.mu.
func (pl *procLog) noteLocked(stream Stream, off int64, now int64) {
	if k := len(pl.recs); k > 0 {
		last := pl.recs[k-1]
		if last.stream == stream && now-last.at < int64(recordMerge) && last.at != 0 {
			return
		}
	}
	pl.recs = append(pl.recs, record{off: off, at: now, stream: stream})
}

// trimLocked drops the records wholly before offset start, keeping the one
// that covers it. Callers hold st.mu.
func (pl *procLog) trimLocked(start int64) {
	i := 0
	for i+1 < len(pl.recs) && pl.recs[i+1].off <= start {
		i++
	}
	if i > 0 {
		pl.recs = append(pl.recs[:0:0], pl.recs[i:]...)
		pl.recSaved = max(pl.recSaved-i, 0)
	}
}

// recTmpSuffix ends the name of a records file being rewritten: one that a
// crash left behind is removed at the next start.
const recTmpSuffix = ".tmp"

// parseRecordsName reads the PID of a records file's name, "<pid>.rec".
func parseRecordsName(name string) (uint64, bool) {
	rest, ok := strings.CutSuffix(name, ".rec")
	if !ok {
		return 0, false
	}
	pid, err := strconv.ParseUint(rest, 10, 64)
	return pid, err == nil
}

func (st *Store) recPath(pid uint64) string {
	return filepath.Join(st.dir, strconv.FormatUint(pid, 10)+".rec")
}

// saveRecords appends the records not yet on disk, or with rewrite writes
// them all afresh (after older output was dropped). pl.io is held.
func (st *Store) saveRecords(pl *procLog, rewrite bool) error {
	if st.dir == "" {
		return nil
	}
	st.mu.Lock()
	from := pl.recSaved
	if rewrite {
		from = 0
	}
	var b []byte
	for _, r := range pl.recs[from:] {
		b = r.append(b)
	}
	pl.recSaved = len(pl.recs)
	st.mu.Unlock()
	if rewrite {
		tmp := st.recPath(pl.pid) + recTmpSuffix
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, st.recPath(pl.pid))
	}
	if len(b) == 0 {
		return nil
	}
	f, err := os.OpenFile(st.recPath(pl.pid), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// loadRecords reads pid's records file, kept from a previous run. A log
// without one (written before records existed) reads as stdout of unknown
// time from start; a torn last record is ignored.
func (st *Store) loadRecords(pid uint64, start int64) []record {
	b, err := os.ReadFile(st.recPath(pid))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			st.log.Warn("reading a process log's records", "pid", pid, "err", err)
		}
		return []record{{off: start, stream: Stdout}}
	}
	var recs []record
	for r := bytes.NewReader(b); r.Len() >= recordSize; {
		var raw [recordSize]byte
		if _, err := io.ReadFull(r, raw[:]); err != nil {
			break
		}
		rec := record{
			off:    int64(binary.LittleEndian.Uint64(raw[0:])),
			at:     int64(binary.LittleEndian.Uint64(raw[8:])),
			stream: Stream(raw[16]),
		}
		if rec.stream != Stdout && rec.stream != Stderr || (len(recs) > 0 && rec.off < recs[len(recs)-1].off) {
			break // not a records file this release wrote: keep what is sound
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 || recs[0].off > start {
		recs = append([]record{{off: start, stream: Stdout}}, recs...)
	}
	return recs
}

// ReadChunks reads pid's log from logical offset off, as Read does, into
// buf, and splits what it read into chunks by stream and time. next is
// where the following read starts (at plus the bytes read, whatever their
// stream). The chunks' Data share buf.
func (st *Store) ReadChunks(pid uint64, off int64, buf []byte) (chunks []Chunk, at, next int64, err error) {
	n, at, err := st.Read(pid, off, buf)
	if err != nil || n == 0 {
		return nil, at, at, err
	}
	end := at + int64(n)
	st.mu.Lock()
	pl := st.logs[pid]
	var recs []record
	if pl != nil {
		// The records that cover [at, end).
		i := 0
		for i+1 < len(pl.recs) && pl.recs[i+1].off <= at {
			i++
		}
		for j := i; j < len(pl.recs) && pl.recs[j].off < end; j++ {
			recs = append(recs, pl.recs[j])
		}
	}
	st.mu.Unlock()
	if len(recs) == 0 || recs[0].off > at {
		recs = append([]record{{off: at, stream: Stdout}}, recs...)
	}
	for k, r := range recs {
		from := max(r.off, at)
		to := end
		if k+1 < len(recs) {
			to = recs[k+1].off
		}
		if to <= from {
			continue
		}
		c := Chunk{Off: from, Stream: r.stream, Data: buf[from-at : to-at]}
		if r.at != 0 {
			c.At = time.Unix(0, r.at).UTC()
		}
		chunks = append(chunks, c)
	}
	return chunks, at, end, nil
}
