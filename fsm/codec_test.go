package fsm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Generators of arbitrary commands, for the round-trip property and the
// fuzz corpus. Values cover the whole range of each field, valid or not.

func genStr() *rapid.Generator[string] {
	return rapid.OneOf(rapid.Just(""), rapid.SampledFrom([]string{"n1", "/q", "sleep", "pending"}), rapid.String())
}

func genStrs(t *rapid.T, label string) []string {
	return rapid.SliceOfN(genStr(), 0, 4).Draw(t, label)
}

func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func genSpec(t *rapid.T) Spec {
	s := Spec{
		Command:  genStr().Draw(t, "command"),
		Args:     orNil(genStrs(t, "args")),
		Env:      orNil(genStrs(t, "env")),
		Cwd:      genStr().Draw(t, "cwd"),
		Priority: rapid.IntRange(-200, 200).Draw(t, "priority"),
		Promises: genStr().Draw(t, "promises"),
		Restart: Restart{
			Policy:      RestartPolicy(rapid.SampledFrom([]string{"", "never", "on-failure", "always", "x"}).Draw(t, "policy")),
			MaxRestarts: rapid.IntRange(-5, 1<<20).Draw(t, "max"),
			BackoffBase: time.Duration(rapid.Int64().Draw(t, "base")),
			BackoffMax:  time.Duration(rapid.Int64().Draw(t, "bmax")),
		},
		Node:              genStr().Draw(t, "node"),
		InheritsPipesFrom: rapid.Uint64().Draw(t, "inherits"),
		Stdin:             rapid.Bool().Draw(t, "stdin"),
	}
	for _, l := range limitPairs(&s.Limits) {
		l.Soft = rapid.Uint64().Draw(t, "soft")
		l.Hard = rapid.Uint64().Draw(t, "hard")
	}
	for range rapid.IntRange(0, 2).Draw(t, "unveils") {
		s.Unveil = append(s.Unveil, Unveil{Path: genStr().Draw(t, "path"), Perms: genStr().Draw(t, "perms")})
	}
	for range rapid.IntRange(0, 2).Draw(t, "constraints") {
		s.Constraints = append(s.Constraints, Constraint{Label: genStr().Draw(t, "label"), Value: genStr().Draw(t, "value")})
	}
	for range rapid.IntRange(0, 2).Draw(t, "uses") {
		s.Uses = append(s.Uses, Use{Kind: Kind(genStr().Draw(t, "kind")), Name: genStr().Draw(t, "name")})
	}
	return s
}

func genStatus(t *rapid.T) Status {
	return Status{
		Exited: rapid.Bool().Draw(t, "exited"),
		Code:   rapid.IntRange(-1000, 1000).Draw(t, "code"),
		Signal: rapid.IntRange(-5, 40).Draw(t, "signal"),
		Core:   rapid.Bool().Draw(t, "core"),
		Reason: genStr().Draw(t, "reason"),
	}
}

