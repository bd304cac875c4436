package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The process listing in rows (GET /v1/procs?format=ndjson): one Process
// a line, each the JSON object that the default answer holds in its
// processes array, and the listing's index and next page in the headers
// (HeaderIndex, HeaderNext) instead of the envelope. It exists for large
// tables: AppendProcessJSON and ParseProcessJSON encode and decode a
// Process without reflection, several times faster than encoding/json,
// which dominates a listing of a million processes otherwise.

// FormatNDJSON is the format= of the listing in rows.
const FormatNDJSON = "ndjson"

// HeaderNext carries, on a listing in rows, the after= of the next page;
// absent after the last.
const HeaderNext = "X-Vproc-Next"

// Fields is a set of a Process's JSON fields, for a listing that asks
// for some of them only (GET /v1/procs?format=ndjson&fields=pid,state):
// a listing of a million processes for a table that shows a dozen
// columns writes and reads a third less. The PID is always written.
type Fields uint32

// The fields of a Process, by JSON name.
const (
	FieldPPID Fields = 1 << iota
	FieldPgid
	FieldSid
	FieldState
	FieldMicroState
	FieldNode
	FieldCommand
	FieldArgs
	FieldPriority
	FieldExitCode
	FieldSignal
	FieldCore
	FieldReason
	FieldCPUMillis
	FieldOwner
	FieldEnv
	FieldIncarnation
	FieldRestarts
	FieldLimits
	FieldRestart
	FieldPledge
	FieldUnveil
	FieldCreatedAt
	FieldStartedAt
	FieldExitedAt
	FieldPendingReason

	// AllFields is every field: the whole Process.
	AllFields = FieldPendingReason<<1 - 1
)

type fieldName struct {
	name string
	f    Fields
}

// fieldNames names the fields as the JSON object does, pid first.
var fieldNames = [...]fieldName{
	{"pid", 0}, {"ppid", FieldPPID}, {"pgid", FieldPgid}, {"sid", FieldSid},
	{"state", FieldState}, {"micro_state", FieldMicroState}, {"node", FieldNode},
	{"command", FieldCommand}, {"args", FieldArgs}, {"priority", FieldPriority},
	{"exit_code", FieldExitCode}, {"signal", FieldSignal}, {"core", FieldCore},
	{"reason", FieldReason}, {"cpu_ms", FieldCPUMillis}, {"owner", FieldOwner},
	{"env", FieldEnv}, {"incarnation", FieldIncarnation}, {"restarts", FieldRestarts},
	{"limits", FieldLimits}, {"restart", FieldRestart}, {"pledge", FieldPledge},
	{"unveil", FieldUnveil}, {"created_at", FieldCreatedAt}, {"started_at", FieldStartedAt},
	{"exited_at", FieldExitedAt}, {"pending_reason", FieldPendingReason},
}

// ErrUnknownField is the error of ParseFields for a name that is not a
// field of a Process.
var ErrUnknownField = errors.New("unknown process field")

// ParseFields parses the fields= of a listing: JSON field names,
// comma-separated. The empty string is every field.
func ParseFields(s string) (Fields, error) {
	if s == "" {
		return AllFields, nil
	}
	var out Fields
	for name := range strings.SplitSeq(s, ",") {
		i := slices.IndexFunc(fieldNames[:], func(n fieldName) bool { return n.name == name })
		if i < 0 {
			return 0, fmt.Errorf("%w %q", ErrUnknownField, name)
		}
		out |= fieldNames[i].f
	}
	return out, nil
}

