package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// directFile is an InheritedFile that reads and writes the exported file
// of another kernel in the same OS process: what a stream between two
// nodes does, without the network.
type directFile struct{ e *ExportedFile }

func (d directFile) Read(w ipc.Waiter, b []byte, nb bool) (int, error)  { return d.e.Read(w, b, nb) }
func (d directFile) Write(w ipc.Waiter, b []byte, nb bool) (int, error) { return d.e.Write(w, b, nb) }
func (d directFile) Close() error                                       { return d.e.Close() }

// claimAll claims the exports of a child's request, one handle per
// export, as the child's node opens one stream per open file.
func claimAll(t *testing.T, k *ProcessManager, fds []ExportedFD) []InheritedFD {
	t.Helper()
	opened := map[uint64]InheritedFile{}
	var out []InheritedFD
	for _, d := range fds {
		f := opened[d.Export]
		if f == nil {
			e, err := k.ClaimExport(d.Export)
			if err != nil {
				t.Fatalf("claim %d: %v", d.Export, err)
			}
			f = directFile{e}
			opened[d.Export] = f
		}
		out = append(out, InheritedFD{Fd: d.Fd, File: f, Flags: d.Flags})
	}
	if _, err := k.ClaimExport(fds[0].Export); !errors.Is(err, ErrNoExport) {
		t.Fatalf("second claim of export %d: got %v, want ErrNoExport", fds[0].Export, err)
	}
	return out
}

// TestInheritAcrossKernels: two children on another kernel inherit a pipe's
// write end and a file of their parent's: the parent reads both children's
// writes, each of PIPE_BUF bytes whole, and EOF once both have exited; the
// three share the file's offset; an export no child claims is released
// when its child ends.
func TestInheritAcrossKernels(t *testing.T) {
	const writes, block = 16, ipc.PipeBuf
	got := make(chan string, 1)
	// fill X: 16 writes of 4096 X to fd 1, then X to fd 2.
	fill := func(s *Sys) int {
		b := bytes.Repeat([]byte(s.Args()[0]), block)
		for range writes {
			if n, err := s.Write(1, b); n != block || err != nil {
				return 1
			}
		}
		if _, err := s.Write(2, []byte(s.Args()[0])); err != nil {
			return 2
		}
		return 0
	}
	far := newKernel(t, withPrograms(map[string]Program{"fill": fill}))
	k, alloc, _, _ := remoteKernel(t, map[string]Program{
		"fill": fill,
		"parent": func(s *Sys) int {
			fd, err := s.Open("/f", O_RDWR|O_CREAT, 0o644)
			if err != nil {
				return 1
			}
			s.Write(fd, []byte("hello "))
			r, w, _ := s.Pipe()
			for _, x := range []string{"a", "b"} {
				if _, err := s.Spawn(SpawnAttr{Command: "fill", Args: []string{x}, Node: "far", Files: []int{-1, w, fd}}); err != nil {
					return 2
				}
			}
			// A child that never claims its pipe end.
			if _, err := s.Spawn(SpawnAttr{Command: "fill", Args: []string{"c"}, Node: "far", Files: []int{-1, w}}); err != nil {
				return 3
			}
			s.Close(w)
			data, err := readAll(s, r)
			if err != nil {
				return 4
			}
			for range 3 {
				for {
					if _, _, err := s.Wait4(-1, 0); !errors.Is(err, ipc.EINTR) {
						break
					}
				}
			}
			s.Write(fd, []byte("!"))
			in, err := s.Open("/f", O_RDONLY, 0)
			if err != nil {
				return 5
			}
			content, err := readAll(s, in)
			got <- fmt.Sprintf("%s|%s", data, content)
			if err != nil {
				return 6
			}
			return 0
		},
	})
	ppid := mustSpawn(t, k, Spec{Command: "parent"})
	var reqs []PIDRequest
	waitFor(t, "three remote children", 10*time.Second, func() bool {
		alloc.mu.Lock()
		defer alloc.mu.Unlock()
		reqs = append([]PIDRequest(nil), alloc.reqs...)
		if p, err := k.Get(ppid); err == nil && p.State == StateZombie {
			t.Fatalf("parent exited %d, %d requests", p.Status.Code(), len(reqs))
		}
		return len(reqs) == 4
	})
	var children []int
	for i, req := range reqs[1:] {
		children = append(children, 102+i) // farPIDs numbers from 101, the parent's

		if req.Node != "far" || len(req.Files) == 0 {
			t.Fatalf("request %+v: want a child on far with exported files", req)
		}
		if i == 2 {
			continue // never claimed
		}
		if len(req.Files) != 2 || req.Files[0].Fd != 1 || req.Files[1].Fd != 2 || req.Files[0].Export == req.Files[1].Export {
			t.Fatalf("exported files %+v: want fd 1 and 2, two open files", req.Files)
		}
		cpid := mustSpawn(t, far, Spec{Command: "fill", Args: req.Args, Inherited: claimAll(t, k, req.Files)})
		if p := mustWait(t, far, cpid); p.Status.Code() != 0 {
			t.Fatalf("fill %v: exit %d", req.Args, p.Status.Code())
		}
	}
	for _, pid := range children {
		if err := k.ReportRemote(Event{PID: pid, Kind: EventExited, Status: ExitedStatus(0)}); err != nil {
			t.Fatalf("report %d: %v", pid, err)
		}
	}
	if p := mustWait(t, k, ppid); p.Status.Code() != 0 {
		t.Fatalf("parent: exit %d", p.Status.Code())
	}
	out := <-got
	data, content, _ := bytes.Cut([]byte(out), []byte("|"))
	if len(data) != 2*writes*block {
		t.Fatalf("the parent read %d bytes, want %d", len(data), 2*writes*block)
	}
	for off := 0; off < len(data); off += block {
		chunk := data[off : off+block]
		if !bytes.Equal(chunk, bytes.Repeat(chunk[:1], block)) {
			t.Fatalf("bytes %d..%d mix two writers: a write of PIPE_BUF bytes was split", off, off+block)
		}
	}
	if c := string(content); c != "hello ab!" && c != "hello ba!" {
		t.Fatalf("file %q, want \"hello ab!\" or \"hello ba!\": one offset for the three descriptors", c)
	}
}

