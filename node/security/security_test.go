package security

import (
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPromises(t *testing.T) {
	p, err := ParsePromises("stdio rpath,proc")
	if err != nil || p != PromiseStdio|PromiseRpath|PromiseProc {
		t.Fatalf("parse: %v %v", p, err)
	}
	if got := p.String(); got != "stdio rpath proc" {
		t.Fatalf("String = %q", got)
	}
	if _, err := ParsePromises("stdio fly"); !errors.Is(err, ErrBadPromise) {
		t.Fatalf("unknown promise: %v", err)
	}
	var none Promise
	if !none.Has(PromiseIPC) || none.Effective() != PromiseAll {
		t.Fatal("the zero Promise must hold every promise")
	}
	// Promises only narrow.
	if q, ok := p.Narrow(PromiseStdio); !ok || q != PromiseStdio {
		t.Fatalf("narrow: %v %v", q, ok)
	}
	if _, ok := p.Narrow(PromiseStdio | PromiseWpath); ok {
		t.Fatal("a pledge added a promise")
	}
}

func TestParseUnveil(t *testing.T) {
	cases := []struct {
		in   string
		want UnveilPath
		ok   bool
	}{
		{"/etc:r", UnveilPath{"/etc", "r"}, true},
		{"/tmp/x:cwr", UnveilPath{"/tmp/x", "crw"}, true},
		{"/a:b:rx", UnveilPath{"/a:b", "rx"}, true},
		{"relative:r", UnveilPath{}, false},
		{"/etc:rq", UnveilPath{}, false},
		{"/etc", UnveilPath{}, false},
	}
	for _, c := range cases {
		got, err := ParseUnveil(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseUnveil(%q) = %+v, %v; want %+v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
