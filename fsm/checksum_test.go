package fsm

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	for _, c := range []Command{
		&Tick{Now: t0},
		&Spawn{Parent: 1, Owner: "alice", Spec: sleepSpec(), Now: t0},
		&Batch{Commands: []Command{&RegisterSession{Now: t0}, &Tick{Now: t0}}},
	} {
		plain := Encode(c)
		sealed := Seal(plain)
		if !Sealed(sealed) || Sealed(plain) {
			t.Fatalf("Sealed(%v): got sealed=%v plain=%v, want true, false", c.Type(), Sealed(sealed), Sealed(plain))
		}
		if again := Seal(sealed); string(again) != string(sealed) {
			t.Fatalf("Seal of a sealed %v entry changed it", c.Type())
		}
		got, err := Decode(sealed)
		if err != nil {
			t.Fatalf("Decode(Seal(%v)): %v", c.Type(), err)
		}
		if string(Encode(got)) != string(plain) {
			t.Fatalf("Decode(Seal(%v)) = %x, want %x", c.Type(), Encode(got), plain)
		}
	}
}

// TestSealedDamageRefused flips every bit of a sealed entry in turn: each
// flip is refused, never applied as another command.
func TestSealedDamageRefused(t *testing.T) {
	sealed := Seal(Encode(&Spawn{Parent: 1, Owner: "alice", Spec: sleepSpec(), Now: t0}))
	for i := range sealed {
		for bit := range 8 {
			d := append([]byte(nil), sealed...)
			d[i] ^= 1 << bit
			c, err := Decode(d)
			if _, skipped := c.(*Unknown); err == nil && !(i == 0 && skipped) {
				t.Fatalf("Decode with byte %d bit %d flipped: got %v, want an error", i, bit, c)
			}
			if i >= checkedHeader {
				if _, err := Decode(d); !errors.Is(err, ErrChecksum) {
					t.Fatalf("Decode with body byte %d bit %d flipped: got %v, want ErrChecksum", i, bit, err)
				}
			}
		}
	}
}

func TestSealedEntryErrors(t *testing.T) {
	good := Seal(Encode(&Tick{Now: t0}))
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"short header", good[:3], ErrMalformed},
		{"version 0", append([]byte{byte(TypeChecked), 0}, good[2:]...), ErrMalformed},
		{"future version", append([]byte{byte(TypeChecked), 9}, good[2:]...), ErrMalformed},
		{"nested", sealRaw(good), ErrMalformed},
		{"cut body", good[:len(good)-1], ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("Decode(%x): got %v, want %v", tc.data, err, tc.want)
			}
		})
	}
}

// TestApplyEntryChecksum: a damaged entry is an error naming the index,
// and the table is unchanged; Apply panics with the same message.
func TestApplyEntryChecksum(t *testing.T) {
	h := newHarness(t)
	d := Seal(Encode(&Spawn{Parent: 1, Owner: "alice", Spec: sleepSpec(), Now: t0}))
	d[len(d)-1] ^= 0x40
	before := h.f.Hash()
	out, err := h.f.ApplyEntry(7, d)
	if !errors.Is(err, ErrChecksum) || out != nil || !strings.Contains(err.Error(), "index 7") {
		t.Fatalf("ApplyEntry(damaged) = %v, %v; want nil and ErrChecksum naming index 7", out, err)
	}
	if h.f.Hash() != before || h.f.AppliedIndex() != 0 {
		t.Fatalf("a refused entry changed the table (applied index %d)", h.f.AppliedIndex())
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "checksum") {
			t.Fatalf("Apply(damaged): recovered %v, want a panic about the checksum", r)
		}
	}()
	h.f.Apply(7, d)
}

// TestUnsealedEntriesStillApply: entries written before the envelope
// decode and apply as before, and sealed ones give the same table.
func TestUnsealedEntriesStillApply(t *testing.T) {
	a, b := newHarness(t), newHarness(t)
	cmds := []Command{
		&NodeUpsert{ID: "n1", Now: t0},
		&Spawn{Parent: 1, Owner: "alice", Spec: sleepSpec(), Now: t0},
		&Batch{Commands: []Command{&Tick{Now: t0 + 1}, &Spawn{Parent: 1, Owner: "bob", Spec: sleepSpec(), Now: t0 + 1}}},
	}
	for _, c := range cmds {
		a.raw(Encode(c))
		b.raw(Seal(Encode(c)))
	}
	if a.f.Hash() != b.f.Hash() {
		t.Fatal("sealed and plain logs of the same commands give different tables")
	}
}

// sealRaw seals entry even if it is sealed already, as Seal refuses to.
func sealRaw(entry []byte) []byte {
	out := []byte{byte(TypeChecked), checkedVersion, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[2:], crc32.Checksum(entry, castagnoli))
	return append(out, entry...)
}

// BenchmarkDecodeBatch decodes a batch of 100 spawns, plain and sealed:
// the checksum's cost on every replica's apply path.
func BenchmarkDecodeBatch(b *testing.B) {
	cmds := make([]Command, 100)
	for i := range cmds {
		cmds[i] = &Spawn{Parent: 1, Owner: "alice", Spec: sleepSpec(), Now: t0}
	}
	plain := Encode(&Batch{Commands: cmds})
	for _, tc := range []struct {
		name string
		data []byte
	}{{"plain", plain}, {"sealed", Seal(plain)}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				if _, err := Decode(tc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
