package builtins

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// Variables: strings, indexed and associative arrays, the export
// attribute, and the local variables of function calls, which shadow the
// caller's (dynamic scope, as bash's).

// shVar is a shell variable.
type shVar struct {
	kind     expand.ValueKind  // String, Indexed or Associative
	value    string            // String
	elems    map[int]string    // Indexed, by index
	assoc    map[string]string // Associative, by key
	set      bool              // false: declared (export, local, declare) but never given a value
	exported bool
	readonly bool
	integer  bool // declare -i: values are arithmetic expressions
	lower    bool // declare -l: values are lowered
	upper    bool // declare -u: values are raised
}

// clone returns a deep copy of v.
func (v *shVar) clone() *shVar {
	c := *v
	if v.elems != nil {
		c.elems = make(map[int]string, len(v.elems))
		for k, e := range v.elems {
			c.elems[k] = e
		}
	}
	if v.assoc != nil {
		c.assoc = make(map[string]string, len(v.assoc))
		for k, e := range v.assoc {
			c.assoc[k] = e
		}
	}
	return &c
}

// str is the variable's value as a string: an array's element 0.
func (v *shVar) str() string {
	switch v.kind {
	case expand.Indexed:
		return v.elems[0]
	case expand.Associative:
		return v.assoc["0"]
	}
	return v.value
}

