// Package ui is vproc's web console: plain HTML, CSS and JavaScript
// embedded in the binary (no build step, nothing fetched from elsewhere),
// served by the agent at /ui/.
//
// The console is a client of the HTTP API like the CLI: the page reads
// GET /v1/health, /v1/nodes, /v1/procs (a blocking query), follows
// /v1/procs/{pid}/logs and /v1/events, and writes with POST /v1/spawn and
// POST /v1/kill. With ACLs on, the token typed into the page is kept in
// the browser's sessionStorage and sent in the X-Vproc-Token header of
// every API call; the console's own files are public, the data is not.
//
// Handler serves the files under Prefix, each with a strong ETag (the
// hash of its bytes) and a Content-Security-Policy that lets the page load
// and call nothing but its own origin. Redirect sends a browser that asks
// for / to the console and passes every other request through.
package ui
