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
