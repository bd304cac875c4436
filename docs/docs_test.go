package docs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A reference is a code span that names a path in the repository,
// optionally followed by ":Name" for a function, or ":Type.Method" for a
// method, in that file (or in a Go file of that directory). A code span is
// taken for a path when it has no spaces and either contains a slash or is
// a file name with a known extension; anything else in backquotes (a
// command, an identifier, a flag) is left alone.
var (
	codeSpan = regexp.MustCompile("`([^`\n]+)`")
	refForm  = regexp.MustCompile(`^([A-Za-z0-9_.\-/]+)(?::([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?)?$`)
	fileExts = []string{".go", ".md", ".sh", ".c", ".conf", ".mod", ".sum"}
	rootFile = []string{"Makefile", "Dockerfile"}
)

// ref is one reference: a path and, when Func is set, the function (or
// the method Func of type Type) it must hold.
type ref struct {
	Path, Type, Func string
}

func (r ref) String() string {
	switch {
	case r.Type != "":
		return fmt.Sprintf("%s:%s.%s", r.Path, r.Type, r.Func)
	case r.Func != "":
		return r.Path + ":" + r.Func
	}
	return r.Path
}

// parseRef returns the reference a code span names, if it names one.
func parseRef(span string) (ref, bool) {
	m := refForm.FindStringSubmatch(span)
	if m == nil || strings.HasPrefix(span, "/") || strings.HasPrefix(span, ".") ||
		strings.HasPrefix(span, "-") || strings.Contains(span, "...") {
		return ref{}, false
	}
	path := m[1]
	isPath := strings.Contains(path, "/") || slices.Contains(rootFile, path) ||
		slices.ContainsFunc(fileExts, func(ext string) bool { return strings.HasSuffix(path, ext) && len(path) > len(ext) })
	if !isPath {
		return ref{}, false
	}
	r := ref{Path: path, Func: m[2]}
	if m[3] != "" {
		r.Type, r.Func = m[2], m[3]
	}
	return r, true
}

// refsIn returns the references in the code spans of text.
func refsIn(text string) []ref {
	var out []ref
	for _, m := range codeSpan.FindAllStringSubmatch(text, -1) {
		if r, ok := parseRef(m[1]); ok {
			out = append(out, r)
		}
	}
	return out
}

// section returns the part of a Markdown text under the heading titled
// title, up to the next heading of the same or a higher level.
func section(text, title string) (string, bool) {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		level := len(l) - len(strings.TrimLeft(l, "#"))
		if level == 0 || strings.TrimSpace(l[level:]) != title {
			continue
		}
		var b strings.Builder
		for _, m := range lines[i+1:] {
			if n := len(m) - len(strings.TrimLeft(m, "#")); n > 0 && n <= level && strings.HasPrefix(m[n:], " ") {
				break
			}
			b.WriteString(m)
		}
		return b.String(), true
	}
	return "", false
}

// errBadRef is wrapped by every error of checkRef.
var errBadRef = errors.New("bad reference")

// checkRef checks r against the repository at root: the path exists and,
// when r names a function or method, a Go file there declares it.
func checkRef(root string, r ref) error {
	if filepath.IsAbs(r.Path) || slices.Contains(strings.Split(r.Path, "/"), "..") {
		return fmt.Errorf("%w: %s: not a path inside the repository", errBadRef, r)
	}
	full := filepath.Join(root, filepath.FromSlash(r.Path))
	info, err := os.Stat(full)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errBadRef, r, err)
	}
	if r.Func == "" {
		return nil
	}
	files := []string{full}
	if info.IsDir() {
		files, err = filepath.Glob(filepath.Join(full, "*.go"))
		if err != nil {
			return err
		}
	}
	decl := declaration(r)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", errBadRef, r, err)
		}
		if decl.Match(src) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s: no func %s declared there", errBadRef, r, strings.TrimPrefix(r.String(), r.Path+":"))
}

// declaration matches the declaration of r's function or method.
func declaration(r ref) *regexp.Regexp {
	recv := `(\([^)]*\) )?`
	if r.Type != "" {
		recv = `\(\w* ?\*?` + regexp.QuoteMeta(r.Type) + `(\[[^\]]*\])?\) `
	}
	return regexp.MustCompile(`(?m)^func ` + recv + regexp.QuoteMeta(r.Func) + `[\[(]`)
}