// String is f as ParseFields reads it.
func (f Fields) String() string {
	names := make([]string, 0, len(fieldNames))
	for _, n := range fieldNames {
		if n.f == 0 || f&n.f != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// AppendProcessJSON appends p as encoding/json (with HTML escaping off)
// writes it, without the newline.
func AppendProcessJSON(b []byte, p *Process) []byte {
	return AppendProcessFields(b, p, AllFields)
}

// AppendProcessFields appends the fields f of p (and its PID) as one JSON
// object, in the order and the form of AppendProcessJSON.
func AppendProcessFields(b []byte, p *Process, f Fields) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendUint(b, p.PID, 10)
	if f&FieldPPID != 0 {
		b = append(b, `,"ppid":`...)
		b = strconv.AppendUint(b, p.PPID, 10)
	}
	if f&FieldPgid != 0 {
		b = append(b, `,"pgid":`...)
		b = strconv.AppendUint(b, p.Pgid, 10)
	}
	if f&FieldSid != 0 {
		b = append(b, `,"sid":`...)
		b = strconv.AppendUint(b, p.Sid, 10)
	}
	if f&FieldState != 0 {
		b = appendStrField(b, "state", p.State)
	}
	if f&FieldMicroState != 0 {
		b = appendStrField(b, "micro_state", p.MicroState)
	}
	if f&FieldNode != 0 {
		b = appendStrField(b, "node", p.Node)
	}
	if f&FieldCommand != 0 {
		b = appendStrField(b, "command", p.Command)
	}
	if f&FieldArgs != 0 {
		b = append(b, `,"args":`...)
		b = appendStrs(b, p.Args)
	}
	if f&FieldPriority != 0 {
		b = append(b, `,"priority":`...)
		b = strconv.AppendInt(b, int64(p.Priority), 10)
	}
	if f&FieldExitCode != 0 {
		b = appendIntPtr(b, "exit_code", p.ExitCode)
	}
	if f&FieldSignal != 0 {
		b = appendIntPtr(b, "signal", p.Signal)
	}
	if f&FieldCore != 0 && p.Core {
		b = append(b, `,"core":true`...)
	}
	if f&FieldReason != 0 && p.Reason != "" {
		b = appendStrField(b, "reason", p.Reason)
	}
	if f&FieldCPUMillis != 0 {
		b = append(b, `,"cpu_ms":`...)
		b = strconv.AppendInt(b, p.CPUMillis, 10)
	}
	if f&FieldOwner != 0 {
		b = appendStrField(b, "owner", p.Owner)
	}
	if f&FieldEnv != 0 && len(p.Env) > 0 {
		b = append(b, `,"env":`...)
		b = appendStrs(b, p.Env)
	}
	if f&FieldIncarnation != 0 {
		b = append(b, `,"incarnation":`...)
		b = strconv.AppendUint(b, p.Incarnation, 10)
	}
	if f&FieldRestarts != 0 {
		b = append(b, `,"restarts":`...)
		b = strconv.AppendInt(b, int64(p.Restarts), 10)
	}
	for _, o := range [...]struct {
		f    Fields
		k, v string
	}{{FieldLimits, "limits", p.Limits}, {FieldRestart, "restart", p.Restart}, {FieldPledge, "pledge", p.Pledge}} {
		if f&o.f != 0 && o.v != "" {
			b = appendStrField(b, o.k, o.v)
		}
	}
	if f&FieldUnveil != 0 && len(p.Unveil) > 0 {
		b = append(b, `,"unveil":`...)
		b = appendStrs(b, p.Unveil)
	}
	if f&FieldCreatedAt != 0 {
		b = append(b, `,"created_at":`...)
		b = appendTime(b, p.CreatedAt)
	}
	if f&FieldStartedAt != 0 && !p.StartedAt.IsZero() {
		b = append(b, `,"started_at":`...)
		b = appendTime(b, p.StartedAt)
	}
	if f&FieldExitedAt != 0 && !p.ExitedAt.IsZero() {
		b = append(b, `,"exited_at":`...)
		b = appendTime(b, p.ExitedAt)
	}
	if f&FieldPendingReason != 0 && p.PendingReason != "" {
		b = appendStrField(b, "pending_reason", p.PendingReason)
	}
	return append(b, '}')
}

func appendStrField(b []byte, k, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

func appendIntPtr(b []byte, k string, v *int) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*v), 10)
}

