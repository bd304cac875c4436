package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// DefaultAddr is the agent's address when neither Config.Addr nor the
// VPROC_ADDR environment variable gives one.
const DefaultAddr = "http://127.0.0.1:7070"

// EnvAddr is the environment variable that DefaultConfig reads the agent's
// address from.
const EnvAddr = "VPROC_ADDR"

// EnvToken is the environment variable that DefaultConfig reads the ACL
// token's secret from.
const EnvToken = "VPROC_TOKEN"

// Config configures a Client.
type Config struct {
	// Token is the secret of the ACL token every request presents
	// (api.HeaderToken); empty presents none.
	Token string
	// Addr is the base URL of any agent of the cluster, such as
	// "http://127.0.0.1:7070". A bare "host:port" means http. The agent
	// forwards what only the leader can answer.
	Addr string
	// HTTPClient sends the requests. Nil means a client whose transport
	// keeps enough idle connections for many concurrent requests to one
	// agent. Its own Timeout, if any, must leave room for blocking queries
	// and streams.
	HTTPClient *http.Client
	// TLS, if set and HTTPClient is nil, is the TLS configuration of the
	// default client's transport: the cluster's CA and a client
	// certificate, for an https agent address.
	TLS *tls.Config
	// Timeout bounds each attempt of an ordinary request. A blocking query
	// gets its wait on top of it; streams (logs, stdin, snapshots) are
	// bounded by their context only. An attempt that times out has an
	// unknown outcome and is retried.
	Timeout time.Duration
	// Retry bounds the retries of one call.
	Retry Retry
	// MaxSpawnBatch is the most concurrent Spawn calls merged into one
	// request (POST /v1/spawn/batch); each spawn keeps its own request id,
	// PID and error. 0 means DefaultMaxSpawnBatch; 1 sends every spawn
	// as a request of its own.
	MaxSpawnBatch int
}

// DefaultMaxSpawnBatch is Config.MaxSpawnBatch when it is 0.
const DefaultMaxSpawnBatch = 256

// Retry says how often and how fast a call is retried.
type Retry struct {
	// Max is the number of retries after the first attempt; 0 means none.
	Max int
	// Backoff is the pause before the first retry. It doubles at every
	// retry, up to MaxBackoff, with up to 25% random jitter.
	Backoff time.Duration
	// MaxBackoff caps the pause between two attempts.
	MaxBackoff time.Duration
}

// Defaults of Config. With them a call rides out about ten seconds without a
// leader: longer than an ordinary election.
const (
	DefaultTimeout    = 15 * time.Second
	DefaultRetries    = 12
	DefaultBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff = time.Second
)

// DefaultConfig returns the configuration a Client uses unless told
// otherwise. Addr comes from VPROC_ADDR, or is DefaultAddr; Token from
// VPROC_TOKEN.
func DefaultConfig() Config {
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		addr = DefaultAddr
	}
	return Config{
		Token:   os.Getenv(EnvToken),
		Addr:    addr,
		Timeout: DefaultTimeout,
		Retry: Retry{
			Max:        DefaultRetries,
			Backoff:    DefaultBackoff,
			MaxBackoff: DefaultMaxBackoff,
		},
	}
}

// Validate reports whether the configuration can be used.
func (c Config) Validate() error {
	if _, err := parseAddr(c.Addr); err != nil {
		return err
	}
	switch {
	case strings.ContainsAny(c.Token, "\r\n"):
		return errors.New("client: the ACL token holds a line break")
	case c.Timeout <= 0:
		return fmt.Errorf("client: timeout %v must be positive", c.Timeout)
	case c.Retry.Max < 0:
		return fmt.Errorf("client: retry max %d is negative", c.Retry.Max)
	case c.Retry.Backoff < 0:
		return fmt.Errorf("client: retry backoff %v is negative", c.Retry.Backoff)
	case c.MaxSpawnBatch < 0 || c.MaxSpawnBatch > api.MaxSpawnBatch:
		return fmt.Errorf("client: max spawn batch %d is outside 0..%d", c.MaxSpawnBatch, api.MaxSpawnBatch)
	case c.Retry.MaxBackoff < c.Retry.Backoff:
		return fmt.Errorf("client: retry max backoff %v is below the backoff %v", c.Retry.MaxBackoff, c.Retry.Backoff)
	}
	return nil
}

// parseAddr turns an agent address into a base URL.
func parseAddr(addr string) (*url.URL, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, errors.New("client: empty agent address")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("client: bad agent address %q: %w", addr, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: bad agent address %q: scheme must be http or https", addr)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: bad agent address %q: no host", addr)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: bad agent address %q: no query or fragment allowed", addr)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}
