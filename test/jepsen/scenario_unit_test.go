//go:build linux

package jepsen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildJudge(t *testing.T) {
	rep := func(st map[string]Status) *Report {
		r := &Report{}
		for _, c := range []string{checkLinTable, checkOneRunner, "convergence"} {
			s, ok := st[c]
			if !ok {
				s = StatusPass
			}
			r.Verdicts = append(r.Verdicts, Verdict{Check: c, Status: s})
		}
		return r
	}
	broken := Build{Name: "unsafe", MustFail: []string{checkLinTable}}
	normal := Build{Name: "normal"}
	for _, tc := range []struct {
		name string
		b    Build
		st   map[string]Status
		want string // "" for agreement, else a part of the error
	}{
		{"broken build caught", broken, map[string]Status{checkLinTable: StatusFail}, ""},
		{"broken build missed", broken, nil, "should have caught"},
		{"broken build inconclusive", broken, map[string]Status{checkLinTable: StatusInconclusive}, "inconclusive"},
		{"broken build, another check fails too", broken, map[string]Status{checkLinTable: StatusFail, "convergence": StatusFail}, `"convergence" failed`},
		{"normal build passes", normal, nil, ""},
		{"normal build fails", normal, map[string]Status{checkOneRunner: StatusFail}, `"one runner per PID" failed`},
		{"expected check absent", Build{MustFail: []string{"nonesuch"}}, nil, "did not run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.b.Judge(rep(tc.st))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected disagreement: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestFencingInTree(t *testing.T) {
	dir := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cluster/reads_unsafe.go", "//go:build vproc_unsafe_reads\n\npackage cluster\n")
	write("node/doc.go", "package node\n\n// vproc_unsafe_nofence is mentioned, not a constraint.\n")
	if ok, err := FencingInTree(dir); err != nil || ok {
		t.Fatalf("without the tag: got %v, %v", ok, err)
	}
	write("node/fence_unsafe.go", "//go:build vproc_unsafe_nofence\n\npackage node\n")
	if ok, err := FencingInTree(dir); err != nil || !ok {
		t.Fatalf("with the tag: got %v, %v", ok, err)
	}
}

func TestWellFormedScenarios(t *testing.T) {
	seen := make(map[string]bool)
	for _, sc := range Scenarios {
		if seen[sc.Name] || sc.Name == "" || sc.Script == nil || len(sc.Builds) == 0 || (sc.Nodes != 3 && sc.Nodes != 5) {
			t.Errorf("scenario %q is malformed or repeated", sc.Name)
		}
		seen[sc.Name] = true
		normal := false
		for _, b := range sc.Builds {
			if len(b.Tags) == 0 && len(b.MustFail) == 0 {
				normal = true
			}
			if len(b.Tags) > 0 && len(b.MustFail) == 0 {
				t.Errorf("%s/%s: a broken build must name the check that catches it", sc.Name, b.Name)
			}
		}
		if !normal {
			t.Errorf("%s: no normal build that must pass", sc.Name)
		}
	}
}
