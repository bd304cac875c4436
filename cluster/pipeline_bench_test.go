package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Benchmarks of a two-stage pipeline whose second stage runs on another
// node, beside the same pipeline on one node, in the same run:
//
//	go test -run '^$' -bench BenchmarkPipeline -count 5 ./cluster/
//
// The first stage is the driver below; the second is cat or sink, spawned
// by the driver with a pipe as its standard input (and, for the ping-pong,
// another as its standard output). The driver times itself, so spawning
// and placement are not counted.

// benchPrograms are the builtins and the drivers below.
func benchPrograms() *node.ProgramTable {
	r := unixPrograms()
	r.Register("pipebench", progPipeBench)
	r.Register("sink", progSink)
	return r
}

// progSink reads its standard input until EOF and prints how many bytes
// it read.
func progSink(s *Sys) int {
	buf := make([]byte, 64<<10)
	var total int
	for {
		n, err := s.Read(0, buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Errorf("sink: %v", err)
			return 1
		}
	}
	s.Printf("%d\n", total)
	return 0
}

// progPipeBench is "pipebench throughput|pingpong NODE N": NODE "-" runs
// the second stage here. throughput writes N blocks of 64 KiB into sink
// and waits for sink's count; pingpong sends one byte through cat and
// back N times. It prints "ns T" for the timed part.
func progPipeBench(s *Sys) int {
	a := s.Args()
	mode, where := a[0], a[1]
	if where == "-" {
		where = ""
	}
	var n int
	fmt.Sscan(a[2], &n)
	in, toChild, err := s.Pipe()
	if err != nil {
		s.Errorf("pipe: %v", err)
		return 1
	}
	fromChild, out, err := s.Pipe()
	if err != nil {
		s.Errorf("pipe: %v", err)
		return 1
	}
	cmd := "cat"
	if mode == "throughput" {
		cmd = "sink"
	}
	child, err := s.Spawn(node.SpawnAttr{Command: cmd, Node: where, Files: []int{in, out, 2}})
	if err != nil {
		s.Errorf("spawn: %v", err)
		return 1
	}
	s.Close(in)
	s.Close(out)
	start := s.Now()
	switch mode {
	case "throughput":
		block := make([]byte, 64<<10)
		for range n {
			if _, err := s.Write(toChild, block); err != nil {
				s.Errorf("write: %v", err)
				return 1
			}
		}
		s.Close(toChild)
		var got []byte
		buf := make([]byte, 64)
		for {
			m, err := s.Read(fromChild, buf)
			got = append(got, buf[:m]...)
			if err != nil {
				break
			}
		}
		if want := fmt.Sprintf("%d\n", n<<16); string(got) != want {
			s.Errorf("sink counted %q, want %q", got, want)
			return 1
		}
	case "pingpong":
		b := []byte{'x'}
		for range n {
			if _, err := s.Write(toChild, b); err != nil {
				s.Errorf("write: %v", err)
				return 1
			}
			if m, err := s.Read(fromChild, b); m != 1 || err != nil {
				s.Errorf("read: %d %v", m, err)
				return 1
			}
		}
		s.Close(toChild)
	}
	elapsed := s.Now().Sub(start)
	for {
		if _, _, err := s.Wait4(child, 0); err != ipc.EINTR {
			break
		}
	}
	s.Printf("ns %d\n", elapsed.Nanoseconds())
	return 0
}

func BenchmarkPipeline(b *testing.B) {
	c := MakeCluster(b, 2, func(i int, cfg *Config) { cfg.Programs = benchPrograms() })
	clients := benchClients(b, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	here, there := c.agents[0].Name(), c.agents[1].Name()
	run := func(b *testing.B, mode, where string) time.Duration {
		res, err := clients[0].Spawn(ctx, api.SpawnRequest{Command: "pipebench", Args: []string{mode, where, fmt.Sprint(b.N)}, Node: here})
		if err != nil {
			b.Fatal(err)
		}
		p, err := clients[0].Wait(ctx, res.PID)
		if err != nil {
			b.Fatal(err)
		}
		out, err := logOf(ctx, clients[0], res.PID)
		if err != nil || p.ExitCode == nil || *p.ExitCode != 0 {
			b.Fatalf("pipebench: %+v %v: %q", p, err, out)
		}
		var ns int64
		if _, err := fmt.Sscanf(out[strings.LastIndex(out, "ns "):], "ns %d", &ns); err != nil {
			b.Fatalf("pipebench output %q: %v", out, err)
		}
		return time.Duration(ns)
	}
	for _, mode := range []string{"throughput", "pingpong"} {
		for _, where := range []struct{ name, node string }{{"one-node", "-"}, {"two-nodes", there}} {
			b.Run(mode+"/"+where.name, func(b *testing.B) {
				d := run(b, mode, where.node)
				b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "ns/op")
				if mode == "throughput" {
					b.ReportMetric(float64(b.N)*65536/d.Seconds()/1e6, "MB/s")
				}
			})
		}
	}
}

// benchClients returns a client of each agent of c.
func benchClients(tb testing.TB, c *testCluster) []*client.Client {
	tb.Helper()
	var out []*client.Client
	for _, a := range c.agents {
		cfg := client.DefaultConfig()
		cfg.Addr = "http://" + a.HTTPAddr()
		cl, err := client.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { cl.Close() })
		out = append(out, cl)
	}
	return out
}
