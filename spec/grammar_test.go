package spec

import (
	"errors"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in    string
		want  uint64
		canon string
	}{
		{"0", 0, "0"},
		{"100", 100, "100"},
		{"100B", 100, "100"},
		{"1536", 1536, "1536"},
		{"2048", 2048, "2K"},
		{"64M", 64 << 20, "64M"},
		{"64m", 64 << 20, "64M"},
		{"64MiB", 64 << 20, "64M"},
		{"64mb", 64 << 20, "64M"},
		{"1G", 1 << 30, "1G"},
		{"1024M", 1 << 30, "1G"},
		{" 3T ", 3 << 40, "3T"},
		{"1k", 1 << 10, "1K"},
	}
	for _, c := range cases {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("got %d, %v, want %d for input %q", got, err, c.want, c.in)
			continue
		}
		if s := FormatSize(got); s != c.canon {
			t.Errorf("got %q, want %q for input %q", s, c.canon, c.in)
		}
	}
	for _, in := range []string{"", "M", "12Q", "1.5M", "-1", "64iB", "1KK", "99999999999999999999", "20000000T"} {
		if got, err := ParseSize(in); !errors.Is(err, ErrBadSize) || !errors.Is(err, ipc.EINVAL) {
			t.Errorf("got %d, %v, want a bad-size error for input %q", got, err, in)
		}
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		in    string
		want  time.Duration
		canon string
	}{
		{"0s", 0, "0s"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"60s", time.Minute, "1m"},
		{"1h", time.Hour, "1h"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"1m30s", 90 * time.Second, "1m30s"},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("got %v, %v, want %v for input %q", got, err, c.want, c.in)
			continue
		}
		if s := FormatDuration(got); s != c.canon {
			t.Errorf("got %q, want %q for input %q", s, c.canon, c.in)
		}
		if back, err := ParseDuration(FormatDuration(got)); err != nil || back != got {
			t.Errorf("got %v, %v, want %v for input %q", back, err, got, FormatDuration(got))
		}
	}
	for _, in := range []string{"", "fast", "-1s", "1"} {
		if _, err := ParseDuration(in); !errors.Is(err, ErrBadDuration) {
			t.Errorf("got %v, want a bad-duration error for input %q", err, in)
		}
	}
}

func TestParseRestart(t *testing.T) {
	cases := []struct {
		in    string
		want  Restart
		canon string
	}{
		{"", Restart{}, ""},
		{"never", Restart{Policy: RestartNever}, "never"},
		{"NEVER", Restart{Policy: RestartNever}, "never"},
		{"always", Restart{Policy: RestartAlways}, "always"},
		{"Always:0", Restart{Policy: RestartAlways}, "always"},
		{"on-failure:3", Restart{Policy: RestartOnFailure, Max: 3}, "on-failure:3"},
		{"On-Failure:3:2s", Restart{Policy: RestartOnFailure, Max: 3, Backoff: 2 * time.Second}, "on-failure:3:2s"},
		{"always::60s", Restart{Policy: RestartAlways, Backoff: time.Minute}, "always:0:1m"},
		{" always : 2 ", Restart{Policy: RestartAlways, Max: 2}, "always:2"},
	}
	for _, c := range cases {
		got, err := ParseRestart(c.in)
		if err != nil || got != c.want {
			t.Errorf("got %+v, %v, want %+v for input %q", got, err, c.want, c.in)
			continue
		}
		if s := got.String(); s != c.canon {
			t.Errorf("got %q, want %q for input %q", s, c.canon, c.in)
		}
		if back, err := ParseRestart(got.String()); err != nil || back != got {
			t.Errorf("got %+v, %v, want %+v for input %q", back, err, got, got.String())
		}
	}
	bad := []struct{ in, msg string }{
		{"sometimes", `bad restart policy "sometimes": want never, on-failure or always`},
		{"never:3", `bad restart policy "never:3": never takes no max or backoff`},
		{"always:x", `bad restart policy "always:x": max must be a count from 0 to 2147483647`},
		{"always:-1", `bad restart policy "always:-1": max must be a count from 0 to 2147483647`},
		{"always:1:0s", `bad restart policy "always:1:0s": backoff must be a positive duration such as 1s`},
		{"always:1:1s:2s", `bad restart policy "always:1:1s:2s": want never, on-failure[:max[:backoff]] or always[:max[:backoff]]`},
	}
	for _, c := range bad {
		_, err := ParseRestart(c.in)
		if err == nil || err.Error() != c.msg || !errors.Is(err, ErrBadRestart) {
			t.Errorf("got %v, want %q for input %q", err, c.msg, c.in)
		}
	}
}

