package builtins

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// printf(1)'s format, as bash's builtin reads it: the escapes of the
// format, %% and the conversions d i o u x X c s b q e E f F g G with the
// flags - + space # 0, a width and a precision (either may be *). A missing
// argument is an empty string or zero; a bad number is reported and read
// as far as it goes, and makes the status 1.

// printfState formats one pass of the format over some arguments.
type printfState struct {
	args []string
	used int
	bad  []string // diagnostics of bad numbers
	stop bool     // \c in %b: no more output at all
}

// next returns the next argument, "" once they are used up.
func (p *printfState) next() string {
	if p.used >= len(p.args) {
		p.used++
		return ""
	}
	p.used++
	return p.args[p.used-1]
}

// number reads an argument as printf's integers: decimal, 0x hex, 0 octal,
// or 'c (the character's code).
func (p *printfState) number(s string) int64 {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0
	}
	if t[0] == '\'' || t[0] == '"' {
		if len(t) == 1 {
			return 0
		}
		r, _ := utf8.DecodeRuneInString(t[1:])
		return int64(r)
	}
	n, err := strconv.ParseInt(t, 0, 64)
	if err != nil {
		if u, uerr := strconv.ParseUint(t, 0, 64); uerr == nil {
			return int64(u)
		}
		p.bad = append(p.bad, s+": invalid number")
		// Read the leading digits, as strtol does.
		i := 0
		if i < len(t) && (t[i] == '-' || t[i] == '+') {
			i++
		}
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		n, _ = strconv.ParseInt(t[:i], 10, 64)
	}
	return n
}

// float reads an argument as a floating-point number.
func (p *printfState) float(s string) float64 {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0
	}
	if t[0] == '\'' || t[0] == '"' {
		return float64(p.number(t))
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		p.bad = append(p.bad, s+": invalid number")
	}
	return f
}

// printfFormat formats args with format once and returns the output and
// how many arguments it used.
func printfFormat(format string, args []string) (out string, used int, bad []string, stop bool) {
	p := &printfState{args: args}
	var b strings.Builder
	for i := 0; i < len(format) && !p.stop; i++ {
		c := format[i]
		switch {
		case c == '\\':
			n := printfEscape(&b, format[i:], false)
			if n < 0 {
				return b.String(), p.used, p.bad, true
			}
			i += n - 1
		case c == '%' && i+1 < len(format) && format[i+1] == '%':
			b.WriteByte('%')
			i++
		case c == '%':
			i += p.directive(&b, format[i:]) - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), p.used, p.bad, p.stop
}

// directive formats one % conversion at the start of f and returns its
// length.
func (p *printfState) directive(b *strings.Builder, f string) int {
	i := 1
	for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
		i++
	}
	flags := f[1:i]
	width, prec := "", ""
	if i < len(f) && f[i] == '*' {
		width = strconv.FormatInt(p.number(p.next()), 10)
		i++
	} else {
		j := i
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i++
		}
		width = f[j:i]
	}
	hasPrec := false
	if i < len(f) && f[i] == '.' {
		hasPrec = true
		i++
		if i < len(f) && f[i] == '*' {
			prec = strconv.FormatInt(p.number(p.next()), 10)
			i++
		} else {
			j := i
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
			}
			prec = f[j:i]
		}
	}
	if i >= len(f) {
		b.WriteString(f)
		return len(f)
	}
	conv := f[i]
	spec := "%" + flags + width
	if !hasPrec && (conv == 'g' || conv == 'G') {
		hasPrec, prec = true, "6" // C's default, where Go's is the shortest
	}
	if hasPrec {
		spec += "." + prec
		if prec == "" {
			spec += "0"
		}
	}
	switch conv {
	case 'd', 'i':
		fmt.Fprintf(b, spec+"d", p.number(p.next()))
	case 'u':
		fmt.Fprintf(b, spec+"d", uint64(p.number(p.next())))
	case 'o':
		fmt.Fprintf(b, spec+"o", uint64(p.number(p.next())))
	case 'x', 'X':
		fmt.Fprintf(b, spec+string(conv), uint64(p.number(p.next())))
	case 'e', 'E', 'f', 'F', 'g', 'G':
		if conv == 'F' {
			conv = 'f'
		}
		fmt.Fprintf(b, spec+string(conv), p.float(p.next()))
	case 'c':
		s := p.next()
		if s != "" {
			s = s[:1]
		}
		fmt.Fprintf(b, "%"+flags+width+"s", s)
	case 's':
		fmt.Fprintf(b, spec+"s", p.next())
	case 'b':
		var e strings.Builder
		s := p.next()
		for k := 0; k < len(s); k++ {
			if s[k] != '\\' {
				e.WriteByte(s[k])
				continue
			}
			n := printfEscape(&e, s[k:], true)
			if n < 0 {
				p.stop = true
				break
			}
			k += n - 1
		}
		fmt.Fprintf(b, spec+"s", e.String())
	case 'q':
		fmt.Fprintf(b, "%"+flags+width+"s", printfQuote(p.next()))
	default:
		p.bad = append(p.bad, "%"+string(conv)+": invalid format character")
		b.WriteString(f[:i+1])
	}
	return i + 1
}

// printfEscape writes the escape at the start of s and returns its length;
// -1 for \c, which ends the output. In %b an octal escape is \0NNN, in a
// format \NNN.
func printfEscape(b *strings.Builder, s string, inB bool) int {
	if len(s) < 2 {
		b.WriteByte('\\')
		return 1
	}
	switch c := s[1]; c {
	case 'a':
		b.WriteByte('\a')
	case 'b':
		b.WriteByte('\b')
	case 'e', 'E':
		b.WriteByte(0x1b)
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'v':
		b.WriteByte('\v')
	case '\\':
		b.WriteByte('\\')
	case '"', '\'':
		if inB {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	case 'c':
		if inB {
			return -1
		}
		b.WriteString(`\c`)
	case 'x':
		j := 2
		for j < len(s) && j < 4 && strings.IndexByte("0123456789abcdefABCDEF", s[j]) >= 0 {
			j++
		}
		if j == 2 {
			b.WriteString(`\x`)
			return 2
		}
		n, _ := strconv.ParseUint(s[2:j], 16, 8)
		b.WriteByte(byte(n))
		return j
	case '0', '1', '2', '3', '4', '5', '6', '7':
		start, limit := 1, 4
		if inB {
			if c != '0' {
				b.WriteString(s[:2])
				return 2
			}
			start, limit = 2, 5
		}
		j := start
		for j < len(s) && j < limit && s[j] >= '0' && s[j] <= '7' {
			j++
		}
		n, _ := strconv.ParseUint("0"+s[start:j], 8, 16)
		b.WriteByte(byte(n))
		return j
	default:
		b.WriteString(s[:2])
	}
	return 2
}

// printfQuote quotes s for reuse as shell input, as %q does: backslashes
// before the characters the shell would read otherwise, and a pair of
// single quotes for the empty string.
func printfQuote(s string) string {
	if s == "" {
		return "''"
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:=@%+,^", r)) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
