package fsm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Snapshot stream format (version 1):
//
//	header   "vprocfsm" | format byte (1) | applied index (uvarint)
//	body     sections, each: tag byte | count (uvarint) | count records,
//	         each a uvarint length and the record's versioned encoding;
//	         a 0 tag ends the body
//	trailer  SHA-256 of the body (32 bytes)
//
// The sections come in a fixed order (meta, processes, nodes, objects,
// signal requests, signal outcomes, sessions, responses, then ACL tokens
// and programs when the table has any) and the records of
// each in key order, so the body is canonical: the state hash is the
// trailer. Secondary indexes are not written; Restore rebuilds them.

const (
	snapshotMagic  = "vprocfsm"
	snapshotFormat = 1
	// maxRecord bounds one record, so that a corrupt stream cannot make
	// Restore allocate without limit.
	maxRecord = 64 << 20
)

const (
	secEnd byte = iota
	secMeta
	secProcesses
	secNodes
	secObjects
	secSignals
	secOutcomes
	secSessions
	secResponses
	secTokens   // written only when the table holds ACL tokens
	secPrograms // written only when the table has programs
	secLast     = secPrograms
)

// ErrBadSnapshot is wrapped by every error of Restore about the stream's
// content.
var ErrBadSnapshot = errors.New("fsm: bad snapshot")

// Snapshot is an immutable picture of the table, taken by FSM.Snapshot in
// O(1). Persist may run on another goroutine while Apply goes on.
type Snapshot struct {
	v     *View
	index uint64
}

// Snapshot captures the current table. It is cheap: the table's trees are
// copy-on-write.
func (f *FSM) Snapshot() *Snapshot {
	v := f.View()
	return &Snapshot{v: v, index: v.Index()}
}

// Index returns the applied index the snapshot holds.
func (s *Snapshot) Index() uint64 { return s.index }

// View returns the snapshot's view of the table, or nil once released.
func (s *Snapshot) View() *View { return s.v }