func appendStrs(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json does
// with HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// errSlowPath makes ParseProcessJSON hand a line to encoding/json.
var errSlowPath = errors.New("not on the fast path")

// ParseProcessJSON decodes one JSON object into p, which it resets first,
// as json.Unmarshal would: unknown fields are skipped. It reads the shapes
// AppendProcessJSON writes without reflection and hands anything else
// (escapes it does not expect, numbers with a fraction, invalid UTF-8) to
// encoding/json, so it accepts exactly what encoding/json accepts.
func ParseProcessJSON(line []byte, p *Process) error {
	*p = Process{}
	s := scanner{b: line}
	if len(line) <= maxSharedLine {
		s.str = string(line)
	}
	if err := s.object(p); err == nil && s.end() {
		return nil
	}
	*p = Process{}
	return json.Unmarshal(line, p)
}

// scanner is the fast path of ParseProcessJSON: any error sends the line
// to encoding/json.
type scanner struct {
	b []byte
	i int
	// str is b as a string, when set: the strings read are cut from it,
	// one allocation a line rather than one a string.
	str string
}

// maxSharedLine bounds the lines whose strings share one allocation: a
// process kept from a larger line (large arguments or environment) would
// keep all of it alive for a single field.
const maxSharedLine = 4 << 10

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// eat consumes c after white space.
func (s *scanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) lit(word string) bool {
	s.ws()
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// rawString returns the bytes of a string without escapes.
func (s *scanner) rawString() ([]byte, error) {
	start, end, err := s.rawSpan()
	if err != nil {
		return nil, err
	}
	return s.b[start:end], nil
}

// rawSpan returns where in b the bytes of a string without escapes are.
func (s *scanner) rawSpan() (start, end int, err error) {
	if !s.eat('"') {
		return 0, 0, errSlowPath
	}
	start = s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		if !strSpecial[c] {
			s.i++
			continue
		}
		switch {
		case c == '"':
			end = s.i
			s.i++
			if !ascii && !utf8.Valid(s.b[start:end]) {
				return 0, 0, errSlowPath
			}
			return start, end, nil
		case c >= utf8.RuneSelf:
			ascii = false
			s.i++
		default: // an escape or a control character
			return 0, 0, errSlowPath
		}
	}
	return 0, 0, errSlowPath
}

// strSpecial marks the bytes that end a run of plain ASCII in a string:
// the quote, the backslash, control characters and non-ASCII bytes.
var strSpecial = func() (t [256]bool) {
	for c := range t {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

func (s *scanner) string() (string, error) {
	start, end, err := s.rawSpan()
	switch {
	case err != nil:
		return "", err
	case s.str != "":
		return s.str[start:end], nil
	}
	return string(s.b[start:end]), nil
}

func (s *scanner) strs() ([]string, error) {
	if s.lit("null") {
		return nil, nil
	}
	if !s.eat('[') {
		return nil, errSlowPath
	}
	out := []string{}
	if s.eat(']') {
		return out, nil
	}
	for {
		v, err := s.string()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if s.eat(']') {
			return out, nil
		}
		if !s.eat(',') {
			return nil, errSlowPath
		}
	}
}

// uint reads a non-negative integer without fraction or exponent.
func (s *scanner) uint(bits int) (uint64, error) {
	s.ws()
	start := s.i
	var v uint64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		d := uint64(s.b[s.i] - '0')
		if v > (1<<bits-1-d)/10 {
			return 0, errSlowPath
		}
		v = v*10 + d
		s.i++
	}
	n := s.i - start
	if n == 0 || n > 1 && s.b[start] == '0' || s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, errSlowPath
	}
	return v, nil
}

func (s *scanner) int(bits int) (int64, error) {
	s.ws()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] < '0' || s.b[s.i] > '9') {
			return 0, errSlowPath
		}
	}
	v, err := s.uint(bits - 1)
	if neg {
		return -int64(v), err
	}
	return int64(v), err
}

func (s *scanner) intPtr() (*int, error) {
	if s.lit("null") {
		return nil, nil
	}
	v, err := s.int(strconv.IntSize)
	n := int(v)
	return &n, err
}

func (s *scanner) time() (time.Time, error) {
	if s.lit("null") {
		return time.Time{}, nil
	}
	start, end, err := s.rawSpan()
	if err != nil {
		return time.Time{}, err
	}
	if t, ok := parseUTC(s.b[start:end]); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(s.b[start:end]))
	if err != nil {
		return time.Time{}, errSlowPath
	}
	return t, nil
}

