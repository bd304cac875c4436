package node

import (
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// testPrograms returns the small programs the kernel's own tests run. The
// real tools live in package builtins, which imports this one; these are
// just enough of them to drive the kernel.
//
//	true, false          exit 0, exit 1
//	echo WORD...         the words and a newline
//	cat                  standard input to standard output
//	sleep SECONDS        sleep (2 for a bad operand)
//	spin [N]             N iterations (forever without N), yielding every 64; prints N
//	pause                pause(2)
//	read-from PATH       opens PATH for reading and copies it to standard output
//	write-to PATH WORD...  opens PATH for writing and writes the words and a newline
//	mq-send NAME MSG     opens queue NAME for writing and sends MSG at priority 0
func testPrograms() *ProgramTable {
	r := NewProgramTable()
	r.Register("true", func(*Sys) int { return 0 })
	r.Register("false", func(*Sys) int { return 1 })
	r.Register("echo", func(s *Sys) int {
		if _, err := s.Stdout().Write([]byte(strings.Join(s.Args(), " ") + "\n")); err != nil {
			return 1
		}
		return 0
	})
	r.Register("cat", func(s *Sys) int {
		if _, err := io.Copy(s.Stdout(), s.Stdin()); err != nil {
			return 1
		}
		return 0
	})
	r.Register("sleep", func(s *Sys) int {
		a := s.Args()
		if len(a) != 1 {
			return 2
		}
		var d time.Duration
		if n, err := strconv.Atoi(a[0]); err == nil && n >= 0 {
			d = time.Duration(n) * time.Second
		} else if f, err := strconv.ParseFloat(a[0], 64); err == nil && f >= 0 {
			d = time.Duration(f * float64(time.Second))
		} else {
			return 2
		}
		if err := s.Sleep(d); err != nil {
			return 1
		}
		return 0
	})
	r.Register("spin", func(s *Sys) int {
		n := -1
		if a := s.Args(); len(a) > 0 {
			v, err := strconv.Atoi(a[0])
			if err != nil || v < 0 {
				return 2
			}
			n = v
		}
		x := uint64(1)
		i := 0
		for ; n < 0 || i < n; i++ {
			x = x*6364136223846793005 + 1442695040888963407 // some work
			if i%64 == 63 {
				s.Yield()
			}
		}
		runtime.KeepAlive(x) // keeps the work from being optimised away
		s.Printf("%d\n", i)
		return 0
	})
	r.Register("pause", func(s *Sys) int { s.Pause(); return 0 })
	r.Register("read-from", func(s *Sys) int {
		fd, err := s.Open(s.Args()[0], O_RDONLY, 0)
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		if _, err := io.Copy(s.Stdout(), s.File(fd)); err != nil {
			return 1
		}
		return 0
	})
	r.Register("mq-send", func(s *Sys) int {
		a := s.Args()
		fd, err := s.MqOpen(a[0], O_WRONLY, 0, nil)
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		if err := s.MqSend(fd, []byte(a[1]), 0); err != nil {
			s.Errorf("%v", err)
			return 1
		}
		return 0
	})
	r.Register("write-to", func(s *Sys) int {
		a := s.Args()
		fd, err := s.Open(a[0], O_WRONLY, 0)
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		if _, err := s.Write(fd, []byte(strings.Join(a[1:], " ")+"\n")); err != nil {
			return 1
		}
		return 0
	})
	return r
}

// programTable returns the ProgramTable a test kernel resolves its programs in.
func programTable(t testing.TB, k *ProcessManager) *ProgramTable {
	t.Helper()
	r, ok := k.Programs().(*ProgramTable)
	if !ok {
		t.Fatalf("programs are a %T, want a *ProgramTable", k.Programs())
	}
	return r
}

func TestResolvers(t *testing.T) {
	a, b := NewProgramTable(), NewProgramTable()
	a.Register("both", func(*Sys) int { return 1 })
	a.Register("a", func(*Sys) int { return 2 })
	b.Register("both", func(*Sys) int { return 3 })
	b.Register("b", func(*Sys) int { return 4 })
	rs := Resolvers{a, b}
	for _, c := range []struct {
		name string
		ok   bool
		code int
	}{
		{"both", true, 1}, // the first resolver wins
		{"a", true, 2},
		{"b", true, 4},
		{"none", false, 0},
	} {
		p, ok := rs.Lookup(c.name)
		if ok != c.ok || ok && p(nil) != c.code {
			t.Errorf("Lookup(%q): got ok=%v, want ok=%v code %d", c.name, ok, c.ok, c.code)
		}
	}
	if _, ok := (Resolvers{}).Lookup("a"); ok {
		t.Errorf("an empty chain resolved %q", "a")
	}
}

func TestKernelRunsWhatItsResolverFinds(t *testing.T) {
	extra := NewProgramTable()
	extra.Register("extra", func(s *Sys) int { s.Printf("extra\n"); return 7 })
	k := newKernel(t, func(c *Config) { c.Programs = Resolvers{testPrograms(), extra} })
	if st, out := run(t, k, Spec{Command: "extra"}); st.ExitStatus() != 7 || out != "extra\n" {
		t.Fatalf("extra: got %v %q, want exit 7 %q", st, out, "extra\n")
	}
	if st, out := run(t, k, Spec{Command: "echo", Args: []string{"hi"}}); st.ExitStatus() != 0 || out != "hi\n" {
		t.Fatalf("echo: got %v %q, want exit 0 %q", st, out, "hi\n")
	}
	if _, err := k.Spawn(Spec{Command: "missing"}); !errors.Is(err, ErrUnknownProgram) || !errors.Is(err, ipc.ENOENT) {
		t.Fatalf("missing: got %v, want ErrUnknownProgram", err)
	}
}

func TestNilProgramsKnowsNothing(t *testing.T) {
	k, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Shutdown(t.Context())
	if _, err := k.Spawn(Spec{Command: "true"}); !errors.Is(err, ErrUnknownProgram) {
		t.Fatalf("spawn with no programs: got %v, want ErrUnknownProgram", err)
	}
}
