package cluster

import (
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The HTTP server's defences against a client that would exhaust the agent
// (as Consul's http_max_conns_per_client and its read and idle timeouts):
//
//   - ReadHeaderTimeout bounds a request's headers, ReadTimeout the whole
//     request with its body, WriteTimeout the answer, IdleTimeout a
//     keep-alive connection between requests;
//   - a client address holds at most MaxConnsPerClient connections at once;
//     the next one is answered 429 and closed at once. Cluster members are
//     exempt: the servers' forwarding, lease renewals and IPC streams must
//     never be refused.
//
// Requests that are long by design (blocking queries, waits, followed logs,
// the event stream, standard input, snapshots, IPC streams and
// message-queue calls that wait) lift the deadlines that concern them (longRequest): they end when their
// own server-side bound passes or when the client goes away, and an
// accepted connection carries TCP keep-alives, so a vanished client is
// noticed. An upgraded IPC stream clears its deadlines after Hijack.

// Default HTTP limits (Config.HTTP*).
const (
	DefaultHTTPReadHeaderTimeout = 10 * time.Second
	DefaultHTTPReadTimeout       = 30 * time.Second
	DefaultHTTPWriteTimeout      = 90 * time.Second
	DefaultHTTPIdleTimeout       = 90 * time.Second
	DefaultHTTPMaxConnsPerClient = 200
)

// newHTTPServer returns the agent's HTTP server over h with cfg's limits.
func newHTTPServer(cfg *Config, h http.Handler, errLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           liftDeadlines(h),
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		ErrorLog:          errLog,
	}
}

// liftDeadlines clears the server's read and write deadlines for the
// requests that are long by design. It must wrap the handler directly, so
// that the ResponseWriter is the server's own.
func liftDeadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if read, write := longRequest(r); read || write {
			rc := http.NewResponseController(w)
			if read {
				_ = rc.SetReadDeadline(time.Time{})
			}
			if write {
				_ = rc.SetWriteDeadline(time.Time{})
			}
		}
		next.ServeHTTP(w, r)
	})
}

// longRequest reports whether r may take longer than the server's timeouts
// by design: read when its body streams (standard input, a snapshot upload,
// an IPC stream), write when its answer waits or streams.
func longRequest(r *http.Request) (read, write bool) {
	p := r.URL.Path
	q := r.URL.Query()
	switch {
	case p == "/v1/internal/ipc/stream":
		return true, true
	case strings.HasSuffix(p, "/stdin") && strings.HasPrefix(p, "/v1/procs/"):
		return true, true
	case p == "/v1/snapshot":
		return r.Method == http.MethodPut, true
	case strings.HasSuffix(p, "/wait") && strings.HasPrefix(p, "/v1/procs/"):
		return false, true
	case strings.HasSuffix(p, "/logs") && strings.HasPrefix(p, "/v1/procs/"):
		return false, true
	case p == "/v1/mq/recv" || p == "/v1/mq/send", p == "/v1/events":
		return false, true
	case q.Has("index") || q.Has("wait"):
		return false, true
	}
	return false, false
}

// connLimiter wraps a listener so that no client address holds more than
// max connections at once. exempt reports the addresses of cluster members,
// which are never limited. A connection over the cap is answered with 429
// and closed without reaching the HTTP server.
type connLimiter struct {
	net.Listener
	max    int
	exempt func(ip string) bool
	log    *slog.Logger

	mu    sync.Mutex     // guards conns and refused
	conns map[string]int // open connections by client IP
	// refused counts connections refused since the last warning, which
	// is logged at most once a minute.
	refused  int
	lastWarn time.Time
}

// newConnLimiter limits ln to max connections per client IP; max ≤ 0
// means no limit (ln itself is returned).
func newConnLimiter(ln net.Listener, max int, exempt func(ip string) bool, log *slog.Logger) net.Listener {
	if max <= 0 {
		return ln
	}
	return &connLimiter{Listener: ln, max: max, exempt: exempt, log: log, conns: make(map[string]int)}
}

// Accept returns the next connection within its client's cap.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if l.exempt != nil && l.exempt(ip) {
			return c, nil
		}
		l.mu.Lock()
		if l.conns[ip] >= l.max {
			l.refused++
			warn := time.Since(l.lastWarn) >= time.Minute
			n := l.refused
			if warn {
				l.lastWarn, l.refused = time.Now(), 0
			}
			l.mu.Unlock()
			if warn {
				l.log.Warn("http connections refused: client over its connection cap",
					"client", ip, "max_conns_per_client", l.max, "refused", n)
			}
			refuseConn(c, l.max)
			continue
		}
		l.conns[ip]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *connLimiter) release(ip string) {
	l.mu.Lock()
	if l.conns[ip]--; l.conns[ip] <= 0 {
		delete(l.conns, ip)
	}
	l.mu.Unlock()
}

// refuseConn answers a connection over the cap with 429 naming the limit
// and closes it. The write goes to a fresh socket's empty send buffer; its
// deadline only guards against the impossible.
func refuseConn(c net.Conn, max int) {
	body := fmt.Sprintf(`{"code":"too_many_connections","message":"too many connections from this client address: the limit is %d (--http-max-conns-per-client)"}`+"\n", max)
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s",
		strconv.Itoa(len(body)), body)
	_ = c.Close()
}

// remoteIP is the IP of c's remote end, or its whole address when it has
// no port.
func remoteIP(c net.Conn) string {
	a := c.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// limitedConn gives its slot back when it is closed, once.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	ip   string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

// memberIP reports whether ip is the address of a cluster member, as
// gossip knows it (its gossip or its advertised HTTP address).
func (a *Agent) memberIP(ip string) bool {
	if a.gossip == nil {
		return false
	}
	for _, m := range a.gossip.Members() {
		if h, _, err := net.SplitHostPort(m.Addr); err == nil && h == ip {
			return true
		}
		if m.MetaOK {
			if h, _, err := net.SplitHostPort(m.Meta.HTTPAddr); err == nil && h == ip {
				return true
			}
		}
	}
	return false
}