// parseUTC reads the form AppendProcessJSON writes a time in UTC:
// 2006-01-02T15:04:05Z with up to nine digits of fraction, as time.Parse
// would with time.RFC3339Nano; false for any other form or a date or
// time out of range, which time.Parse then judges.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec := num(11, 2), num(14, 2), num(17, 2)
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	switch frac := b[19 : len(b)-1]; {
	case len(frac) == 0:
	case len(frac) < 2 || len(frac) > 10 || frac[0] != '.':
		return time.Time{}, false
	default:
		if nsec = num(20, len(frac)-1); nsec < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// skip consumes one value of any kind.
func (s *scanner) skip(depth int) error {
	if depth > 64 {
		return errSlowPath
	}
	s.ws()
	if s.i >= len(s.b) {
		return errSlowPath
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, err := s.rawString()
		return err
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		s.i++
		if s.eat(closer) {
			return nil
		}
		for {
			if c == '{' {
				if _, err := s.rawString(); err != nil || !s.eat(':') {
					return errSlowPath
				}
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			if s.eat(closer) {
				return nil
			}
			if !s.eat(',') {
				return errSlowPath
			}
		}
	case s.lit("true"), s.lit("false"), s.lit("null"):
		return nil
	default:
		_, err := s.int(64)
		return err
	}
}

func (s *scanner) object(p *Process) error {
	if !s.eat('{') {
		return errSlowPath
	}
	if s.eat('}') {
		return nil
	}
	for {
		key, err := s.rawString()
		if err != nil || !s.eat(':') {
			return errSlowPath
		}
		if err := s.field(p, key); err != nil {
			return err
		}
		if s.eat('}') {
			return nil
		}
		if !s.eat(',') {
			return errSlowPath
		}
	}
}

// field reads the value of key into p. Keys match exactly; encoding/json
// also matches them without regard to case, which the slow path does.
func (s *scanner) field(p *Process, key []byte) error {
	var err error
	var i int64
	switch string(key) {
	case "pid":
		p.PID, err = s.uint(64)
	case "ppid":
		p.PPID, err = s.uint(64)
	case "pgid":
		p.Pgid, err = s.uint(64)
	case "sid":
		p.Sid, err = s.uint(64)
	case "incarnation":
		p.Incarnation, err = s.uint(64)
	case "state":
		p.State, err = s.string()
	case "micro_state":
		p.MicroState, err = s.string()
	case "node":
		p.Node, err = s.string()
	case "command":
		p.Command, err = s.string()
	case "args":
		p.Args, err = s.strs()
	case "env":
		p.Env, err = s.strs()
	case "unveil":
		p.Unveil, err = s.strs()
	case "priority":
		i, err = s.int(strconv.IntSize)
		p.Priority = int(i)
	case "restarts":
		i, err = s.int(strconv.IntSize)
		p.Restarts = int(i)
	case "cpu_ms":
		p.CPUMillis, err = s.int(64)
	case "exit_code":
		p.ExitCode, err = s.intPtr()
	case "signal":
		p.Signal, err = s.intPtr()
	case "core":
		switch {
		case s.lit("true"):
			p.Core = true
		case s.lit("false"), s.lit("null"):
			p.Core = false
		default:
			err = errSlowPath
		}
	case "reason":
		p.Reason, err = s.string()
	case "owner":
		p.Owner, err = s.string()
	case "limits":
		p.Limits, err = s.string()
	case "restart":
		p.Restart, err = s.string()
	case "pledge":
		p.Pledge, err = s.string()
	case "pending_reason":
		p.PendingReason, err = s.string()
	case "created_at":
		p.CreatedAt, err = s.time()
	case "started_at":
		p.StartedAt, err = s.time()
	case "exited_at":
		p.ExitedAt, err = s.time()
	default:
		for _, c := range key {
			if c >= 'A' && c <= 'Z' {
				return errSlowPath // may match a field regardless of case
			}
		}
		err = s.skip(0)
	}
	return err
}
