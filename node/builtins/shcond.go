package builtins

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// builtinTest is test(1), also spelled [.
func (sh *shell) builtinTest(name string, args []string) int {
	if name == "[" {
		if len(args) == 0 || args[len(args)-1] != "]" {
			sh.errorf("[: missing `]'")
			return 2
		}
		args = args[:len(args)-1]
	}
	t := testExpr{sh: sh, args: args}
	ok, err := t.eval()
	if err != nil {
		sh.errorf("%s: %v", name, err)
		return 2
	}
	if ok {
		return 0
	}
	return 1
}

// testExpr evaluates the operands of test.
type testExpr struct {
	sh   *shell
	args []string
	i    int
}

// eval evaluates the whole expression. With one operand, test is true when
// it is not empty, whatever it looks like.
func (t *testExpr) eval() (bool, error) {
	switch len(t.args) {
	case 0:
		return false, nil
	case 1:
		return t.args[0] != "", nil
	}
	v, err := t.or()
	if err == nil && t.i < len(t.args) {
		err = fmt.Errorf("%s: unexpected operand", t.args[t.i])
	}
	return v, err
}

func (t *testExpr) or() (bool, error) {
	v, err := t.and()
	for err == nil && t.i < len(t.args) && t.args[t.i] == "-o" {
		t.i++
		var w bool
		w, err = t.and()
		v = v || w
	}
	return v, err
}

func (t *testExpr) and() (bool, error) {
	v, err := t.not()
	for err == nil && t.i < len(t.args) && t.args[t.i] == "-a" {
		t.i++
		var w bool
		w, err = t.not()
		v = v && w
	}
	return v, err
}

func (t *testExpr) not() (bool, error) {
	if t.i+1 < len(t.args) && t.args[t.i] == "!" &&
		(t.i+2 >= len(t.args) || !testBinary(t.args[t.i+1])) {
		t.i++
		v, err := t.not()
		return !v, err
	}
	return t.primary()
}

func (t *testExpr) primary() (bool, error) {
	if t.i >= len(t.args) {
		return false, errors.New("argument expected")
	}
	a := t.args[t.i]
	if t.i+2 < len(t.args) && testBinary(t.args[t.i+1]) {
		t.i += 3
		return t.binary(a, t.args[t.i-2], t.args[t.i-1])
	}
	if a == "(" && t.i+1 < len(t.args) {
		t.i++
		v, err := t.or()
		if err != nil {
			return false, err
		}
		if t.i >= len(t.args) || t.args[t.i] != ")" {
			return false, errors.New("missing )")
		}
		t.i++
		return v, nil
	}
	if len(a) == 2 && a[0] == '-' && t.i+1 < len(t.args) {
		t.i += 2
		return t.unary(a, t.args[t.i-1])
	}
	t.i++
	return a != "", nil
}

// testBinary reports whether op is a binary operator of test.
func testBinary(op string) bool {
	switch op {
	case "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge":
		return true
	}
	return false
}

func (t *testExpr) binary(x, op, y string) (bool, error) {
	switch op {
	case "=", "==":
		return x == y, nil
	case "!=":
		return x != y, nil
	case "<":
		return x < y, nil
	case ">":
		return x > y, nil
	}
	a, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	if err != nil {
		return false, fmt.Errorf("%s: integer expression expected", x)
	}
	b, err := strconv.ParseInt(strings.TrimSpace(y), 10, 64)
	if err != nil {
		return false, fmt.Errorf("%s: integer expression expected", y)
	}
	switch op {
	case "-eq":
		return a == b, nil
	case "-ne":
		return a != b, nil
	case "-lt":
		return a < b, nil
	case "-le":
		return a <= b, nil
	case "-gt":
		return a > b, nil
	default:
		return a >= b, nil
	}
}

func (t *testExpr) unary(op, x string) (bool, error) {
	switch op {
	case "-n":
		return x != "", nil
	case "-z":
		return x == "", nil
	case "-t":
		return false, nil
	}
	if t.sh.s == nil {
		return false, nil
	}
	fi, err := t.sh.s.Stat(x)
	switch op {
	case "-e", "-f", "-d", "-s", "-p", "-r", "-w", "-x":
		if err != nil {
			return false, nil
		}
	default:
		return false, fmt.Errorf("%s: unknown operator", op)
	}
	switch op {
	case "-f":
		return fi.Mode().IsRegular(), nil
	case "-d":
		return fi.IsDir(), nil
	case "-s":
		return fi.Size() > 0, nil
	case "-p":
		return fi.Mode()&fs.ModeNamedPipe != 0, nil
	case "-r":
		return fi.Mode().Perm()&0o444 != 0, nil
	case "-w":
		return fi.Mode().Perm()&0o222 != 0, nil
	case "-x":
		return fi.Mode().Perm()&0o111 != 0, nil
	}
	return true, nil
}
