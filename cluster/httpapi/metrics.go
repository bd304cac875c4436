package httpapi

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// Metrics is what the API needs of the agent's metrics (package
// telemetry): the GET /v1/metrics handler, and a record of each request.
type Metrics interface {
	http.Handler
	// ObserveRequest records a request by the pattern of the route that
	// served it (unmatched for none), its method, status and duration.
	ObserveRequest(route, method string, code int, d time.Duration)
}

// unmatchedRoute labels a request that no route of the API serves.
const unmatchedRoute = "unmatched"

// instrument records every request served by next in s.metrics, labelled
// with the pattern mux routes it to, so that the labels stay bounded
// whatever the paths asked for.
func (s *Server) instrument(mux *http.ServeMux, next http.Handler) http.Handler {
	if s.metrics == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, route := mux.Handler(r)
		if route == "" || route == "/" {
			route = unmatchedRoute
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			s.metrics.ObserveRequest(route, r.Method, sw.status(), time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status of an answer. It passes flushes and
// hijacks (the IPC streams) through.
type statusWriter struct {
	http.ResponseWriter
	code     int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the answer's status: 101 for a hijacked connection (an
// upgraded stream), 200 for one that wrote nothing.
func (w *statusWriter) status() int {
	switch {
	case w.code != 0:
		return w.code
	case w.hijacked:
		return http.StatusSwitchingProtocols
	}
	return http.StatusOK
}
