package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// anyString draws strings of every kind a process may carry: plain text,
// quotes and backslashes, control characters, invalid UTF-8, U+2028.
func anyString() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.StringMatching(`[a-z0-9 ./=-]{0,12}`),
		rapid.String(),
		rapid.Custom(func(t *rapid.T) string {
			parts := rapid.SliceOfN(rapid.SampledFrom([]string{
				"a", "\"", "\\", "\n", "\t", "\b", "\f", "\r", "\x00", "\x1f", "\x7f", "<&>",
				"\u2028", "\u2029", "é", "\xff", "\xe2\x82", "😀", "/",
			}), 0, 8).Draw(t, "parts")
			var b bytes.Buffer
			for _, p := range parts {
				b.WriteString(p)
			}
			return b.String()
		}),
	)
}

func anyProcess(t *rapid.T) Process {
	str := func(name string) string { return anyString().Draw(t, name) }
	strs := func(name string) []string {
		if rapid.Bool().Draw(t, name+"-nil") {
			return nil
		}
		return rapid.SliceOfN(anyString(), 0, 4).Draw(t, name)
	}
	optInt := func(name string) *int {
		if rapid.Bool().Draw(t, name+"-nil") {
			return nil
		}
		v := rapid.Int().Draw(t, name)
		return &v
	}
	tm := func(name string) time.Time {
		if rapid.Bool().Draw(t, name+"-zero") {
			return time.Time{}
		}
		return time.Unix(0, rapid.Int64Range(0, 1<<62).Draw(t, name)).UTC()
	}
	return Process{
		PID: rapid.Uint64().Draw(t, "pid"), PPID: rapid.Uint64().Draw(t, "ppid"),
		Pgid: rapid.Uint64().Draw(t, "pgid"), Sid: rapid.Uint64().Draw(t, "sid"),
		State: str("state"), MicroState: str("micro"), Node: str("node"), Command: str("command"),
		Args: strs("args"), Priority: rapid.Int().Draw(t, "priority"),
		ExitCode: optInt("exit"), Signal: optInt("signal"), Core: rapid.Bool().Draw(t, "core"),
		Reason: str("reason"), CPUMillis: rapid.Int64().Draw(t, "cpu"), Owner: str("owner"),
		Env: strs("env"), Incarnation: rapid.Uint64().Draw(t, "inc"), Restarts: rapid.Int().Draw(t, "restarts"),
		Limits: str("limits"), Restart: str("restart"), Pledge: str("pledge"), Unveil: strs("unveil"),
		CreatedAt: tm("created"), StartedAt: tm("started"), ExitedAt: tm("exited"),
		PendingReason: str("pending"),
	}
}

// stdJSON is encoding/json's encoding of p, HTML escaping off, without
// the newline.
func stdJSON(t *rapid.T, p *Process) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// TestProcessJSONMatchesEncodingJSON: AppendProcessJSON writes what
// encoding/json writes, byte for byte, and ParseProcessJSON reads back
// what json.Unmarshal reads, from its own lines and encoding/json's.
func TestProcessJSONMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := anyProcess(t)
		want := stdJSON(t, &p)
		got := AppendProcessJSON(nil, &p)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendProcessJSON:\n got %s\nwant %s", got, want)
		}
		var ref Process
		if err := json.Unmarshal(want, &ref); err != nil {
			t.Fatal(err)
		}
		var back Process
		back.Node = "left over" // ParseProcessJSON resets its target
		if err := ParseProcessJSON(got, &back); err != nil {
			t.Fatalf("ParseProcessJSON(%s): %v", got, err)
		}
		if !reflect.DeepEqual(back, ref) {
			t.Fatalf("ParseProcessJSON(%s):\n got %+v\nwant %+v", got, back, ref)
		}
	})
}

// TestParseProcessJSONLikeUnmarshal: on other shapes (white space,
// unknown fields of every kind, escapes, numbers past the fast path,
// keys in another case, bad input) ParseProcessJSON answers as
// json.Unmarshal does.
func TestParseProcessJSONLikeUnmarshal(t *testing.T) {
	for _, line := range []string{
		`{}`,
		` { "pid" : 7 , "args" : [ "a" , "b" ] , "exit_code" : null } `,
		`{"pid":7,"extra":{"a":[1,2,{"b":null}],"c":"d\"e"},"more":[true,false,-1.5e3],"state":"exited"}`,
		`{"command":"a\u00e9\n\"b","args":["\ud83d\ude00"]}`,
		`{"PID":9,"State":"running"}`,
		`{"pid":1.5}`,
		`{"pid":-1}`,
		`{"pid":18446744073709551616}`,
		`{"priority":-12,"cpu_ms":-3,"exit_code":255,"signal":15,"core":true}`,
		`{"created_at":"2026-12-07T04:05:06.123456789+01:00","started_at":null}`,
		`{"created_at":"yesterday"}`,
		`{"pid":7`,
		`{"pid":7}}`,
		`[1]`,
		`{"args":["a",]}`,
		`{"core":"yes"}`,
		"{\"node\":\"\xff\"}",
		`{"pid":007}`,
		`{"created_at":"2024-02-29T00:00:00Z","started_at":"2026-12-07T23:59:59.5Z"}`,
		`{"created_at":"2023-02-29T00:00:00Z"}`,
		`{"created_at":"2026-04-31T00:00:00Z"}`,
		`{"created_at":"2026-12-07T23:59:60Z"}`,
		`{"created_at":"2026-12-07T24:00:00Z"}`,
		`{"created_at":"2026-13-07T04:05:06Z"}`,
		`{"created_at":"2026-12-07T04:05:06.Z"}`,
		`{"created_at":"2026-12-07T04:05:06.1234567890Z"}`,
		`{"created_at":"2026-12-07T04:05:06.000000001Z"}`,
		`{"created_at":"0000-01-01T00:00:00Z"}`,
		`{"created_at":"2026-12-07t04:05:06z"}`,
		`{"created_at":"2026-12-07T04:05:06+00:00"}`,
		`{"created_at":"2026-12-07T4:05:06Z"}`,
		`{"created_at":"-026-12-07T04:05:06Z"}`,
	} {
		var want, got Process
		werr := json.Unmarshal([]byte(line), &want)
		gerr := ParseProcessJSON([]byte(line), &got)
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%s: got error %v, json.Unmarshal %v", line, gerr, werr)
			continue
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", line, got, want)
		}
	}
}

