package spec

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the size suffixes, largest first: powers of 1024.
var sizeUnits = []struct {
	suffix string
	mult   uint64
}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}

// sizeMult returns the multiplier of a size suffix, in upper case: "" or "B"
// for bytes, and U, "UB" or "UIB" for each unit U.
func sizeMult(suffix string) (uint64, bool) {
	if suffix == "" || suffix == "B" {
		return 1, true
	}
	for _, u := range sizeUnits {
		switch suffix {
		case u.suffix, u.suffix + "B", u.suffix + "IB":
			return u.mult, true
		}
	}
	return 0, false
}

// ParseSize parses a byte count: a plain number, or a number followed by K,
// M, G or T (powers of 1024, in either case), which may be followed by "iB"
// or "B" ("64M", "64MiB", "64mb"). A trailing "B" alone means bytes.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	if num == "" {
		return 0, syntaxError(ErrBadSize, s, "want a byte count such as 512, 64K, 64M or 1G")
	}
	mult, ok := sizeMult(strings.ToUpper(t[len(num):]))
	if !ok {
		return 0, syntaxError(ErrBadSize, s, "unknown suffix "+quote(t[len(num):])+" (want K, M, G or T)")
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, syntaxError(ErrBadSize, s, "want a byte count such as 512, 64K, 64M or 1G")
	}
	if err != nil || n > math.MaxUint64/mult {
		return 0, syntaxError(ErrBadSize, s, "too large")
	}
	return n * mult, nil
}

// FormatSize formats a byte count with the largest suffix that divides it
// exactly, such as "64M" for 67108864, and as a plain number when none does.
func FormatSize(n uint64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range sizeUnits {
		if n%u.mult == 0 {
			return strconv.FormatUint(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10)
}
