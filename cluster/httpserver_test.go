package cluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// dialFrom opens a TCP connection to addr from the loopback address src
// (Linux answers for all of 127.0.0.0/8), so that a test can play a
// client other than the cluster's members.
func dialFrom(src, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// httpFrom returns an HTTP client whose connections come from src.
func httpFrom(src string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
				return d.DialContext(ctx, "tcp", addr)
			},
			DisableKeepAlives: true,
		},
	}
}

func TestConnLimiterUnit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	exempt := func(ip string) bool { return ip == "127.0.0.9" }
	l := newConnLimiter(ln, 2, exempt, agentTestLogger(t, "limiter")).(*connLimiter)
	defer l.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	dial := func(src string) net.Conn {
		c, err := dialFrom(src, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		return c
	}
	var held []net.Conn
	for i := 0; i < 2; i++ {
		dial("127.0.0.2")
		held = append(held, <-accepted)
	}
	// The third from the same address is answered 429 naming the cap.
	over := dial("127.0.0.2")
	_ = over.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil {
		t.Fatalf("connection over the cap: got %v, want a 429 answer", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "limit is 2") {
		t.Fatalf("connection over the cap: got %d %s, want 429 naming the limit 2", resp.StatusCode, b)
	}
	// Another address and an exempt one are not limited.
	dial("127.0.0.3")
	<-accepted
	for i := 0; i < 3; i++ {
		dial("127.0.0.9")
		<-accepted
	}
	// Closing a held connection frees its slot, once, however often it
	// is closed.
	held[0].Close()
	held[0].Close()
	dial("127.0.0.2")
	c := <-accepted
	l.mu.Lock()
	n := l.conns["127.0.0.2"]
	l.mu.Unlock()
	if n != 2 {
		t.Fatalf("open connections of 127.0.0.2: got %d, want 2", n)
	}
	c.Close()
	held[1].Close()
}

func TestLongRequests(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		read, write    bool
	}{
		{"GET", "/v1/health", false, false},
		{"POST", "/v1/spawn", false, false},
		{"GET", "/v1/procs", false, false},
		{"GET", "/v1/procs?index=5", false, true},
		{"GET", "/v1/procs/7/wait", false, true},
		{"GET", "/v1/procs/7/logs?follow=1", false, true},
		{"POST", "/v1/procs/7/stdin", true, true},
		{"GET", "/v1/snapshot", false, true},
		{"PUT", "/v1/snapshot", true, true},
		{"GET", "/v1/internal/ipc/stream", true, true},
		{"POST", "/v1/mq/recv", false, true},
	} {
		r, _ := http.NewRequest(tc.method, "http://x"+tc.target, nil)
		if read, write := longRequest(r); read != tc.read || write != tc.write {
			t.Errorf("%s %s: got read %v write %v, want %v %v", tc.method, tc.target, read, write, tc.read, tc.write)
		}
	}
}

// TestNoClientExhaustsTheAgent: a client holding more connections than its
// cap, and others dripping headers, leave the agent answering health
// within 100 ms; the slow ones are cut by the timeouts; a FIFO stream
// between nodes outlives every timeout.
func TestNoClientExhaustsTheAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("a multi-node test; skipped with -short")
	}
	const capPerClient = 20
	short := func(_ int, c *Config) {
		c.HTTPReadHeaderTimeout = 300 * time.Millisecond
		c.HTTPReadTimeout = 500 * time.Millisecond
		c.HTTPWriteTimeout = 500 * time.Millisecond
		c.HTTPIdleTimeout = 500 * time.Millisecond
		c.HTTPMaxConnsPerClient = capPerClient
	}
	c := MakeCluster(t, 3, short)
	a := c.leader()
	addr := a.HTTPAddr()
	cls := ipcClients(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := []string{c.agents[0].Name(), c.agents[1].Name(), c.agents[2].Name()}

	// A FIFO held by node 2, opened for reading on node 1: its stream
	// crosses nodes and stays idle longer than every timeout.
	if err := cls[0].FIFOCreate(ctx, api.FIFOCreateRequest{Path: "/slow", Node: n[2]}); err != nil {
		t.Fatal(err)
	}
	rd, err := cls[0].Spawn(ctx, api.SpawnRequest{Command: "fifo-read", Args: []string{"/slow"}, Node: n[1]})
	if err != nil {
		t.Fatal(err)
	}

	// One client takes its cap and more; every connection over the cap is
	// refused at once.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	refused := 0
	for i := 0; i < capPerClient+30; i++ {
		cn, err := dialFrom("127.0.0.2", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cn)
		// Headers dripped: a request line only.
		fmt.Fprintf(cn, "GET /v1/health HTTP/1.1\r\n")
	}
	for _, cn := range conns[capPerClient:] {
		_ = cn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(cn), nil)
		if err == nil && resp.StatusCode == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused != 30 {
		t.Fatalf("connections over the cap of %d: %d of 30 refused with 429", capPerClient, refused)
	}

	// Health still answers within 100 ms, from a member's address and from
	// another client's.
	for _, src := range []string{"127.0.0.1", "127.0.0.3"} {
		hc := httpFrom(src)
		worst := time.Duration(0)
		for i := 0; i < 5; i++ {
			start := time.Now()
			resp, err := hc.Get("http://" + addr + "/v1/health")
			if err != nil {
				t.Fatalf("health from %s while 127.0.0.2 holds its cap: %v", src, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			worst = max(worst, time.Since(start))
		}
		if worst > 100*time.Millisecond {
			t.Errorf("health from %s while 127.0.0.2 holds its cap: worst of 5 took %v, want ≤ 100 ms", src, worst)
		}
		hc.CloseIdleConnections()
	}

	// The dripping connections are cut by the read-header timeout: each
	// held one reads EOF (or a 408) within a generous deadline.
	for i, cn := range conns[:capPerClient] {
		_ = cn.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, err := io.ReadAll(cn)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("held connection %d: still open 20 s after its headers began (read %q)", i, b)
		}
	}
	// With them gone, the client's cap is free again.
	poll(t, 10*time.Second, func() error {
		resp, err := httpFrom("127.0.0.2").Get("http://" + addr + "/v1/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health from 127.0.0.2: %s", resp.Status)
		}
		return nil
	})

	// Idle past every timeout (the longest is 500 ms), then the FIFO
	// stream still carries data from node 0 to the reader on node 1.
	time.Sleep(2 * time.Second)
	if out, code := runOn(t, ctx, cls[0], n[0], "fifo-write", "/slow", "still", "here"); code != 0 {
		t.Fatalf("fifo-write after the timeouts: exit %d, %q", code, out)
	}
	p, err := cls[0].Wait(ctx, rd.PID)
	if err != nil || p.ExitCode == nil || *p.ExitCode != 0 {
		t.Fatalf("fifo-read across nodes after the timeouts: %+v, %v; want exit 0", p, err)
	}
	rc, err := cls[0].Logs(ctx, rd.PID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(b), "still here") {
		t.Fatalf("fifo-read read %q, want \"still here\"", b)
	}
}
