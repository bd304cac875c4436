package layers

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ErrNoRules is returned by ParseRules when the text holds no import-rule
// table.
var ErrNoRules = errors.New("layers: no import rules found")

// Rule is one row of the import-rule table.
type Rule struct {
	// Package is the pattern of the packages the row governs, relative to
	// the module, or "*" for every package.
	Package string
	// May are the patterns of the module packages the governed packages may
	// import; "*" allows every one.
	May []string
	// MustNot are the patterns of packages, of the module or not, the
	// governed packages must not import.
	MustNot []string
}

// Violation is one import that breaks a rule, or a package that no rule
// governs (Import is empty then).
type Violation struct {
	Package string // import path of the importing package
	Import  string // import path of the imported package
	Reason  string
}

func (v Violation) String() string {
	if v.Import == "" {
		return fmt.Sprintf("%s: %s", v.Package, v.Reason)
	}
	return fmt.Sprintf("%s imports %s: %s", v.Package, v.Import, v.Reason)
}

// Match reports whether path matches pattern: "*" matches everything,
// "p/..." matches p and every path below it, anything else only itself.
func Match(pattern, path string) bool {
	if pattern == "*" {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

var code = regexp.MustCompile("`([^`]+)`")

// ParseRules reads the import-rule table from a Markdown text: the first
// table after a heading whose title is "Import rules". Each cell lists its
// patterns in backquotes; a cell without any allows or forbids nothing.
func ParseRules(markdown string) ([]Rule, error) {
	var rules []Rule
	in, header := false, false
	for line := range strings.Lines(markdown) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			if len(rules) > 0 {
				break
			}
			in = strings.EqualFold(strings.TrimSpace(strings.TrimLeft(line, "#")), "Import rules")
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if len(rules) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !header {
			header = true // the column titles
			continue
		}
		if strings.Trim(strings.Join(cells, ""), " -:") == "" {
			continue // the delimiter row
		}
		if len(cells) != 3 {
			return nil, fmt.Errorf("layers: import rule %q: want 3 cells, got %d", line, len(cells))
		}
		pkgs := codes(cells[0])
		if len(pkgs) != 1 {
			return nil, fmt.Errorf("layers: import rule %q: want one package pattern, got %d", line, len(pkgs))
		}
		rules = append(rules, Rule{Package: pkgs[0], May: codes(cells[1]), MustNot: codes(cells[2])})
	}
	if len(rules) == 0 {
		return nil, ErrNoRules
	}
	return rules, nil
}

func codes(cell string) []string {
	var out []string
	for _, m := range code.FindAllStringSubmatch(cell, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// Check returns every violation of rules in graph, which maps each
// package of module (by import path) to the packages it imports. Imports
// of the package's own path are ignored.
func Check(module string, rules []Rule, graph map[string][]string) []Violation {
	var out []Violation
	pkgs := make([]string, 0, len(graph))
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		rel, ok := relative(module, pkg)
		if !ok {
			continue
		}
		var all []Rule
		var own *Rule
		for i := range rules {
			r := &rules[i]
			if r.Package == "*" {
				all = append(all, *r)
				continue
			}
			if Match(r.Package, rel) && (own == nil || len(r.Package) > len(own.Package)) {
				own = r
			}
		}
		if own == nil {
			out = append(out, Violation{Package: pkg, Reason: "no import rule governs this package; add a row to the import rules"})
			continue
		}
		for _, imp := range graph[pkg] {
			if imp == pkg {
				continue
			}
			if v, bad := judge(module, pkg, imp, append(all, *own)); bad {
				out = append(out, v)
			}
		}
	}
	return out
}

// judge checks one import against the rules that govern its importer.
func judge(module, pkg, imp string, rules []Rule) (Violation, bool) {
	irel, inModule := relative(module, imp)
	for _, r := range rules {
		for _, p := range r.MustNot {
			if (inModule && Match(p, irel)) || Match(p, imp) {
				return Violation{Package: pkg, Import: imp, Reason: fmt.Sprintf("rule %s forbids %s", r.Package, p)}, true
			}
		}
	}
	if !inModule {
		return Violation{}, false
	}
	for _, r := range rules {
		if r.Package == "*" {
			continue
		}
		for _, p := range r.May {
			if Match(p, irel) {
				return Violation{}, false
			}
		}
		return Violation{Package: pkg, Import: imp, Reason: fmt.Sprintf("rule %s allows only %s", r.Package, list(r.May))}, true
	}
	return Violation{}, false
}

func list(p []string) string {
	if len(p) == 0 {
		return "no module package"
	}
	return strings.Join(p, ", ")
}

// relative returns path relative to module, and whether path is in it.
func relative(module, path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}
