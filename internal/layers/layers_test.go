package layers

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vproc/vproc"

// fakeRules are the rules the unit tests below judge fake graphs with.
const fakeRules = `
# Design

## Import rules

| package | may import | must not import |
|---|---|---|
| ` + "`*`" + ` | ` + "`*`" + ` | ` + "`cmd/...`, `test/...`" + ` |
| ` + "`ipc/...`" + ` | — | |
| ` + "`fsm/...`" + ` | ` + "`ipc/...`" + ` | ` + "`net/...`, `os`, `github.com/hashicorp/raft/...`" + ` |
| ` + "`node/...`" + ` | ` + "`ipc/...`, `node/...`" + ` | ` + "`node/builtins/...`" + ` |
| ` + "`node/builtins/...`" + ` | ` + "`node/...`, `ipc/...`" + ` | |
| ` + "`cluster/...`" + ` | ` + "`*`" + ` | |
| ` + "`cmd/...`" + ` | ` + "`*`" + ` | |

## Next section

| not | a | rule |
|---|---|---|
| ` + "`x`" + ` | | |
`

func TestParseRules(t *testing.T) {
	rules, err := ParseRules(fakeRules)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rules), 7; got != want {
		t.Fatalf("got %d rules, want %d: %+v", got, want, rules)
	}
	fsm := rules[2]
	if fsm.Package != "fsm/..." || !slices.Equal(fsm.May, []string{"ipc/..."}) ||
		!slices.Equal(fsm.MustNot, []string{"net/...", "os", "github.com/hashicorp/raft/..."}) {
		t.Errorf("got fsm rule %+v", fsm)
	}
	if len(rules[1].May) != 0 {
		t.Errorf("got ipc may-import %v, want none", rules[1].May)
	}
	if _, err := ParseRules("# Design\n\nno table\n"); !errors.Is(err, ErrNoRules) {
		t.Errorf("got %v for a text without rules, want ErrNoRules", err)
	}
	if _, err := ParseRules("## Import rules\n\n| a | b |\n|---|---|\n| `x` | `y` |\n"); err == nil {
		t.Error("got no error for a row of two cells")
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"*", "anything/at/all", true},
		{"node/...", "node", true},
		{"node/...", "node/vfs", true},
		{"node/...", "nodes", false},
		{"node", "node/vfs", false},
		{"net/...", "net/http", true},
		{"os", "os/exec", false},
	} {
		if got := Match(tc.pattern, tc.path); got != tc.want {
			t.Errorf("Match(%q, %q): got %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestCheckFakeGraphs(t *testing.T) {
	rules, err := ParseRules(fakeRules)
	if err != nil {
		t.Fatal(err)
	}
	m := func(rel string) string { return module + "/" + rel }
	for _, tc := range []struct {
		name  string
		graph map[string][]string
		want  []string // "importer -> import", or "importer" alone for an ungoverned package
	}{
		{
			name: "layered",
			graph: map[string][]string{
				m("ipc"):           {"sync", "io"},
				m("fsm"):           {"bytes", m("ipc"), "time"},
				m("node"):          {m("ipc"), m("node/vfs"), "os"},
				m("node/vfs"):      {"io/fs"},
				m("node/builtins"): {m("node"), m("ipc")},
				m("cluster/api"):   {"time"},
				m("cluster"):       {m("fsm"), m("node"), m("cluster/api"), "github.com/hashicorp/raft", "net/http"},
				m("cmd/vproc"):     {m("cluster"), m("cluster/api")},
			},
		},
		{
			name:  "ipc imports the kernel",
			graph: map[string][]string{m("ipc"): {m("node")}},
			want:  []string{"ipc -> node"},
		},
		{
			name:  "fsm does I/O",
			graph: map[string][]string{m("fsm"): {"net", "net/http", "os", "os/exec", "github.com/hashicorp/raft"}},
			want:  []string{"fsm -> net", "fsm -> net/http", "fsm -> os", "fsm -> github.com/hashicorp/raft"},
		},
		{
			name:  "the kernel imports its programs",
			graph: map[string][]string{m("node"): {m("node/builtins")}, m("node/builtins"): {m("node")}},
			want:  []string{"node -> node/builtins"},
		},
		{
			name:  "the programs import the cluster",
			graph: map[string][]string{m("node/builtins"): {m("node"), m("cluster")}},
			want:  []string{"node/builtins -> cluster"},
		},
		{
			name:  "the cluster imports the CLI and the fault suite",
			graph: map[string][]string{m("cluster/http"): {m("cmd/vproc"), m("test/jepsen"), m("fsm")}},
			want:  []string{"cluster/http -> cmd/vproc", "cluster/http -> test/jepsen"},
		},
		{
			name:  "a package no rule governs",
			graph: map[string][]string{m("newpkg"): {"fmt"}, "example.com/other": {m("cmd/vproc")}},
			want:  []string{"newpkg"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range Check(module, rules, tc.graph) {
				s := strings.TrimPrefix(v.Package, module+"/")
				if v.Import != "" {
					s += " -> " + strings.TrimPrefix(v.Import, module+"/")
				}
				got = append(got, s)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("got violations %q, want %q", got, want)
			}
		})
	}
}

// TestImportRules checks the module's packages against the import rules of
// docs/design.md.
func TestImportRules(t *testing.T) {
	root := moduleRoot(t)
	text, err := os.ReadFile(filepath.Join(root, "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules(string(text))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	graph := make(map[string][]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			graph[f[0]] = f[1:]
		}
	}
	if _, ok := graph[module+"/fsm"]; !ok {
		t.Fatalf("go list did not list %s/fsm; got %d packages", module, len(graph))
	}
	for _, v := range Check(module, rules, graph) {
		t.Error(v)
	}
}

// moduleRoot returns the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
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
