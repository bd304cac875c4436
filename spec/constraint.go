package spec

import "strings"

// Constraint requires the node to carry the label Label with the value
// Value (`spawn --constraint label=value`).
type Constraint struct {
	Label string
	Value string
}

// ParseConstraint parses "label=value". Blanks around the label and the
// value are dropped; the label must not be empty, the value may be.
func ParseConstraint(s string) (Constraint, error) {
	label, value, ok := strings.Cut(s, "=")
	label = strings.TrimSpace(label)
	if !ok || label == "" {
		return Constraint{}, syntaxError(ErrBadConstraint, s, "want label=value")
	}
	return Constraint{Label: label, Value: strings.TrimSpace(value)}, nil
}

// ParseConstraints parses one constraint per argument, as repeated
// --constraint flags give them.
func ParseConstraints(items ...string) ([]Constraint, error) {
	var out []Constraint
	for _, it := range items {
		c, err := ParseConstraint(it)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// String returns the constraint as "label=value".
func (c Constraint) String() string { return c.Label + "=" + c.Value }