// readAll reads fd until EOF.
func readAll(s *Sys, fd int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 8192)
	for {
		n, err := s.Read(fd, buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// TestInheritNonblock: a child on another kernel reads a pipe end it
// inherited with O_NONBLOCK: EAGAIN on an empty pipe, then the bytes, then
// EOF once the parent closes the write end.
func TestInheritNonblock(t *testing.T) {
	write, closeW := make(chan struct{}), make(chan struct{})
	probe := func(s *Sys) int {
		b := make([]byte, 16)
		if _, err := s.Read(0, b); !errors.Is(err, ipc.EAGAIN) {
			return 1
		}
		write <- struct{}{}
		var got []byte
		for range 1000 {
			n, err := s.Read(0, b)
			got = append(got, b[:max(n, 0)]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, ipc.EAGAIN) {
				s.Sleep(time.Millisecond)
				continue
			}
			if err != nil {
				return 2
			}
			if string(got) == "data" {
				closeW <- struct{}{}
			}
		}
		if string(got) != "data" {
			return 3
		}
		return 0
	}
	far := newKernel(t, withPrograms(map[string]Program{"probe": probe}))
	k, alloc, _, _ := remoteKernel(t, map[string]Program{
		"probe": probe,
		"parent": func(s *Sys) int {
			r, w, _ := s.Pipe2(O_NONBLOCK)
			if _, err := s.Spawn(SpawnAttr{Command: "probe", Node: "far", Files: []int{r}}); err != nil {
				return 1
			}
			s.Close(r)
			<-write
			s.Write(w, []byte("data"))
			<-closeW
			s.Close(w)
			return 0
		},
	})
	mustSpawn(t, k, Spec{Command: "parent"})
	var req PIDRequest
	waitFor(t, "the remote child", 10*time.Second, func() bool {
		alloc.mu.Lock()
		defer alloc.mu.Unlock()
		if len(alloc.reqs) < 2 {
			return false
		}
		req = alloc.reqs[1]
		return true
	})
	if len(req.Files) != 1 || req.Files[0].Flags&O_NONBLOCK == 0 {
		t.Fatalf("exported %+v: want one descriptor with O_NONBLOCK", req.Files)
	}
	cpid := mustSpawn(t, far, Spec{Command: "probe", Inherited: claimAll(t, k, req.Files)})
	if p := mustWait(t, far, cpid); p.Status.Code() != 0 {
		t.Fatalf("probe: exit %d", p.Status.Code())
	}
}
