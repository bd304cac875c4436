package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// updateCLIDocs rewrites docs/cli from the command tree instead of
// comparing: go generate ./cmd/vproc (or make cli-docs) sets it.
var updateCLIDocs = flag.Bool("update-cli-docs", false, "rewrite docs/cli from the command tree")

// cliDocsDir is the CLI reference, from this package's directory.
const cliDocsDir = "../../docs/cli"

// docName is the file of cmd's page: "vproc_mq_create.md".
func docName(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", "_") + ".md"
}

// documented returns the commands of the reference, root first then in
// the order of the tree: every command but the hidden ones and help.
func documented(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.Hidden || cmd.Name() == "help" {
			return
		}
		out = append(out, cmd)
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

// writeCLIDocs writes the reference into dir: one Markdown page per
// command and README.md, the index.
func writeCLIDocs(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmds := documented(root)
	for _, cmd := range cmds {
		cmd.InitDefaultHelpFlag() // as executing it would
	}
	var index bytes.Buffer
	index.WriteString("# vproc command-line reference\n\n")
	index.WriteString("Generated from the command tree by `go generate ./cmd/vproc` (or `make cli-docs`);\n")
	index.WriteString("a test fails when it is out of date. `vproc VERB --help` prints the same.\n\n")
	index.WriteString("| command | what it does |\n|---|---|\n")
	for _, cmd := range cmds {
		fmt.Fprintf(&index, "| [%s](%s) | %s |\n", cmd.CommandPath(), docName(cmd), strings.ReplaceAll(cmd.Short, "|", `\|`))
		if err := os.WriteFile(filepath.Join(dir, docName(cmd)), cliPage(cmd), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "README.md"), index.Bytes(), 0o644)
}

// cliPage is the Markdown page of one command: what --help shows, with
// links to its parent and its subcommands.
func cliPage(cmd *cobra.Command) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", cmd.CommandPath(), cmd.Short)
	block := func(title, text string) {
		if text = strings.TrimRight(text, " \n"); text != "" {
			fmt.Fprintf(&b, "## %s\n\n```\n%s\n```\n\n", title, text)
		}
	}
	if cmd.Long != "" {
		fmt.Fprintf(&b, "%s\n\n", longMarkdown(cmd.Long))
	}
	if cmd.Runnable() {
		block("Usage", cmd.UseLine())
	}
	block("Examples", cmd.Example)
	block("Flags", cmd.NonInheritedFlags().FlagUsages())
	block("Global flags", cmd.InheritedFlags().FlagUsages())
	var links []string
	if p := cmd.Parent(); p != nil {
		links = append(links, fmt.Sprintf("- [%s](%s): %s", p.CommandPath(), docName(p), p.Short))
	}
	for _, sub := range cmd.Commands() {
		if !sub.Hidden && sub.Name() != "help" {
			links = append(links, fmt.Sprintf("- [%s](%s): %s", sub.CommandPath(), docName(sub), sub.Short))
		}
	}
	if len(links) > 0 {
		fmt.Fprintf(&b, "## See also\n\n%s\n", strings.Join(links, "\n"))
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

// longMarkdown returns a command's long help as Markdown: its prose as it
// is, and its indented lines (commands to type) as code blocks.
func longMarkdown(long string) string {
	var out []string
	inCode := false
	for _, l := range strings.Split(strings.TrimSpace(long), "\n") {
		code := strings.HasPrefix(l, "  ")
		if code != inCode {
			out = append(out, "```")
			inCode = code
		}
		if code {
			l = strings.TrimPrefix(l, "  ")
		}
		out = append(out, l)
	}
	if inCode {
		out = append(out, "```")
	}
	return strings.Join(out, "\n")
}

// TestCLIReference regenerates the reference into a temporary directory
// and compares it with docs/cli, file by file.
func TestCLIReference(t *testing.T) {
	root := newRootCmd(&env{getenv: func(string) string { return "" }})
	if *updateCLIDocs {
		old, _ := filepath.Glob(filepath.Join(cliDocsDir, "*.md"))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		if err := writeCLIDocs(root, cliDocsDir); err != nil {
			t.Fatal(err)
		}
		return
	}
	fresh := t.TempDir()
	if err := writeCLIDocs(root, fresh); err != nil {
		t.Fatal(err)
	}
	names := func(dir string) []string {
		files, err := filepath.Glob(filepath.Join(dir, "*.md"))
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			files[i] = filepath.Base(f)
		}
		return files
	}
	const fix = "run go generate ./cmd/vproc (or make cli-docs)"
	want, have := names(fresh), names(cliDocsDir)
	for _, n := range want {
		if !slices.Contains(have, n) {
			t.Errorf("docs/cli/%s is missing: %s", n, fix)
		}
	}
	for _, n := range have {
		if !slices.Contains(want, n) {
			t.Errorf("docs/cli/%s names no command: %s", n, fix)
			continue
		}
		got, err := os.ReadFile(filepath.Join(cliDocsDir, n))
		if err != nil {
			t.Fatal(err)
		}
		exp, err := os.ReadFile(filepath.Join(fresh, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, exp) {
			t.Errorf("docs/cli/%s is out of date: %s", n, fix)
		}
	}
	if len(want) < 40 {
		t.Errorf("the reference has %d pages, want one per command", len(want))
	}
}