// indices returns the indices of an indexed array in order.
func (v *shVar) indices() []int {
	idx := make([]int, 0, len(v.elems))
	for i := range v.elems {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// variable shows v to mvdan.cc/sh/v3/expand.
func (v *shVar) variable() expand.Variable {
	vr := expand.Variable{Set: v.set, Exported: v.exported, Kind: v.kind}
	switch v.kind {
	case expand.Indexed:
		idx := v.indices()
		vr.List = make([]string, len(idx))
		dense := true
		for i, k := range idx {
			vr.List[i] = v.elems[k]
			dense = dense && k == i
		}
		if !dense {
			vr.Indexes = idx
		}
	case expand.Associative:
		vr.Map = v.assoc
	default:
		vr.Kind = expand.String
		vr.Str = v.value
		if !v.set {
			vr.Kind = expand.Unknown
		}
	}
	return vr
}

// lookup returns the string value of a variable and whether it is set.
func (sh *shell) lookup(name string) (string, bool) {
	v := sh.vars[name]
	if v == nil || !v.set {
		return "", false
	}
	return v.str(), true
}

// errBadName is an assignment to something that is not a variable name.
var errBadName = errors.New("not a valid identifier")

// errReadonly is an assignment to a readonly variable.
var errReadonly = errors.New("readonly variable")

// convert applies a variable's integer, lower and upper attributes to a
// value given to it.
func (sh *shell) convert(v *shVar, value string) (string, error) {
	switch {
	case v == nil:
	case v.integer:
		n, err := sh.arith(value)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(n), nil
	case v.lower:
		return strings.ToLower(value), nil
	case v.upper:
		return strings.ToUpper(value), nil
	}
	return value, nil
}

// writable returns errReadonly, naming the variable, if name is readonly.
func (sh *shell) writable(name string) error {
	if v := sh.vars[name]; v != nil && v.readonly {
		return fmt.Errorf("%s: %w", name, errReadonly)
	}
	return nil
}

// setVar assigns a string to a variable, keeping its attributes; an array
// gets it as element 0.
func (sh *shell) setVar(name, value string) error {
	if !syntax.ValidName(name) {
		return fmt.Errorf("`%s': %w", name, errBadName)
	}
	if err := sh.writable(name); err != nil {
		return err
	}
	v := sh.vars[name]
	if v == nil {
		v = &shVar{}
		sh.vars[name] = v
	}
	value, err := sh.convert(v, value)
	if err != nil {
		return err
	}
	switch v.kind {
	case expand.Indexed:
		v.elems[0] = value
	case expand.Associative:
		v.assoc["0"] = value
	default:
		v.kind, v.value = expand.String, value
	}
	v.set = true
	return nil
}

// setArray makes a variable an indexed array of list.
func (sh *shell) setArray(name string, list []string) {
	v := sh.vars[name]
	if v == nil {
		v = &shVar{}
		sh.vars[name] = v
	}
	v.kind, v.value, v.assoc, v.set = expand.Indexed, "", nil, true
	v.elems = make(map[int]string, len(list))
	for i, e := range list {
		v.elems[i] = e
	}
}

// unsetVar removes a variable or an element of an array.
func (sh *shell) unsetVar(name string) error {
	base, sub, isElem := strings.Cut(name, "[")
	if err := sh.writable(base); err != nil {
		return fmt.Errorf("%s: cannot unset: %w", base, errReadonly)
	}
	if isElem && strings.HasSuffix(sub, "]") {
		v := sh.vars[base]
		if v == nil {
			return nil
		}
		key := strings.TrimSuffix(sub, "]")
		switch v.kind {
		case expand.Indexed:
			if n, err := sh.arith(key); err == nil {
				if n < 0 {
					n += maxIndex(v) + 1
				}
				delete(v.elems, n)
			}
		case expand.Associative:
			delete(v.assoc, key)
		default:
			if key == "0" {
				delete(sh.vars, base)
			}
		}
		return nil
	}
	delete(sh.vars, name)
	return nil
}

// maxIndex is the highest index of an indexed array, -1 if it is empty.
func maxIndex(v *shVar) int {
	m := -1
	for i := range v.elems {
		m = max(m, i)
	}
	return m
}

// environ is the environment of a child: the exported variables that are set.
func (sh *shell) environ() []string {
	env := make([]string, 0, len(sh.vars))
	for _, name := range sortedKeys(sh.vars) {
		if v := sh.vars[name]; v.exported && v.set && v.kind == expand.String {
			env = append(env, name+"="+v.value)
		}
	}
	return env
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tempAssign performs the assignments of a command's prefix as exported
// variables; restore undoes them.
func (sh *shell) tempAssign(assigns []*syntax.Assign) (restore func(), err error) {
	type saved struct {
		name string
		old  *shVar
	}
	var undo []saved
	restore = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			if undo[i].old == nil {
				delete(sh.vars, undo[i].name)
			} else {
				sh.vars[undo[i].name] = undo[i].old
			}
		}
	}
	for _, a := range assigns {
		if a.Name == nil || a.Array != nil || a.Index != nil {
			restore()
			return func() {}, errors.New("an array can't be a command's environment")
		}
		value, err := sh.literal(a.Value)
		if err != nil {
			restore()
			return func() {}, err
		}
		name := a.Name.Value
		if err := sh.writable(name); err != nil {
			sh.errorf("%v", err)
			continue
		}
		var old *shVar
		if v := sh.vars[name]; v != nil {
			old = v.clone()
			if a.Append {
				value = v.str() + value
			}
		}
		undo = append(undo, saved{name, old})
		sh.vars[name] = &shVar{kind: expand.String, value: value, set: true, exported: true}
	}
	return restore, nil
}

// assignTo performs one assignment: NAME=word, NAME+=word, NAME=(...),
// NAME+=(...) and NAME[INDEX]=word.
func (sh *shell) assignTo(a *syntax.Assign) error {
	if a.Name == nil || !syntax.ValidName(a.Name.Value) {
		name := ""
		if a.Name != nil {
			name = a.Name.Value
		}
		return fmt.Errorf("`%s': %w", name, errBadName)
	}
	name := a.Name.Value
	if err := sh.writable(name); err != nil {
		return err
	}
	v := sh.vars[name]
	switch {
	case a.Array != nil:
		return sh.assignArray(name, a.Array, a.Append)
	case a.Index != nil:
		value := ""
		if a.Value != nil {
			var err error
			if value, err = sh.literal(a.Value); err != nil {
				return err
			}
		}
		return sh.assignElem(name, a.Index, value, a.Append)
	}
	value := ""
	if a.Value != nil {
		var err error
		if value, err = sh.literal(a.Value); err != nil {
			return err
		}
	}
	if a.Append && v != nil && v.set {
		if v.integer {
			value = "(" + v.str() + ")+(" + value + ")"
		} else {
			value = v.str() + value
		}
	}
	return sh.setVar(name, value)
}

// assignElem sets one element of an array; a string variable becomes an
// indexed array holding its value at 0.
func (sh *shell) assignElem(name string, index syntax.ArithmExpr, value string, app bool) error {
	v := sh.vars[name]
	if v == nil {
		v = &shVar{kind: expand.Indexed}
		sh.vars[name] = v
	}
	if v.kind == expand.Associative {
		key, err := sh.assocKey(index)
		if err != nil {
			return err
		}
		if app {
			value = v.assoc[key] + value
		}
		v.assoc[key] = value
		v.set = true
		return nil
	}
	if v.kind != expand.Indexed {
		old, wasSet := v.value, v.set
		v.kind, v.value, v.elems = expand.Indexed, "", map[int]string{}
		if wasSet {
			v.elems[0] = old
		}
	}
	if v.elems == nil {
		v.elems = map[int]string{}
	}
	n, err := expand.Arithm(sh.config(), index)
	if err != nil {
		return err
	}
	if n < 0 {
		n += maxIndex(v) + 1
		if n < 0 {
			return fmt.Errorf("%s[%d]: bad array subscript", name, n-maxIndex(v)-1)
		}
	}
	if app {
		value = v.elems[n] + value
	}
	value, err = sh.convert(v, value)
	if err != nil {
		return err
	}
	v.elems[n] = value
	v.set = true
	return nil
}

// assocKey expands the key of an associative array's element.
func (sh *shell) assocKey(index syntax.ArithmExpr) (string, error) {
	w, ok := index.(*syntax.Word)
	if !ok {
		return sh.print(index), nil
	}
	return sh.literal(w)
}

// assignArray performs NAME=(...) or NAME+=(...).
func (sh *shell) assignArray(name string, arr *syntax.ArrayExpr, app bool) error {
	v := sh.vars[name]
	switch {
	case v == nil:
		v = &shVar{kind: expand.Indexed}
		sh.vars[name] = v
	case !app:
		// The attributes stay; the elements go.
		if v.kind != expand.Associative {
			v.kind = expand.Indexed
		}
		v.value, v.elems, v.assoc = "", nil, nil
	}
	if v.kind == expand.String {
		old, wasSet := v.value, v.set
		v.kind, v.value, v.elems = expand.Indexed, "", map[int]string{}
		if wasSet {
			v.elems[0] = old
		}
	}
	if v.kind == expand.Associative {
		if v.assoc == nil {
			v.assoc = map[string]string{}
		}
		for _, e := range arr.Elems {
			if e.Index == nil {
				return fmt.Errorf("%s: %s: must use subscript when assigning associative array", name, sh.print(e.Value))
			}
			key, err := sh.assocKey(e.Index)
			if err != nil {
				return err
			}
			val, err := sh.literal(e.Value)
			if err == nil {
				val, err = sh.convert(v, val)
			}
			if err != nil {
				return err
			}
			v.assoc[key] = val
		}
		v.set = true
		return nil
	}
	if v.elems == nil {
		v.elems = map[int]string{}
	}
	next := maxIndex(v) + 1
	for _, e := range arr.Elems {
		if e.Index != nil {
			n, err := expand.Arithm(sh.config(), e.Index)
			if err != nil {
				return err
			}
			val := ""
			if e.Value != nil {
				if val, err = sh.literal(e.Value); err != nil {
					return err
				}
			}
			if val, err = sh.convert(v, val); err != nil {
				return err
			}
			v.elems[n], next = val, n+1
			continue
		}
		fields, err := sh.fields(e.Value)
		if err != nil {
			return err
		}
		for _, f := range fields {
			f, err := sh.convert(v, f)
			if err != nil {
				return err
			}
			v.elems[next] = f
			next++
		}
	}
	v.set = true
	return nil
}

// arith evaluates an arithmetic expression given as text.
func (sh *shell) arith(src string) (int, error) {
	p := syntax.NewParser(syntax.Variant(syntax.LangBash))
	w, err := p.Arithmetic(strings.NewReader(src))
	if err != nil {
		return 0, err
	}
	if w == nil {
		return 0, nil
	}
	return expand.Arithm(sh.config(), w)
}

// Local variables.

// frame holds what the variables made local in one function call hid: nil
// for a variable that did not exist.
type frame map[string]*shVar

// makeLocal declares name local to the innermost function call, saving the
// variable it hides; it keeps its value until assigned, as in bash only
// when it is also exported.
func (sh *shell) makeLocal(name string) {
	fr := sh.frames[len(sh.frames)-1]
	if _, ok := fr[name]; ok {
		return
	}
	old := sh.vars[name]
	if old != nil {
		fr[name] = old.clone()
	} else {
		fr[name] = nil
	}
	sh.vars[name] = &shVar{}
}

// popFrame restores the variables the innermost call's locals hid.
func (sh *shell) popFrame() {
	fr := sh.frames[len(sh.frames)-1]
	sh.frames = sh.frames[:len(sh.frames)-1]
	for name, old := range fr {
		if old == nil {
			delete(sh.vars, name)
		} else {
			sh.vars[name] = old
		}
	}
}

// quoteVar is a variable as declare -p shows it.
func quoteVar(name string, v *shVar) string {
	flags := ""
	switch v.kind {
	case expand.Indexed:
		flags = "a"
	case expand.Associative:
		flags = "A"
	}
	for _, f := range []struct {
		on bool
		c  string
	}{{v.integer, "i"}, {v.lower, "l"}, {v.readonly, "r"}, {v.upper, "u"}, {v.exported, "x"}} {
		if f.on {
			flags += f.c
		}
	}
	if flags == "" {
		flags = "-"
	}
	out := "declare -" + flags + " " + name
	if !v.set {
		return out
	}
	switch v.kind {
	case expand.Indexed:
		var b strings.Builder
		for _, i := range v.indices() {
			fmt.Fprintf(&b, "[%d]=%s ", i, dquote(v.elems[i]))
		}
		return out + "=(" + strings.TrimSuffix(b.String(), " ") + ")"
	case expand.Associative:
		var b strings.Builder
		for _, k := range sortedKeys(v.assoc) {
			fmt.Fprintf(&b, "[%s]=%s ", quoteWord(k), dquote(v.assoc[k]))
		}
		return out + "=(" + b.String() + ")"
	}
	return out + "=" + dquote(v.value)
}

// dquote quotes s in double quotes, as declare -p does.
func dquote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		if strings.ContainsRune("\"\\$`", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}
