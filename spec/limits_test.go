package spec

import (
	"errors"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

func TestParseLimits(t *testing.T) {
	sec := uint64(time.Second)
	cases := []struct {
		in    []string
		want  Limits
		canon string
	}{
		{[]string{"cpu=2s"}, Limits{CPU: Limit{2 * sec, 2 * sec}}, "cpu=2s"},
		{[]string{"cpu=2s:5s"}, Limits{CPU: Limit{2 * sec, 5 * sec}}, "cpu=2s:5s"},
		{[]string{"wall=1m"}, Limits{Wall: Limit{60 * sec, 60 * sec}}, "wall=1m"},
		{[]string{"wall=90m"}, Limits{Wall: Limit{5400 * sec, 5400 * sec}}, "wall=1h30m"},
		{[]string{"nofile=64"}, Limits{NoFile: Limit{64, 64}}, "nofile=64"},
		{[]string{"nproc=16:32"}, Limits{NProc: Limit{16, 32}}, "nproc=16:32"},
		{[]string{"mem=64M"}, Limits{Mem: Limit{64 << 20, 64 << 20}}, "mem=64M"},
		{[]string{"mem=1KiB:2k"}, Limits{Mem: Limit{1024, 2048}}, "mem=1K:2K"},
		{[]string{"mem=67108864"}, Limits{Mem: Limit{64 << 20, 64 << 20}}, "mem=64M"},
		{[]string{"fsize=1M"}, Limits{FSize: Limit{1 << 20, 1 << 20}}, "fsize=1M"},
		{[]string{"fsize=100"}, Limits{FSize: Limit{100, 100}}, "fsize=100"},
		{[]string{"nofile=8:unlimited"}, Limits{NoFile: Limit{8, 0}}, "nofile=8:unlimited"},
		{[]string{"cpu=unlimited"}, Limits{}, ""},
		{[]string{" CPU = 1s , MEM=1g "}, Limits{CPU: Limit{sec, sec}, Mem: Limit{1 << 30, 1 << 30}}, "cpu=1s,mem=1G"},
		{[]string{""}, Limits{}, ""},
		{nil, Limits{}, ""},
		// Repeated flags add up; a later item replaces an earlier one.
		{[]string{"cpu=1s:2s", "nofile=9"}, Limits{CPU: Limit{sec, 2 * sec}, NoFile: Limit{9, 9}}, "cpu=1s:2s,nofile=9"},
		{[]string{"nofile=9,cpu=1s", "nofile=3"}, Limits{CPU: Limit{sec, sec}, NoFile: Limit{3, 3}}, "cpu=1s,nofile=3"},
		{[]string{"fsize=1M,wall=1m,mem=64M,nproc=16,nofile=64,cpu=2s:5s"},
			Limits{CPU: Limit{2 * sec, 5 * sec}, Wall: Limit{60 * sec, 60 * sec}, NoFile: Limit{64, 64}, NProc: Limit{16, 16}, Mem: Limit{64 << 20, 64 << 20}, FSize: Limit{1 << 20, 1 << 20}},
			"cpu=2s:5s,wall=1m,nofile=64,nproc=16,mem=64M,fsize=1M"},
	}
	for _, c := range cases {
		got, err := ParseLimits(c.in...)
		if err != nil {
			t.Errorf("got error %v, want %+v for input %q", err, c.want, c.in)
			continue
		}
		if got != c.want {
			t.Errorf("got %+v, want %+v for input %q", got, c.want, c.in)
		}
		if s := got.String(); s != c.canon {
			t.Errorf("got String %q, want %q for input %q", s, c.canon, c.in)
		}
	}
}

func TestParseLimitsErrors(t *testing.T) {
	cases := []struct{ in, msg string }{
		{"cpu", `bad limit "cpu": want name=soft[:hard]`},
		{"cpu=", `bad limit "cpu=": want name=soft[:hard]`},
		{"=1", `bad limit "=1": want name=soft[:hard]`},
		{"bogus=1", `bad limit "bogus=1": unknown resource "bogus" (want cpu, wall, nofile, nproc, mem or fsize)`},
		{"cpu=fast", `bad limit "cpu=fast": "fast" is not a duration such as 2s`},
		{"cpu=-1s", `bad limit "cpu=-1s": negative duration`},
		{"nofile=-1", `bad limit "nofile=-1": "-1" is not a count`},
		{"nofile=1.5", `bad limit "nofile=1.5": "1.5" is not a count`},
		{"nofile=0", `bad limit "nofile=0": a limit of 0 is not supported (leave the resource out for no limit)`},
		{"cpu=0s:1s", `bad limit "cpu=0s:1s": a limit of 0 is not supported (leave the resource out for no limit)`},
		{"mem=12Q", `bad limit "mem=12Q": unknown suffix "Q" (want K, M, G or T)`},
		{"mem=99999999999999999999", `bad limit "mem=99999999999999999999": too large`},
		{"mem=20000000T", `bad limit "mem=20000000T": too large`},
		{"nofile=5:4", `bad limit "nofile=5:4": soft limit above hard limit`},
		{"nofile=unlimited:4", `bad limit "nofile=unlimited:4": soft limit above hard limit`},
		{"cpu=1s:", `bad limit "cpu=1s:": empty value`},
		{"cpu=2s,,", `bad limit "": empty item (want name=soft[:hard])`},
		{"cpu=2s, ", `bad limit " ": empty item (want name=soft[:hard])`},
	}
	for _, c := range cases {
		_, err := ParseLimits(c.in)
		if err == nil {
			t.Errorf("got no error, want %q for input %q", c.msg, c.in)
			continue
		}
		if err.Error() != c.msg {
			t.Errorf("got %q, want %q for input %q", err, c.msg, c.in)
		}
		if !errors.Is(err, ErrBadLimit) || !errors.Is(err, ipc.EINVAL) {
			t.Errorf("got %v, which is not ErrBadLimit and EINVAL, for input %q", err, c.in)
		}
	}
}

func TestLimitsRoundTrip(t *testing.T) {
	// A pair with only a hard limit means soft = hard.
	l := Limits{NoFile: Limit{Hard: 5}}
	if got, want := l.String(), "nofile=5"; got != want {
		t.Fatalf("got %q, want %q for %+v", got, want, l)
	}
	for _, v := range []Limits{
		{},
		{CPU: Limit{1, 1}},
		{CPU: Limit{1500 * uint64(time.Millisecond), 0}, Mem: Limit{1<<20 + 1, 1 << 30}},
		{Wall: Limit{uint64(time.Hour + time.Second), uint64(2 * time.Hour)}, FSize: Limit{7, 7}, NProc: Limit{1, 0}},
	} {
		got, err := ParseLimits(v.String())
		if err != nil || got != v {
			t.Errorf("got %+v, %v, want %+v for input %q", got, err, v, v.String())
		}
	}
}

// FuzzParseLimits checks the grammar's round trip: whatever parses formats
// to a canonical form that parses to the same value and formats to itself.
func FuzzParseLimits(f *testing.F) {
	for _, s := range []string{
		"cpu=2s:5s,wall=1m,nofile=64,nproc=16,mem=64M,fsize=1M",
		"cpu=unlimited", "nofile=8:unlimited", "mem=1KiB:2k", " CPU = 1s ",
		"cpu=1s:", "nofile=5:4", "mem=99999999999999999999", "cpu=2s,,", "wall=1h0m0.5s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLimits(s)
		if err != nil {
			if !errors.Is(err, ErrBadLimit) {
				t.Fatalf("got %v, want a bad-limit error for input %q", err, s)
			}
			return
		}
		canon := l.String()
		again, err := ParseLimits(canon)
		if err != nil || again != l {
			t.Fatalf("got %+v, %v, want %+v for the canonical %q of input %q", again, err, l, canon, s)
		}
		if got := again.String(); got != canon {
			t.Fatalf("got %q, want %q: not canonical, for input %q", got, canon, s)
		}
	})
}