// Persist streams the snapshot to w. On an error the caller cancels the
// sink (raft's SnapshotSink.Cancel); Persist does not close w.
func (s *Snapshot) Persist(w io.Writer) error {
	if s.v == nil {
		return errors.New("fsm: snapshot released")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	hdr := append([]byte(snapshotMagic), snapshotFormat)
	hdr = binary.AppendUvarint(hdr, s.v.s.index)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	h := sha256.New()
	if err := writeBody(io.MultiWriter(bw, h), s.v.s); err != nil {
		return err
	}
	if _, err := bw.Write(h.Sum(nil)); err != nil {
		return err
	}
	return bw.Flush()
}

// Release drops the snapshot's reference to the table.
func (s *Snapshot) Release() { s.v = nil }

// bodyWriter writes records in chunks.
type bodyWriter struct {
	w   io.Writer
	e   encoder
	rec encoder
	err error
}

func (b *bodyWriter) flush() {
	if b.err == nil && len(b.e.b) > 0 {
		_, b.err = b.w.Write(b.e.b)
	}
	b.e.b = b.e.b[:0]
}

func (b *bodyWriter) section(tag byte, count int) {
	b.e.byte(tag)
	b.e.uint(uint64(count))
}

// record appends the record encoded by fn.
func (b *bodyWriter) record(fn func(e *encoder)) {
	b.rec.b = b.rec.b[:0]
	fn(&b.rec)
	b.e.raw(b.rec.b)
	if len(b.e.b) >= 32<<10 {
		b.flush()
	}
}

const metaVersion = 1

func writeBody(w io.Writer, s *state) error {
	b := &bodyWriter{w: w, e: encoder{b: make([]byte, 0, 40<<10)}}
	b.section(secMeta, 1)
	b.record(func(e *encoder) {
		e.byte(metaVersion)
		e.int(s.clock)
		e.uint(s.nextPID)
		e.uint(s.nextSigID)
		e.str(string(s.sched.Strategy))
		e.uint(s.sched.ModifyIndex)
	})
	b.section(secProcesses, s.procs.Len())
	s.procs.Ascend(func(it pidItem) bool {
		b.record(func(e *encoder) { e.process(it.p) })
		return b.err == nil
	})
	b.section(secNodes, s.nodes.Len())
	s.nodes.Ascend(func(it nodeItem) bool {
		b.record(func(e *encoder) { e.node(it.n) })
		return b.err == nil
	})
	b.section(secObjects, s.objects.Len())
	s.objects.Ascend(func(it objItem) bool {
		b.record(func(e *encoder) { e.object(it.o) })
		return b.err == nil
	})
	b.section(secSignals, s.signals.Len())
	s.signals.Ascend(func(it sigItem) bool {
		b.record(func(e *encoder) { e.signal(it.r) })
		return b.err == nil
	})
	b.section(secOutcomes, s.outcomes.Len())
	s.outcomes.Ascend(func(it outcomeItem) bool {
		b.record(func(e *encoder) {
			e.byte(1)
			e.uint(it.id)
			e.int(it.at)
			e.result(it.r)
		})
		return b.err == nil
	})
	b.section(secSessions, s.sessions.Len())
	s.sessions.Ascend(func(it sessItem) bool {
		b.record(func(e *encoder) { e.session(it.s) })
		return b.err == nil
	})
	b.section(secResponses, s.responses.Len())
	s.responses.Ascend(func(it respItem) bool {
		b.record(func(e *encoder) {
			e.byte(1)
			e.uint(it.sid)
			e.uint(it.rid)
			e.result(it.r)
		})
		return b.err == nil
	})
	if s.tokens.Len() > 0 {
		b.section(secTokens, s.tokens.Len())
		s.tokens.Ascend(func(it tokenItem) bool {
			b.record(func(e *encoder) { e.token(it.t) })
			return b.err == nil
		})
	}
	if s.programs.Len() > 0 {
		b.section(secPrograms, s.programs.Len())
		s.programs.Ascend(func(it progItem) bool {
			b.record(func(e *encoder) { e.program(it.p) })
			return b.err == nil
		})
	}
	b.e.byte(secEnd)
	b.flush()
	return b.err
}

// Restore replaces the whole table with the snapshot read from r. Nothing
// of the earlier state survives except the PID counter, which becomes the
// larger of the two, so that no PID is handed out twice (Guarantee 1). On
// an error the table is left as it was. Restore does not close r.
func (f *FSM) Restore(r io.Reader) error {
	st, err := readSnapshot(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st.nextPID = max(st.nextPID, f.st.nextPID)
	f.st = st
	f.view = nil
	f.applied.Store(st.index)
	return nil
}

// snapReader reads the body and hashes every byte it consumes.
type snapReader struct {
	r   *bufio.Reader
	h   hash.Hash
	buf []byte
}

// ReadByte reads and hashes one byte, for binary.ReadUvarint.
func (r *snapReader) ReadByte() (byte, error) {
	c, err := r.r.ReadByte()
	if err == nil {
		r.h.Write([]byte{c})
	}
	return c, err
}

func (r *snapReader) uvarint() (uint64, error) {
	v, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, badSnapshot("%v", noEOF(err))
	}
	return v, nil
}

// record reads one length-prefixed record; the slice is valid until the
// next call.
func (r *snapReader) record() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > maxRecord {
		return nil, badSnapshot("record of %d bytes", n)
	}
	if uint64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		return nil, badSnapshot("%v", noEOF(err))
	}
	r.h.Write(r.buf)
	return r.buf, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func badSnapshot(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
}

func readSnapshot(in io.Reader) (*state, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	hdr := make([]byte, len(snapshotMagic)+1)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, badSnapshot("header: %v", noEOF(err))
	}
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return nil, badSnapshot("not a vproc table snapshot")
	}
	if hdr[len(snapshotMagic)] != snapshotFormat {
		return nil, badSnapshot("format %d", hdr[len(snapshotMagic)])
	}
	index, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, badSnapshot("index: %v", noEOF(err))
	}
	r := &snapReader{r: br, h: sha256.New()}
	st := newState()
	st.index = index
	st.reapsFrom = index     // no reap at or before the snapshot is known
	st.modified.from = index // nor any change
	last := secEnd
	for {
		tag, err := r.ReadByte()
		if err != nil {
			return nil, badSnapshot("section: %v", noEOF(err))
		}
		if tag == secEnd {
			break
		}
		if tag <= last || tag > secLast {
			return nil, badSnapshot("section %d after %d", tag, last)
		}
		last = tag
		count, err := r.uvarint()
		if err != nil {
			return nil, err
		}
		for i := uint64(0); i < count; i++ {
			rec, err := r.record()
			if err != nil {
				return nil, err
			}
			if err := st.load(tag, rec); err != nil {
				return nil, err
			}
		}
	}
	if last < secMeta {
		return nil, badSnapshot("no meta section")
	}
	sum := r.h.Sum(nil)
	trailer := make([]byte, len(sum))
	if _, err := io.ReadFull(br, trailer); err != nil {
		return nil, badSnapshot("trailer: %v", noEOF(err))
	}
	if !bytes.Equal(sum, trailer) {
		return nil, badSnapshot("checksum mismatch")
	}
	if err := st.check(); err != nil {
		return nil, err
	}
	return st, nil
}

