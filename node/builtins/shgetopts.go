package builtins

import (
	"strconv"
	"strings"
)

// builtinGetopts is getopts OPTSTRING NAME [ARG...]: it reads the next
// option of ARG (the positional parameters without them), as POSIX says,
// keeping its place in $OPTIND and, within a group such as -ab, in the
// shell.
func (sh *shell) builtinGetopts(args []string) int {
	if len(args) < 2 {
		sh.errorf("getopts: usage: getopts optstring name [arg ...]")
		return 2
	}
	optstring, name, argv := args[0], args[1], args[2:]
	if len(args) == 2 {
		argv = sh.params
	}
	silent := strings.HasPrefix(optstring, ":")
	ind := 1
	if v, ok := sh.lookup("OPTIND"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			ind = n
		}
	}
	if ind != sh.optInd {
		sh.optInd, sh.optPos = ind, 1 // OPTIND was set: start afresh
	}
	done := func() int {
		sh.setVar(name, "?")
		sh.setVar("OPTIND", strconv.Itoa(ind))
		sh.optInd = ind
		return 1
	}
	if ind > len(argv) {
		return done()
	}
	arg := argv[ind-1]
	if sh.optPos == 1 {
		if arg == "--" {
			ind++
			return done()
		}
		if len(arg) < 2 || arg[0] != '-' {
			return done()
		}
	}
	c := arg[sh.optPos]
	sh.optPos++
	next := func() {
		if sh.optPos >= len(arg) {
			ind++
			sh.optPos = 1
		}
	}
	i := strings.IndexByte(optstring, c)
	switch {
	case c == ':' || i < 0:
		next()
		if silent {
			sh.setVar("OPTARG", string(c))
		} else {
			sh.errorf("illegal option -- %c", c)
			sh.unsetVar("OPTARG")
		}
		sh.setVar(name, "?")
	case i+1 < len(optstring) && optstring[i+1] == ':':
		switch {
		case sh.optPos < len(arg):
			sh.setVar("OPTARG", arg[sh.optPos:])
			ind++
			sh.optPos = 1
		case ind < len(argv):
			sh.setVar("OPTARG", argv[ind])
			ind += 2
			sh.optPos = 1
		default:
			ind++
			sh.optPos = 1
			if silent {
				sh.setVar(name, ":")
				sh.setVar("OPTARG", string(c))
			} else {
				sh.errorf("option requires an argument -- %c", c)
				sh.unsetVar("OPTARG")
				sh.setVar(name, "?")
			}
			sh.setVar("OPTIND", strconv.Itoa(ind))
			sh.optInd = ind
			return 0
		}
		sh.setVar(name, string(c))
	default:
		next()
		sh.unsetVar("OPTARG")
		sh.setVar(name, string(c))
	}
	sh.setVar("OPTIND", strconv.Itoa(ind))
	sh.optInd = ind
	return 0
}
