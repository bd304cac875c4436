package fsm

// Client sessions (Guarantee 9). A session remembers the results of its
// recent requests, so that a retry of a request whose outcome the client
// could not see returns the first answer instead of applying twice.
//
// Time is the state machine's clock: the highest leader time seen in any
// command. A session whose last activity is older than SessionTTL is gone;
// sweeps happen on every RegisterSession, SessionRequest and Tick, so
// expiry depends only on the log.

func (a *applier) putSession(old *Session, s *Session) {
	if old != nil && old.LastActive != s.LastActive {
		a.s.sessionTimes.Delete(timeKey{at: old.LastActive, id: old.ID})
	}
	if old == nil || old.LastActive != s.LastActive {
		a.s.sessionTimes.ReplaceOrInsert(timeKey{at: s.LastActive, id: s.ID})
	}
	a.s.sessions.ReplaceOrInsert(sessItem{id: s.ID, s: s})
}

// sessionSeqBits is the room for sessions registered in one entry. A
// session id is the registering entry's log index shifted left by it, plus
// a sequence number, so that ids are never reissued, even after an operator
// restores an old snapshot (the log index only grows).
const sessionSeqBits = 16

func (a *applier) registerSession(c *RegisterSession) *Result {
	a.advance(c.Now)
	a.sweepSessions()
	for a.s.sessions.Len() >= a.cfg.MaxSessions {
		// Drop the least recently active session: its client will get
		// ErrSessionExpired, never a second apply.
		k, _ := a.s.sessionTimes.Min()
		a.dropSession(k.id)
	}
	if a.sessionSeq >= 1<<sessionSeqBits {
		return failf(ErrInvalid, "too many sessions registered in one entry")
	}
	s := &Session{ID: a.index<<sessionSeqBits | a.sessionSeq, CreatedAt: a.s.clock, LastActive: a.s.clock}
	a.sessionSeq++
	a.putSession(nil, s)
	return &Result{SessionID: s.ID}
}

// sweepSessions drops every session idle for longer than SessionTTL.
func (a *applier) sweepSessions() {
	cutoff := a.s.clock - int64(a.cfg.SessionTTL)
	var old []uint64
	a.s.sessionTimes.Ascend(func(k timeKey) bool {
		if k.at >= cutoff {
			return false
		}
		old = append(old, k.id)
		return true
	})
	for _, id := range old {
		a.dropSession(id)
	}
}

func (a *applier) dropSession(id uint64) {
	s := a.s.session(id)
	if s == nil {
		return
	}
	a.s.sessions.Delete(sessItem{id: id})
	a.s.sessionTimes.Delete(timeKey{at: s.LastActive, id: id})
	a.dropResponses(id, ^uint64(0))
}

// dropResponses removes the cached responses of session sid with request
// ids below limit, and returns how many it removed.
func (a *applier) dropResponses(sid, limit uint64) int {
	var rids []uint64
	a.s.responses.AscendGreaterOrEqual(respItem{sid: sid}, func(it respItem) bool {
		if it.sid != sid || it.rid >= limit {
			return false
		}
		rids = append(rids, it.rid)
		return true
	})
	for _, rid := range rids {
		a.s.responses.Delete(respItem{sid: sid, rid: rid})
	}
	return len(rids)
}

// sessionRequest applies a command inside a session:
//  1. an unknown or expired session: ErrSessionExpired, not applied;
//  2. a cached request id: the cached result, not applied again;
//  3. answers below AckedBelow are dropped and the floor rises to it;
//  4. a request id below the floor: ErrRequestTooOld, not applied;
//  5. otherwise the command is applied and its result cached; past
//     MaxCachedResponses the lowest request id is dropped and the floor
//     rises past it.
//
// Any request that reaches the session counts as activity.
func (a *applier) sessionRequest(c *SessionRequest) *Result {
	a.advance(c.Now)
	a.sweepSessions()
	old := a.s.session(c.SessionID)
	if old == nil {
		return a.stamp(failf(ErrSessionExpired, "session %d", c.SessionID))
	}
	if c.RequestID == 0 || c.AckedBelow > c.RequestID {
		return a.stamp(failf(ErrInvalid, "request id %d acked below %d", c.RequestID, c.AckedBelow))
	}
	s := *old
	s.LastActive = a.s.clock
	if it, ok := a.s.responses.Get(respItem{sid: s.ID, rid: c.RequestID}); ok {
		a.putSession(old, &s)
		return it.r
	}
	if c.AckedBelow > s.Floor {
		s.Cached -= a.dropResponses(s.ID, c.AckedBelow)
		s.Floor = c.AckedBelow
	}
	if c.RequestID < s.Floor {
		a.putSession(old, &s)
		return a.stamp(failf(ErrRequestTooOld, "request %d is below %d", c.RequestID, s.Floor))
	}
	r := a.apply(c.Command)
	a.s.responses.ReplaceOrInsert(respItem{sid: s.ID, rid: c.RequestID, r: r})
	s.Cached++
	for s.Cached > a.cfg.MaxCachedResponses {
		var lowest uint64
		a.s.responses.AscendGreaterOrEqual(respItem{sid: s.ID}, func(it respItem) bool {
			lowest = it.rid
			return false
		})
		a.s.responses.Delete(respItem{sid: s.ID, rid: lowest})
		s.Cached--
		s.Floor = lowest + 1
	}
	a.putSession(old, &s)
	return r
}

func (a *applier) stamp(r *Result) *Result {
	r.Index = a.index
	return r
}
