package spec

import (
	"strings"
	"time"
)

// ParseDuration parses a Go duration that is not negative: "500ms", "2s",
// "1m", "1h30m".
func ParseDuration(s string) (time.Duration, error) {
	in := s
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, syntaxError(ErrBadDuration, in, "want a duration such as 500ms, 2s or 1m")
	}
	if d < 0 {
		return 0, syntaxError(ErrBadDuration, in, "negative")
	}
	return d, nil
}

// FormatDuration formats d as time.Duration.String does, without its
// trailing zero units: "1m" rather than "1m0s", "1h" rather than "1h0m0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
