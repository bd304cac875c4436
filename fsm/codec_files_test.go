package fsm

import (
	"errors"
	"reflect"
	"testing"
)

// A spec with inherited Files is written as spec version 3 and round-trips,
// Stdin or not; every older spec keeps its version; version 3 without
// files is not what the encoder writes, so it is malformed.
func TestSpecFilesVersion(t *testing.T) {
	files := []FileRef{{Fd: 0, Node: "n1", Export: 3, Flags: 0}, {Fd: 1, Node: "n1", Export: 4, Flags: 0x801}, {Fd: 2, Node: "n1", Export: 4, Flags: 0x801}}
	for _, stdin := range []bool{false, true} {
		c := &Spawn{Parent: 9, Spec: Spec{Command: "wc", Node: "n2", Stdin: stdin, Files: files}, Now: 7}
		data := Encode(c)
		got, err := Decode(data)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("got %+v, %v, want %+v", got, err, c)
		}
		const specAt = 7
		if data[specAt] != specVersionFiles {
			t.Fatalf("got spec version %d, want %d for stdin=%v", data[specAt], specVersionFiles, stdin)
		}
	}
	plain := Encode(&Spawn{Parent: 9, Spec: Spec{Command: "wc"}, Now: 7})
	if plain[7] != specVersion1 {
		t.Fatalf("got spec version %d, want %d without files", plain[7], specVersion1)
	}
	// Version 3 with a zero count of files: replace the version byte of a
	// stdin spec and add the empty count before Now.
	stdin := Encode(&Spawn{Parent: 9, Spec: Spec{Command: "wc", Stdin: true}, Now: 7})
	bad := append([]byte(nil), stdin[:len(stdin)-1]...)
	bad[7] = specVersionFiles
	bad = append(bad, 0, stdin[len(stdin)-1])
	if _, err := Decode(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed for spec version 3 without files: %x", err, bad)
	}
}

// A spawn whose inherited descriptors name no node or export, or a
// negative descriptor, is refused as invalid; a good one is recorded.
func TestSpawnFilesValidated(t *testing.T) {
	f, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var index uint64
	apply := func(cmd Command) *Result {
		index++
		return f.Apply(index, Encode(cmd)).(*Result)
	}
	parent := apply(&Spawn{Spec: Spec{Command: "sh"}, Now: 1}).PID
	for _, tc := range []struct {
		name string
		ref  FileRef
		ok   bool
	}{
		{"good", FileRef{Fd: 1, Node: "n1", Export: 2}, true},
		{"negative descriptor", FileRef{Fd: -1, Node: "n1", Export: 2}, false},
		{"no node", FileRef{Fd: 1, Export: 2}, false},
		{"no export", FileRef{Fd: 1, Node: "n1"}, false},
	} {
		res := apply(&Spawn{Parent: parent, Spec: Spec{Command: "cat", Node: "n2", Files: []FileRef{tc.ref}}, Now: 2})
		if (res.Err == nil) != tc.ok || (!tc.ok && !errors.Is(res.Err, ErrInvalid)) {
			t.Fatalf("%s: got %v, want ok %v (ErrInvalid otherwise)", tc.name, res.Err, tc.ok)
		}
		if tc.ok {
			if p, found := f.View().Get(res.PID); !found || !reflect.DeepEqual(p.Spec.Files, []FileRef{tc.ref}) {
				t.Fatalf("%s: recorded %+v, want files %+v", tc.name, p.Spec.Files, tc.ref)
			}
		}
	}
}
