package ipc

import "testing"

func TestParseKillSignal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Signal
		ok   bool
	}{{"0", 0, true}, {"TERM", SIGTERM, true}, {"9", SIGKILL, true}, {"NOPE", 0, false}, {"-1", 0, false}} {
		got, err := ParseKillSignal(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseKillSignal(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
	if _, err := ParseSignal("0"); err == nil {
		t.Errorf("ParseSignal(\"0\") accepted the null signal, which names no signal to deliver")
	}
}

func TestCleanName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/c", "/c"}, {"/x/../c", "/c"}, {"//c", "/c"}, {"/./c", "/c"}, {"/../c", "/c"},
		{"/a/../../b", "/b"}, {"/a//b/", "/a/b"}, {"/..", "/"}, {"c", "c"}, {"", ""},
	} {
		if got := CleanName(c.in); got != c.want {
			t.Errorf("CleanName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   string
		want error
	}{{"/x/../q", nil}, {"//q", nil}, {"/x/..", EINVAL}, {"/a/b", EINVAL}, {"q", EINVAL}} {
		if err := CheckName(c.in); err != c.want {
			t.Errorf("CheckName(%q) = %v, want %v", c.in, err, c.want)
		}
	}
}