// genCommand draws any command but a Batch; inner says whether it may be a
// session request's command.
func genCommand(t *rapid.T, inner bool) Command {
	u := func(l string) uint64 { return rapid.Uint64().Draw(t, l) }
	i := func(l string) int64 { return rapid.Int64().Draw(t, l) }
	s := func(l string) string { return genStr().Draw(t, l) }
	n := rapid.IntRange(0, 26).Draw(t, "which")
	if inner && (n == 0 || n == 1) {
		n = 2
	}
	switch n {
	case 0:
		return &RegisterSession{Now: i("now")}
	case 1:
		return &SessionRequest{SessionID: u("sid"), RequestID: u("rid"), AckedBelow: u("ack"), Now: i("now"), Command: genCommand(t, true)}
	case 2:
		return &Tick{Now: i("now")}
	case 3:
		return &Spawn{Parent: u("parent"), Owner: s("owner"), NewSession: rapid.Bool().Draw(t, "ns"), NewGroup: rapid.Bool().Draw(t, "ng"), JoinGroup: u("jg"), Spec: genSpec(t), Now: i("now"), Place: s("place")}
	case 4:
		return &Place{PID: u("pid"), Incarnation: u("inc"), ExpectState: State(s("state")), Node: s("node"), Now: i("now")}
	case 5:
		return &Started{PID: u("pid"), Incarnation: u("inc"), Node: s("node"), Now: i("now")}
	case 6:
		return &Stopped{PID: u("pid"), Incarnation: u("inc"), Node: s("node"), Signal: rapid.IntRange(-5, 40).Draw(t, "sig"), Now: i("now")}
	case 7:
		return &Continued{PID: u("pid"), Incarnation: u("inc"), Node: s("node"), Now: i("now")}
	case 8:
		return &Exited{PID: u("pid"), Incarnation: u("inc"), Node: s("node"), Status: genStatus(t), Now: i("now"), Started: rapid.Bool().Draw(t, "started")}
	case 9:
		return &Reap{PID: u("pid")}
	case 10:
		return &Lost{PID: u("pid"), Incarnation: u("inc"), Node: s("node"), Reason: s("reason"), Now: i("now")}
	case 11:
		return &NodeLost{Node: s("node"), Reason: s("reason"), Now: i("now")}
	case 12:
		return &Preempt{PID: u("pid"), Incarnation: u("inc"), Reason: s("reason"), Now: i("now"), Signal: rapid.IntRange(0, NSIG-1).Draw(t, "sig")}
	case 13:
		return &Signal{ID: u("id"), Target: i("target"), Signal: rapid.IntRange(-5, 40).Draw(t, "sig"), Sender: u("sender"), Now: i("now"), Unstarted: rapid.Bool().Draw(t, "unstarted")}
	case 14:
		return &SignalDelivered{ID: u("id"), PID: u("pid"), Incarnation: u("inc")}
	case 15:
		var labels []Label
		for range rapid.IntRange(0, 3).Draw(t, "labels") {
			labels = append(labels, Label{Key: s("key"), Value: s("value")})
		}
		return &NodeUpsert{ID: s("id"), Name: s("name"), RaftAddr: s("raft"), HTTPAddr: s("http"),
			Capacity: Capacity{Slots: i("slots"), Memory: i("mem")}, Labels: labels, Status: NodeStatus(s("status")), Now: i("now")}
	case 16:
		return &SetNodeStatus{ID: s("id"), Status: NodeStatus(s("status")), Now: i("now")}
	case 17:
		return &RegistryCreate{Kind: Kind(s("kind")), Name: s("name"), Node: s("node"), Owner: s("owner"),
			Mode: rapid.Uint32().Draw(t, "mode"), Attrs: Attrs{MaxMsg: i("maxmsg"), MsgSize: i("msgsize"), Size: i("size")}, Now: i("now")}
	case 18:
		return &RegistryUnlink{Kind: Kind(s("kind")), Name: s("name")}
	case 19:
		return &SetSchedulerConfig{Strategy: Strategy(s("strategy"))}
	case 20:
		return &RaisePIDFloor{Floor: u("floor")}
	case 21:
		return &RegistryLost{Kind: Kind(s("kind")), Name: s("name"), Node: s("node")}
	case 22:
		var holders []string
		for range rapid.IntRange(0, 3).Draw(t, "holders") {
			holders = append(holders, s("holder"))
		}
		return &ProgramAdd{Name: s("name"), Hash: s("hash"), Size: u("size"), Owner: s("owner"), Holders: holders, Now: i("now")}
	case 23:
		return &ProgramRemove{Name: s("name")}
	case 24:
		return &ProgramHolder{Hash: s("hash"), Node: s("node")}
	case 25:
		return &SetGroup{PID: u("pid"), Incarnation: u("inc"), Node: s("node"), Now: i("now"), Pgid: u("pgid"), Sid: u("sid")}
	default:
		return &Unknown{T: Type(rapid.IntRange(0xa0, 0xff).Draw(t, "type")), Body: rapid.SliceOf(rapid.Byte()).Draw(t, "body")}
	}
}

func genEntry(t *rapid.T) Command {
	if rapid.IntRange(0, 5).Draw(t, "batch") == 0 {
		b := &Batch{}
		for range rapid.IntRange(0, 4).Draw(t, "len") {
			b.Commands = append(b.Commands, genCommand(t, false))
		}
		return b
	}
	return genCommand(t, false)
}

// normalize makes an empty batch comparable after decoding.
func normalize(c Command) Command {
	if b, ok := c.(*Batch); ok && len(b.Commands) == 0 {
		b.Commands = []Command{}
	}
	if u, ok := c.(*Unknown); ok && len(u.Body) == 0 {
		u.Body = []byte{}
	}
	return c
}

func TestEncodeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genEntry(t)
		data := Encode(c)
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)): %v", c, err)
		}
		fixUnknownBodies(c)
		fixUnknownBodies(got)
		if !reflect.DeepEqual(normalize(got), normalize(c)) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, c)
		}
		if again := Encode(got); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, data)
		}
	})
}

// fixUnknownBodies makes nil and empty bodies of Unknown commands equal.
func fixUnknownBodies(c Command) {
	switch c := c.(type) {
	case *Unknown:
		if len(c.Body) == 0 {
			c.Body = []byte{}
		}
	case *Batch:
		for _, ic := range c.Commands {
			fixUnknownBodies(ic)
		}
	case *SessionRequest:
		fixUnknownBodies(c.Command)
	}
}

func TestDecodeErrors(t *testing.T) {
	spawn := Encode(&Spawn{Spec: sleepSpec()})
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"unknown type", []byte{0x70}, ErrUnknownType},
		{"truncated", spawn[:len(spawn)-1], ErrMalformed},
		{"trailing", append(append([]byte(nil), spawn...), 0), ErrMalformed},
		{"version 0", []byte{byte(TypeReap), 0, 1}, ErrMalformed},
		{"future version", []byte{byte(TypeReap), 2, 1}, ErrMalformed},
		{"bad bool", []byte{byte(TypeSpawn), 1, 0, 0, 2}, ErrMalformed},
		{"huge length", []byte{byte(TypeRegistryUnlink), 1, 0xff, 0xff, 0xff, 0xff, 0x0f}, ErrMalformed},
		{"nested batch", Encode(&Batch{Commands: []Command{&Batch{}}}), ErrMalformed},
		{"session in session", Encode(&SessionRequest{RequestID: 1, Command: &SessionRequest{Command: &Tick{}}}), ErrMalformed},
		{"register in session", Encode(&SessionRequest{RequestID: 1, Command: &RegisterSession{}}), ErrMalformed},
		{"empty session command", Encode(&SessionRequest{RequestID: 1}), ErrMalformed},
		{"unknown in batch", []byte{byte(TypeBatch), 1, 1, 1, 0x70}, ErrUnknownType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(%x) = %v, %v; want error %v", tc.data, c, err, tc.want)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic. An
// entry that decodes must re-encode to an entry that decodes to the same
// command, and applying it must not panic either: every domain failure is
// a result.
func FuzzDecode(f *testing.F) {
	seeds := [][]byte{
		Encode(&Spawn{Parent: 1, Owner: "alice", Spec: sleepSpec(), Now: t0}),
		Encode(&Batch{Commands: []Command{&RegisterSession{Now: t0}, &Tick{Now: t0}}}),
		Encode(&SessionRequest{SessionID: 1, RequestID: 1, Now: t0, Command: &Signal{Target: -2, Signal: 9, Now: t0}}),
		Encode(&NodeUpsert{ID: "n1", Labels: []Label{{"a", "b"}}, Now: t0}),
		Encode(&Exited{PID: 2, Incarnation: 1, Node: "n1", Status: Status{Exited: true, Code: 1}, Now: t0}),
		Encode(&Exited{PID: 2, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: t0, Started: true}),
		Encode(&RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n1", Now: t0}),
		Seal(Encode(&Tick{Now: t0})),
		{0xf0, 1, 2},
		{},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrChecksum) {
				t.Fatalf("Decode error %v wraps none of ErrMalformed, ErrUnknownType and ErrChecksum", err)
			}
			return
		}
		again := Encode(c)
		c2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		fixUnknownBodies(c)
		fixUnknownBodies(c2)
		if !reflect.DeepEqual(normalize(c), normalize(c2)) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", c2, c)
		}
		fsm, _ := New(DefaultConfig())
		fsm.Apply(1, Encode(&NodeUpsert{ID: "n1", Now: t0}))
		fsm.Apply(2, Encode(&Spawn{Spec: sleepSpec(), Now: t0}))
		fsm.Apply(3, data)
		fsm.Apply(4, data)
	})
}

// Every value Encode accepts must decode: a 64-bit MaxRestarts used to encode
// and then fail to decode, which Apply treats as a corrupt log and panics on.
func TestEncodeDecodeLargeInts(t *testing.T) {
	cmd := &Spawn{Parent: InitPID, Spec: Spec{Command: "true", Priority: 50,
		Restart: Restart{Policy: RestartAlways, MaxRestarts: 99999999999}}, Now: 1}
	data := Encode(cmd)
	if _, err := Decode(data); err != nil {
		t.Fatalf("decode of an encoded spawn: %v", err)
	}
	f, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Apply(1, data).(*Result); r.Err != nil && r.PID == 0 && !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("apply: %v", r.Err)
	}
}

