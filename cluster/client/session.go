package client

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/vproc/vproc/cluster/api"
)

// session is a client session of the cluster (Guarantee 9): request ids
// that increase, and the set of those still outstanding, whose lowest
// member is the acknowledged floor sent with every write.
type session struct {
	id uint64 // read-only

	mu          sync.Mutex
	next        uint64              // guarded by mu; the next request id, from 1
	outstanding map[uint64]struct{} // guarded by mu; ids sent and not yet answered
	// low is guarded by mu: no id below it is outstanding. floor moves it
	// up, past each id at most once.
	low uint64
}

func newSession(id uint64) *session {
	return &session{id: id, next: 1, low: 1, outstanding: make(map[uint64]struct{})}
}

// begin returns a new request id and marks it outstanding.
func (s *session) begin() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	rid := s.next
	s.next++
	s.outstanding[rid] = struct{}{}
	return rid
}

// end marks request rid answered, or given up on.
func (s *session) end(rid uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.outstanding, rid)
}

// floor returns the lowest request id still outstanding (every id below it
// has been answered), or the next id when none is.
func (s *session) floor() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.low < s.next {
		if _, ok := s.outstanding[s.low]; ok {
			break
		}
		s.low++
	}
	return s.low
}

// session returns the client's session, registering one if there is none.
func (c *Client) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	select {
	case c.reg <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.reg }()
	c.mu.Lock()
	s = c.sess
	c.mu.Unlock()
	if s != nil {
		return s, nil // registered while this call waited
	}
	// Registering is safe to retry: a session registered by an attempt
	// whose answer was lost is never used and expires.
	var out api.Session
	if err := c.read(ctx, &request{method: http.MethodPost, path: "/v1/session", out: &out}); err != nil {
		return nil, err
	}
	if out.ID == 0 {
		return nil, &decodeError{errors.New("session id 0")}
	}
	s = newSession(out.ID)
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return s, nil
}

// forget drops session s, if it is still the client's, so that the next
// write registers a new one.
func (c *Client) forget(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == s {
		c.sess = nil
	}
}