func TestParseConstraint(t *testing.T) {
	cases := []struct {
		in   string
		want Constraint
	}{
		{"rack=a", Constraint{"rack", "a"}},
		{" rack = a ", Constraint{"rack", "a"}},
		{"zone=", Constraint{"zone", ""}},
		{"k=v=w", Constraint{"k", "v=w"}},
	}
	for _, c := range cases {
		got, err := ParseConstraint(c.in)
		if err != nil || got != c.want {
			t.Errorf("got %+v, %v, want %+v for input %q", got, err, c.want, c.in)
			continue
		}
		if back, err := ParseConstraint(got.String()); err != nil || back != got {
			t.Errorf("got %+v, %v, want %+v for input %q", back, err, got, got.String())
		}
	}
	for _, in := range []string{"", "rack", "=a", " =a"} {
		if _, err := ParseConstraint(in); !errors.Is(err, ErrBadConstraint) {
			t.Errorf("got %v, want a bad-constraint error for input %q", err, in)
		}
	}
	got, err := ParseConstraints("a=1", "b=2")
	if err != nil || len(got) != 2 || got[1] != (Constraint{"b", "2"}) {
		t.Errorf("got %+v, %v, want [a=1 b=2] for input [a=1 b=2]", got, err)
	}
}

func TestParseUses(t *testing.T) {
	got, err := ParseUses("mq:/q, fifo:/run/f,,SHM:/s", "mq:/r")
	want := []Use{{KindMQ, "/q"}, {KindFIFO, "/run/f"}, {KindSHM, "/s"}, {KindMQ, "/r"}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %v, %v, want %v", got, err, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v for input %q", got[i], want[i], "mq:/q, fifo:/run/f,,SHM:/s mq:/r")
		}
	}
	if s := FormatUses(got); s != "mq:/q,fifo:/run/f,shm:/s,mq:/r" {
		t.Fatalf("got %q, want %q", s, "mq:/q,fifo:/run/f,shm:/s,mq:/r")
	}
	bad := []struct{ in, msg string }{
		{"q", `bad use "q": want mq:/name, fifo:/path or shm:/name`},
		{"mq:", `bad use "mq:": want mq:/name, fifo:/path or shm:/name`},
		{"sock:/x", `bad use "sock:/x": kind must be mq, fifo or shm`},
		{"mq:q", `bad use "mq:q": the name must start with /`},
	}
	for _, c := range bad {
		_, err := ParseUses(c.in)
		if err == nil || err.Error() != c.msg || !errors.Is(err, ErrBadUse) {
			t.Errorf("got %v, want %q for input %q", err, c.msg, c.in)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ipc.Signal
	}{{"TERM", ipc.SIGTERM}, {"sigkill", ipc.SIGKILL}, {"15", ipc.SIGTERM}, {"SIGUSR1", ipc.SIGUSR1}} {
		got, err := ParseSignal(c.in)
		if err != nil || got != c.want {
			t.Errorf("got %v, %v, want %v for input %q", got, err, c.want, c.in)
			continue
		}
		if back, err := ParseSignal(FormatSignal(got)); err != nil || back != got {
			t.Errorf("got %v, %v, want %v for input %q", back, err, got, FormatSignal(got))
		}
	}
	for _, in := range []string{"", "0", "32", "TERMINATE"} {
		if _, err := ParseSignal(in); !errors.Is(err, ErrBadSignal) || !errors.Is(err, ipc.EINVAL) {
			t.Errorf("got %v, want a bad-signal error for input %q", err, in)
		}
	}
}

// FuzzGrammars checks the round trip of the other grammars: whatever
// parses formats to a form that parses to the same value.
func FuzzGrammars(f *testing.F) {
	for _, s := range []string{"always:3:2s", "On-Failure", "never", "64MiB", "1k", "mq:/q, SHM:/s", "rack = a", "90m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRestart(s); err == nil {
			if back, err := ParseRestart(r.String()); err != nil || back != r {
				t.Fatalf("got %+v, %v, want %+v for the restart %q of input %q", back, err, r, r.String(), s)
			}
		}
		if n, err := ParseSize(s); err == nil {
			if back, err := ParseSize(FormatSize(n)); err != nil || back != n {
				t.Fatalf("got %d, %v, want %d for the size %q of input %q", back, err, n, FormatSize(n), s)
			}
		}
		if d, err := ParseDuration(s); err == nil {
			if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d {
				t.Fatalf("got %v, %v, want %v for the duration %q of input %q", back, err, d, FormatDuration(d), s)
			}
		}
		if c, err := ParseConstraint(s); err == nil {
			if back, err := ParseConstraint(c.String()); err != nil || back != c {
				t.Fatalf("got %+v, %v, want %+v for the constraint %q of input %q", back, err, c, c.String(), s)
			}
		}
		if uses, err := ParseUses(s); err == nil {
			back, err := ParseUses(FormatUses(uses))
			if err != nil || len(back) != len(uses) {
				t.Fatalf("got %v, %v, want %v for the uses %q of input %q", back, err, uses, FormatUses(uses), s)
			}
			for i := range uses {
				if back[i] != uses[i] {
					t.Fatalf("got %v, want %v for the uses %q of input %q", back, uses, FormatUses(uses), s)
				}
			}
		}
	})
}