// Spawns written before the spec carried Stdin (spec version 1, in spawn
// bodies 1 and 2) still decode, and a spec without Stdin still encodes to
// exactly those bytes, so that existing logs and state hashes stay valid.
func TestSpawnOldVersionsDecode(t *testing.T) {
	want := &Spawn{Parent: 1, Owner: "alice", Spec: Spec{Command: "cat", Args: []string{"-"}, Env: []string{"A=b"},
		Limits: Limits{NoFile: Limit{Soft: 64, Hard: 64}}, Restart: Restart{Policy: RestartOnFailure, MaxRestarts: 3},
		Uses: []Use{{Kind: KindMQ, Name: "/q"}}}, Now: 7}
	const body = "0105616c696365000000010363617401012d0103413d62000000000000404000000000000000000a6f6e2d6661696c757265060000000001026d71022f71000e"
	for _, tc := range []struct {
		name  string
		hex   string
		place string
	}{
		{"spawn 1, spec 1", "0501" + body, ""},
		{"spawn 2, spec 1", "0502" + body + "026e31", "n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("got error %v, want %+v for input %s", err, want, tc.hex)
			}
			w := *want
			w.Place = tc.place
			if !reflect.DeepEqual(got, &w) {
				t.Fatalf("got %+v, want %+v for input %s", got, &w, tc.hex)
			}
			if again := Encode(got); !bytes.Equal(again, data) {
				t.Fatalf("got %x, want %x: re-encoding changed the bytes", again, data)
			}
		})
	}
}

// A spec with Stdin is written as spec version 2 and round-trips; version 2
// without Stdin set is not what the encoder writes, so it is malformed.
func TestSpecStdinVersion(t *testing.T) {
	c := &Spawn{Parent: 1, Spec: Spec{Command: "cat", Stdin: true}, Now: 7}
	data := Encode(c)
	got, err := Decode(data)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("got %+v, %v, want %+v", got, err, c)
	}
	plain := Encode(&Spawn{Parent: 1, Spec: Spec{Command: "cat"}, Now: 7})
	if len(data) != len(plain)+1 {
		t.Fatalf("got %d bytes, want %d: Stdin should add one byte to the spawn %x", len(data), len(plain)+1, plain)
	}
	// The spec's version byte follows the spawn's type, version, parent,
	// owner, new-session, new-group and join-group fields.
	const specAt = 7
	if data[specAt] != specVersionStdin || plain[specAt] != specVersion1 {
		t.Fatalf("got spec versions %d and %d, want %d and %d", data[specAt], plain[specAt], specVersionStdin, specVersion1)
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)-2] = 0 // Stdin false, before Now
	if _, err := Decode(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed for spec version 2 without stdin: %x", err, bad)
	}
}

// A session request encodes its command in place, behind a length of one
// to three bytes: the bytes are those of the command encoded on its own
// behind its length, whatever the length.
func TestSessionRequestNestsInPlace(t *testing.T) {
	for _, n := range []int{0, 1, 90, 120, 127, 128, 129, 300, 16000, 16383, 16384, 20000} {
		sp := &Spawn{Owner: "o", Spec: Spec{Command: "true", Args: []string{strings.Repeat("a", n)}}, Now: 1}
		sr := &SessionRequest{SessionID: 7, RequestID: 9, AckedBelow: 3, Now: 5, Command: sp}
		inner := Encode(sp)
		want := encoder{b: []byte{byte(TypeSessionRequest), 1}}
		want.uint(7)
		want.uint(9)
		want.uint(3)
		want.int(5)
		want.raw(inner)
		if got := Encode(sr); !bytes.Equal(got, want.b) {
			t.Fatalf("argument of %d bytes: session request encodes as %x, want %x", n, got, want.b)
		}
		c, err := Decode(Encode(sr))
		if err != nil {
			t.Fatalf("argument of %d bytes: %v", n, err)
		}
		if got := c.(*SessionRequest).Command.(*Spawn); got.Spec.Args[0] != sp.Spec.Args[0] {
			t.Fatalf("argument of %d bytes: decoded %d bytes", n, len(got.Spec.Args[0]))
		}
	}
}