// TestProcessFields: a listing asking for some fields writes the PID and
// those, as encoding/json writes them, and nothing else; ParseFields
// reads every field's name and String writes them back.
func TestProcessFields(t *testing.T) {
	typ := reflect.TypeFor[Process]()
	var names []string
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	if all, err := ParseFields(strings.Join(names, ",")); err != nil || all != AllFields || all.String() != strings.Join(names, ",") {
		t.Fatalf("ParseFields(every field) = %v (%s), %v; want AllFields", all, all, err)
	}
	if _, err := ParseFields("pid,nosuch"); !errors.Is(err, ErrUnknownField) || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Fatalf("ParseFields(nosuch): %v, want ErrUnknownField naming it", err)
	}
	rapid.Check(t, func(t *rapid.T) {
		p := anyProcess(t)
		chosen := rapid.SliceOfDistinct(rapid.SampledFrom(names), rapid.ID).Draw(t, "fields")
		f, err := ParseFields(strings.Join(chosen, ","))
		if err != nil {
			t.Fatal(err)
		}
		if len(chosen) == 0 {
			f = 0 // the empty list is every field; here it stands for the PID alone
		}
		// What it must write: encoding/json's line for p with the other
		// fields zero, read back.
		kept := p
		v := reflect.ValueOf(&kept).Elem()
		for i, name := range names {
			if name != "pid" && !slices.Contains(chosen, name) {
				v.Field(i).SetZero()
			}
		}
		var want, got Process
		if err := json.Unmarshal(stdJSON(t, &kept), &want); err != nil {
			t.Fatal(err)
		}
		line := AppendProcessFields(nil, &p, f)
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(line, &keys); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		for k := range keys {
			if k != "pid" && !slices.Contains(chosen, k) {
				t.Fatalf("fields %v: %s carries %q", chosen, line, k)
			}
		}
		if err := ParseProcessJSON(line, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fields %v: %s\n got %+v\nwant %+v", chosen, line, got, want)
		}
	})
}

func BenchmarkProcessJSON(b *testing.B) {
	code := 0
	p := Process{PID: 123456, PPID: 1, Pgid: 123456, Sid: 123456, State: "exited", Node: "n1",
		Command: "sh", Args: []string{"-c", "echo job 123456; true"}, Priority: 50, ExitCode: &code,
		Owner: "root", Incarnation: 1, Restart: "never", CreatedAt: time.Now().UTC(),
		StartedAt: time.Now().UTC(), ExitedAt: time.Now().UTC()}
	line := AppendProcessJSON(nil, &p)
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for range b.N {
			buf = AppendProcessJSON(buf[:0], &p)
		}
	})
	b.Run("parse", func(b *testing.B) {
		var q Process
		for range b.N {
			if err := ParseProcessJSON(line, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-marshal", func(b *testing.B) {
		for range b.N {
			if _, err := json.Marshal(&p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-unmarshal", func(b *testing.B) {
		var q Process
		for range b.N {
			q = Process{}
			if err := json.Unmarshal(line, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestParseProcessJSONOwnsStrings: the strings of a parsed process are
// its own, whether the line shares one allocation among them or is too
// long to: the caller reuses the line's buffer.
func TestParseProcessJSONOwnsStrings(t *testing.T) {
	for _, n := range []int{8, maxSharedLine} {
		p := Process{PID: 3, State: "exited", Node: "n1", Command: "sh", Args: []string{"-c", strings.Repeat("x", n)},
			Owner: "root", Restart: "never", CreatedAt: time.Unix(1, 5).UTC()}
		line := AppendProcessJSON(nil, &p)
		var got Process
		if err := ParseProcessJSON(line, &got); err != nil {
			t.Fatal(err)
		}
		for i := range line {
			line[i] = 'z'
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("line of %d bytes, after its buffer was overwritten:\n got %+v\nwant %+v", len(line), got, p)
		}
	}
}
