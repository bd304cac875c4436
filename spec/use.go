package spec

import "strings"

// Kind is the kind of a named IPC object.
type Kind string

// The named IPC object kinds.
const (
	// KindFIFO is a named pipe. FIFOs work from any node.
	KindFIFO Kind = "fifo"
	// KindMQ is a message queue. Queues work from any node.
	KindMQ Kind = "mq"
	// KindSHM is a shared-memory segment. Segments are node-local.
	KindSHM Kind = "shm"
)

// Valid reports whether k is one of the three kinds.
func (k Kind) Valid() bool { return k == KindFIFO || k == KindMQ || k == KindSHM }

// Use declares a named IPC object that a process uses, so that placement
// can follow it (`spawn --uses mq:/q`).
type Use struct {
	Kind Kind
	Name string
}

// ParseUse parses one object written as "kind:name", where kind is fifo,
// mq or shm, in any case, and name starts with "/" ("shm:/seg").
func ParseUse(s string) (Use, error) {
	k, name, ok := strings.Cut(strings.TrimSpace(s), ":")
	kind := Kind(strings.ToLower(strings.TrimSpace(k)))
	name = strings.TrimSpace(name)
	switch {
	case !ok || name == "":
		return Use{}, syntaxError(ErrBadUse, s, "want mq:/name, fifo:/path or shm:/name")
	case !kind.Valid():
		return Use{}, syntaxError(ErrBadUse, s, "kind must be mq, fifo or shm")
	case !strings.HasPrefix(name, "/"):
		return Use{}, syntaxError(ErrBadUse, s, "the name must start with /")
	}
	return Use{Kind: kind, Name: name}, nil
}

// ParseUses parses comma-separated lists of objects, one list per
// argument, as repeated --uses flags give them
// ("mq:/q,fifo:/run/f,shm:/s"). Empty entries are skipped.
func ParseUses(lists ...string) ([]Use, error) {
	var out []Use
	for _, list := range lists {
		for _, it := range strings.Split(list, ",") {
			if strings.TrimSpace(it) == "" {
				continue
			}
			u, err := ParseUse(it)
			if err != nil {
				return nil, err
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// String returns the object as "kind:name".
func (u Use) String() string { return string(u.Kind) + ":" + u.Name }

// FormatUses formats uses as one comma-separated list, the form ParseUses
// reads.
func FormatUses(uses []Use) string {
	parts := make([]string, len(uses))
	for i, u := range uses {
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