// repoRoot returns the directory of the module's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func readDoc(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocumentedPathsExist checks every reference of design.md's "Where to
// change what" table and of guarantees.md against the repository.
func TestDocumentedPathsExist(t *testing.T) {
	root := repoRoot(t)
	table, ok := section(readDoc(t, root, "design.md"), "Where to change what")
	if !ok {
		t.Fatal(`design.md has no "Where to change what" section`)
	}
	for _, doc := range []struct {
		name, text string
		min        int // fewer references than this means the parsing broke
	}{
		{"design.md, Where to change what", table, 40},
		{"guarantees.md", readDoc(t, root, "guarantees.md"), 40},
	} {
		refs := refsIn(doc.text)
		if len(refs) < doc.min {
			t.Errorf("%s: got %d references, want at least %d", doc.name, len(refs), doc.min)
		}
		for _, r := range refs {
			if err := checkRef(root, r); err != nil {
				t.Errorf("%s: %v", doc.name, err)
			}
		}
	}
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		span string
		want ref
		ok   bool
	}{
		{"fsm/fsm.go", ref{Path: "fsm/fsm.go"}, true},
		{"fsm/", ref{Path: "fsm/"}, true},
		{"Makefile", ref{Path: "Makefile"}, true},
		{"README.md", ref{Path: "README.md"}, true},
		{"fsm/fsm.go:Apply", ref{Path: "fsm/fsm.go", Func: "Apply"}, true},
		{"fsm/fsm.go:FSM.Apply", ref{Path: "fsm/fsm.go", Type: "FSM", Func: "Apply"}, true},
		{"LostTimeout", ref{}, false},
		{"make check", ref{}, false},
		{"/v1/procs", ref{}, false},
		{"cmd/...", ref{}, false},
		{"progX(s *Sys) int", ref{}, false},
		{"-short", ref{}, false},
		{".go", ref{}, false},
	} {
		got, ok := parseRef(tc.span)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseRef(%q): got %+v, %v, want %+v, %v", tc.span, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSection(t *testing.T) {
	text := "# Doc\n\n## A\n\n`a/x.go`\n\n### A.1\n\n`a/y.go`\n\n## B\n\n`b/z.go`\n"
	got, ok := section(text, "A")
	if !ok {
		t.Fatal("no section A")
	}
	refs := refsIn(got)
	want := []ref{{Path: "a/x.go"}, {Path: "a/y.go"}}
	if !slices.Equal(refs, want) {
		t.Errorf("got references %v in section A, want %v", refs, want)
	}
	if _, ok := section(text, "C"); ok {
		t.Error("found a section C that does not exist")
	}
}

func TestCheckRef(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pkg/a.go", "package pkg\n\nfunc Plain() {}\n\nfunc (s *Server) routes() {}\n\nfunc Generic[T any](T) {}\n\n// func Ghost() {}\n")
	write("pkg/b.go", "package pkg\n\nfunc (l List[T]) Len() int { return 0 }\n")
	write("Makefile", "check:\n")
	for _, tc := range []struct {
		span string
		ok   bool
	}{
		{"pkg/a.go", true},
		{"pkg/", true},
		{"Makefile", true},
		{"pkg/a.go:Plain", true},
		{"pkg/a.go:routes", true},
		{"pkg/a.go:Server.routes", true},
		{"pkg/a.go:Generic", true},
		{"pkg/:Len", true},
		{"pkg/b.go:List.Len", true},
		{"pkg/missing.go", false},
		{"other/", false},
		{"pkg/a.go:Missing", false},
		{"pkg/a.go:Ghost", false},
		{"pkg/a.go:Client.routes", false},
		{"pkg/b.go:Plain", false},
		{"pkg/:Missing", false},
		{"pkg/../../etc/passwd", false},
	} {
		r, ok := parseRef(tc.span)
		if !ok {
			t.Errorf("parseRef(%q): not a reference", tc.span)
			continue
		}
		err := checkRef(root, r)
		if (err == nil) != tc.ok {
			t.Errorf("checkRef(%q): got %v, want ok=%v", tc.span, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errBadRef) {
			t.Errorf("checkRef(%q): got %v, want an error wrapping errBadRef", tc.span, err)
		}
	}
}
