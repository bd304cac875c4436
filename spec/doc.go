// Package spec is the grammar of a spawn: the text forms that `vproc spawn`
// and `vproc run` take in their flags, that the HTTP API carries in a
// SpawnRequest, and that `ps` shows back.
//
// It parses and formats
//
//   - limits:      cpu=2s[:5s],wall=1m,nofile=64,nproc=16,mem=64M,fsize=1M
//   - restarts:    never | on-failure[:max[:backoff]] | always[:max[:backoff]]
//   - constraints: label=value
//   - uses:        mq:/q,fifo:/run/f,shm:/s
//   - sizes:       64M, 1G, 512K, 100 (powers of 1024)
//   - durations:   Go durations (500ms, 2s, 1m, 1h30m)
//   - signals:     TERM, SIGTERM, 15 (ipc.ParseSignal's forms)
//
// into typed values (Limits, Restart, Constraint, Use), and formats each of
// them back in one canonical form. For every value v that a parser returns,
// parsing the formatted v gives v again, and formatting a parsed string gives
// the canonical form of that string. The command line, the Go client, the
// server, the replicated table (package fsm) and the scheduler (package
// sched) all use these functions and types, so they cannot disagree on what
// a spawn asked for.
//
// Names of resources, policies and kinds are case-insensitive; the canonical
// form is lower case. Blanks around items, names and values are ignored.
//
// Every syntax error is a *SyntaxError. It names the input and what is wrong
// with it in one line, and matches with errors.Is both the sentinel of its
// grammar (ErrBadLimit, ErrBadRestart, ...) and ipc.EINVAL.
//
// The package is a leaf: it imports only the standard library and ipc.
package spec