// load decodes one record of section tag into st and indexes it.
func (s *state) load(tag byte, rec []byte) error {
	d := decoder{b: rec}
	dup := false
	switch tag {
	case secPrograms:
		p := &Program{}
		d.program(p)
		if d.err != nil {
			break
		}
		if err := validProgram(p.Name, p.Hash); err != nil {
			return badSnapshot("program: %v", err)
		}
		_, dup = s.programs.ReplaceOrInsert(progItem{name: p.Name, p: p})
	case secMeta:
		d.version(metaVersion, "meta")
		s.clock = d.int()
		s.nextPID = d.uint()
		s.nextSigID = d.uint()
		s.sched.Strategy = d.strategy()
		s.sched.ModifyIndex = d.uint()
	case secProcesses:
		p := &Process{}
		d.process(p)
		if d.err != nil {
			break
		}
		if p.PID == 0 {
			return badSnapshot("process with PID 0")
		}
		if !p.State.Live() {
			// Compacted as the exit compacted it on the replicas that
			// applied it, should the snapshot be older than compaction.
			p.Spec = compactSpec(p.Spec)
		}
		_, dup = s.procs.ReplaceOrInsert(pidItem{pid: p.PID, p: p})
		if p.Parent != 0 {
			s.children.ReplaceOrInsert(pairKey{p.Parent, p.PID})
		}
		s.groups.ReplaceOrInsert(pairKey{p.Pgid, p.PID})
		s.indexOnNode(nil, p)
		s.indexModified(nil, p)
		s.indexOwner(nil, p)
		if p.State == StatePending {
			s.queue.ReplaceOrInsert(queueKeyOf(p))
		}
	case secNodes:
		n := &Node{}
		d.node(n)
		_, dup = s.nodes.ReplaceOrInsert(nodeItem{id: n.ID, n: n})
	case secObjects:
		o := &Object{}
		d.object(o)
		_, dup = s.objects.ReplaceOrInsert(objItem{kind: o.Kind, name: o.Name, o: o})
	case secSignals:
		sr := &SignalRequest{}
		d.signal(sr)
		_, dup = s.signals.ReplaceOrInsert(sigItem{pid: sr.PID, id: sr.ID, r: sr})
		if !dup {
			s.sigIndexes.ReplaceOrInsert(sigIndexKey{sr.Index, sr.PID, sr.ID})
		}
	case secOutcomes:
		d.version(1, "outcome")
		it := outcomeItem{id: d.uint(), at: d.int(), r: &Result{}}
		d.result(it.r)
		_, dup = s.outcomes.ReplaceOrInsert(it)
		s.outcomeTimes.ReplaceOrInsert(timeKey{at: it.at, id: it.id})
	case secSessions:
		sess := &Session{}
		d.session(sess)
		_, dup = s.sessions.ReplaceOrInsert(sessItem{id: sess.ID, s: sess})
		s.sessionTimes.ReplaceOrInsert(timeKey{at: sess.LastActive, id: sess.ID})
	case secResponses:
		d.version(1, "response")
		it := respItem{sid: d.uint(), rid: d.uint(), r: &Result{}}
		d.result(it.r)
		_, dup = s.responses.ReplaceOrInsert(it)
	case secTokens:
		t := &ACLToken{}
		d.token(t)
		_, dup = s.tokens.ReplaceOrInsert(tokenItem{accessor: t.Accessor, t: t})
		if !dup {
			_, dup = s.secrets.ReplaceOrInsert(secretItem{hash: t.SecretHash, accessor: t.Accessor})
		}
	}
	if err := d.end(); err != nil {
		return badSnapshot("section %d: %v", tag, err)
	}
	if dup {
		return badSnapshot("section %d: duplicate key", tag)
	}
	return nil
}

// check verifies what the records must agree on.
func (s *state) check() error {
	if s.proc(InitPID) == nil {
		return badSnapshot("no init process")
	}
	var err error
	s.procs.Ascend(func(it pidItem) bool {
		p := it.p
		switch {
		case p.PID >= s.nextPID:
			err = badSnapshot("pid %d not below the counter %d", p.PID, s.nextPID)
		case p.PID != InitPID && s.proc(p.Parent) == nil:
			err = badSnapshot("pid %d has no parent %d", p.PID, p.Parent)
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	total := 0
	s.sessions.Ascend(func(it sessItem) bool {
		total += it.s.Cached
		n := 0
		s.responses.AscendGreaterOrEqual(respItem{sid: it.id}, func(r respItem) bool {
			if r.sid != it.id {
				return false
			}
			n++
			return true
		})
		if n != it.s.Cached {
			err = badSnapshot("session %d caches %d responses, says %d", it.id, n, it.s.Cached)
		}
		return err == nil
	})
	if err == nil && total != s.responses.Len() {
		err = badSnapshot("%d cached responses, sessions say %d", s.responses.Len(), total)
	}
	return err
}
