package node

import (
	"errors"
	"io"
	"testing"

	"github.com/vproc/vproc/ipc"
)

func TestPipeSemanticsThroughKernel(t *testing.T) {
	k := newKernel(t, withPrograms(map[string]Program{
		"eof-after-all-writers": func(s *Sys) int {
			r, w, _ := s.Pipe()
			w2, _ := s.Dup(w)
			// A child holds a third reference to the write end.
			c, err := s.Spawn(SpawnAttr{Command: "echo", Args: []string{"from child"}, Files: []int{-1, w, 2}})
			if err != nil {
				return 1
			}
			s.Close(w)
			s.Write(w2, []byte("dup\n"))
			s.Close(w2)
			s.Wait4(c, 0)
			data, err := io.ReadAll(s.File(r))
			if err != nil || (string(data) != "dup\nfrom child\n" && string(data) != "from child\ndup\n") {
				return 2
			}
			return 0
		},
		"epipe-ignored": func(s *Sys) int {
			s.Sigaction(ipc.SIGPIPE, &SigAction{Ignore: true})
			r, w, _ := s.Pipe()
			s.Close(r)
			if _, err := s.Write(w, []byte("x")); !errors.Is(err, ipc.EPIPE) {
				return 1
			}
			return 0
		},
		"epipe-kills": func(s *Sys) int {
			r, w, _ := s.Pipe()
			s.Close(r)
			s.Write(w, []byte("x"))
			return 0
		},
		"nonblock": func(s *Sys) int {
			r, w, _ := s.Pipe2(O_NONBLOCK)
			if _, err := s.Read(r, make([]byte, 1)); !errors.Is(err, ipc.EAGAIN) {
				return 1
			}
			big := make([]byte, 4096)
			n := 0
			for {
				m, err := s.Write(w, big)
				if errors.Is(err, ipc.EAGAIN) {
					break
				}
				if err != nil {
					return 2
				}
				n += m
			}
			if n != ipc.DefaultPipeCapacity {
				return 3 // 64 KiB buffer
			}
			s.SetNonblock(r, false)
			s.Close(w)
			got, _ := io.ReadAll(s.File(r))
			if len(got) != n {
				return 4
			}
			return 0
		},
		"badfd": func(s *Sys) int {
			if _, err := s.Read(99, nil); !errors.Is(err, ipc.EBADF) {
				return 1
			}
			r, w, _ := s.Pipe()
			if _, err := s.Write(r, []byte("x")); !errors.Is(err, ipc.EBADF) {
				return 2
			}
			if _, err := s.Read(w, make([]byte, 1)); !errors.Is(err, ipc.EBADF) {
				return 3
			}
			if err := s.Close(r); err != nil {
				return 4
			}
			if err := s.Close(r); !errors.Is(err, ipc.EBADF) {
				return 5
			}
			if _, err := s.Dup2(w, 10); err != nil {
				return 6
			}
			if _, err := s.Write(10, []byte("x")); !errors.Is(err, ipc.EPIPE) {
				return 7 // the read end is gone (SIGPIPE ignored below)
			}
			return 0
		},
	}))
	cases := []struct {
		cmd  string
		code int
		sig  ipc.Signal
	}{
		{"eof-after-all-writers", 0, 0},
		{"epipe-ignored", 0, 0},
		{"epipe-kills", 128 + 13, ipc.SIGPIPE},
		{"nonblock", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			st, out := run(t, k, Spec{Command: c.cmd})
			if st.Code() != c.code || st.Signal() != c.sig {
				t.Fatalf("got %v %s, want code %d", st, out, c.code)
			}
		})
	}
	t.Run("badfd", func(t *testing.T) {
		k.programs.(*ProgramTable).Register("badfd-noSIGPIPE", func(s *Sys) int {
			s.Sigaction(ipc.SIGPIPE, &SigAction{Ignore: true})
			p, _ := k.programs.Lookup("badfd")
			return p(s)
		})
		if st, _ := run(t, k, Spec{Command: "badfd-noSIGPIPE"}); st.ExitStatus() != 0 {
			t.Fatalf("got %v", st)
		}
	})
}
