package builtins

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// shPrograms is Programs plus programs that let the shell's tests look at
// what its children received.
func shPrograms() *node.ProgramTable {
	r := Programs()
	// lsfd prints the descriptors it has.
	r.Register("lsfd", func(s *node.Sys) int {
		var out []string
		for _, fd := range s.Fds() {
			out = append(out, strconv.Itoa(fd))
		}
		s.Printf("%s\n", strings.Join(out, " "))
		return 0
	})
	// reap runs its arguments as a child with its own descriptors, waits
	// for it, and tells on standard error how it ended.
	r.Register("reap", func(s *node.Sys) int {
		a := s.Args()
		pid, err := s.Spawn(node.SpawnAttr{Command: a[0], Args: a[1:]})
		if err != nil {
			s.Errorf("%v", err)
			return 127
		}
		_, ws, err := s.Wait4(pid, 0)
		if err != nil {
			s.Errorf("%v", err)
			return 127
		}
		if ws.Signaled() {
			fmt.Fprintf(s.Stderr(), "reap: signal %d\n", ws.Signal())
		} else {
			fmt.Fprintf(s.Stderr(), "reap: exit %d\n", ws.ExitStatus())
		}
		return ws.Code()
	})
	return r
}

func newShKernel(t testing.TB, mod ...func(*node.Config)) *node.ProcessManager {
	t.Helper()
	return newKernel(t, append([]func(*node.Config){func(c *node.Config) { c.Programs = shPrograms() }}, mod...)...)
}

// runSh runs sh -c script with args and returns its status and its
// standard output and error, interleaved.
func runSh(t testing.TB, k *node.ProcessManager, script string, args ...string) (node.WaitStatus, string) {
	t.Helper()
	return run(t, k, node.Spec{Command: "sh", Args: append([]string{"-c", script}, args...)})
}

func writeFile(t testing.TB, k *node.ProcessManager, name, data string) {
	t.Helper()
	f, err := k.FS().OpenFile(name, node.O_WRONLY|node.O_CREAT|node.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestShell(t *testing.T) {
	tests := []struct {
		name   string
		script string
		args   []string
		want   string   // the whole output, unless contains is set
		has    []string // substrings the output must contain
		hasNot []string // substrings it must not contain
		code   int
	}{
		// Simple commands and quoting.
		{name: "echo", script: "echo a b", want: "a b\n"},
		{name: "single quotes", script: `echo 'a  $b' c`, want: "a  $b c\n"},
		{name: "double quotes", script: `X=1; echo "a  $X" "\$X" "\"q\""`, want: "a  1 $X \"q\"\n"},
		{name: "backslash", script: `echo a\ \ b \$X \\`, want: "a  b $X \\\n"},
		{name: "mixed quotes", script: `echo 'a'"b"c"'"'"'`, want: "abc'\"\n"},
		{name: "empty quotes are a field", script: `for a in '' ""; do echo "<$a>"; done`, want: "<>\n<>\n"},
		{name: "comments", script: "echo a # b\n# c\necho d", want: "a\nd\n"},

		// Variables and parameters.
		{name: "assignment", script: "X=1; echo $X", want: "1\n"},
		{name: "braces", script: "X=ab; echo ${X}c", want: "abc\n"},
		{name: "unset is empty", script: `echo "[$NOPE]"`, want: "[]\n"},
		{name: "word splitting", script: `X='1  2	3'; for a in $X; do echo "<$a>"; done; echo "$X"`, want: "<1>\n<2>\n<3>\n1  2\t3\n"},
		{name: "IFS", script: `IFS=:; X=a:b; for a in $X; do echo $a; done`, want: "a\nb\n"},
		{name: "default", script: `echo ${NOPE:-def} ${NOPE-x}`, want: "def x\n"},
		{name: "assign default", script: `echo ${N:=v}; echo $N`, want: "v\nv\n"},
		{name: "length", script: `X=hello; echo ${#X}`, want: "5\n"},
		{name: "strip", script: `X=a.b.c; echo ${X%.*} ${X#*.} ${X##*.}`, want: "a.b b.c c\n"},
		{name: "positional", script: `echo $0 $1 $2 $#`, args: []string{"zero", "one", "two"}, want: "zero one two 2\n"},
		{name: "dollar at", script: `for a in "$@"; do echo "<$a>"; done`, args: []string{"z", "a b", "c"}, want: "<a b>\n<c>\n"},
		{name: "unquoted at splits", script: `for a in $@; do echo "<$a>"; done`, args: []string{"z", "a b", "c"}, want: "<a>\n<b>\n<c>\n"},
		{name: "dollar star", script: `echo "$*"`, args: []string{"z", "a", "b"}, want: "a b\n"},
		{name: "no params", script: `echo $#; for a in "$@"; do echo x; done`, want: "0\n"},
		{name: "set --", script: `set -- a b c; echo $# $2; shift; echo $1`, want: "3 b\nb\n"},
		{name: "ninth and tenth", script: `set -- 1 2 3 4 5 6 7 8 9 10; echo $9 ${10}`, want: "9 10\n"},
		{name: "pid", script: `test $$ -gt 1 && echo ok`, want: "ok\n"},
		{name: "arithmetic", script: `x=5; echo $((x * 2 + 1)) $((7 / 2)) $((x > 3))`, want: "11 3 1\n"},
		{name: "command substitution", script: `echo $(echo hi) "$(echo a; echo b)"`, want: "hi a\nb\n"},
		{name: "backquotes", script: "echo `echo hi`", want: "hi\n"},
		{name: "substitution status", script: `x=$(false); echo $? "[$x]"`, want: "1 []\n"},
		{name: "substitution of a builtin", script: `x=$(cd / && echo in); echo $x`, want: "in\n"},
		{name: "tilde", script: `HOME=/h; echo ~ ~/x ~nobody`, want: "/h /h/x ~nobody\n"},

		// Environment.
		{name: "not exported", script: "X=1; env", hasNot: []string{"X=1"}},
		{name: "export", script: "X=1; export X; export Y=2; env", has: []string{"X=1\n", "Y=2\n"}},
		{name: "export list", script: "export Y=2; export", has: []string{"declare -x Y=\"2\"\n"}},
		{name: "export no split", script: `V='a b'; export X=$V; env`, has: []string{"X=a b\n"}},
		{name: "prefix env", script: "X=2 env; echo ${X-unset}", has: []string{"X=2\n", "unset\n"}},
		{name: "prefix overrides", script: "export X=1; X=2 env; env", has: []string{"X=2\n", "X=1\n"}},
		{name: "unset", script: "export X=1; unset X; env; echo ${X-gone}", hasNot: []string{"X=1"}, has: []string{"gone\n"}},

		// Status and lists.
		{name: "status of false", script: "false; echo $?", want: "1\n"},
		{name: "status of true", script: "false; true; echo $?", want: "0\n"},
		{name: "and", script: "true && echo y", want: "y\n"},
		{name: "and short-circuits", script: "false && echo y; echo $?", want: "1\n"},
		{name: "or", script: "false || echo y", want: "y\n"},
		{name: "or short-circuits", script: "true || echo y; echo $?", want: "0\n"},
		{name: "and or", script: "false && echo a || echo b", want: "b\n"},
		{name: "or and", script: "true || echo a && echo b", want: "b\n"},
		{name: "semicolons and newlines", script: "echo a; echo b\necho c", want: "a\nb\nc\n"},
		{name: "negation", script: "! true; echo $?; ! false; echo $?", want: "1\n0\n"},
		{name: "exit", script: "exit 3", code: 3},
		{name: "exit stops", script: "exit 3; echo no", code: 3},
		{name: "exit default", script: "false; exit", code: 1},
		{name: "last status", script: "true; false", code: 1},
		{name: "exit in and list", script: "true && exit 4; echo no", code: 4},
		{name: "command not found", script: "nosuch a b", want: "sh: nosuch: command not found\n", code: 127},
		{name: "not found status", script: "nosuch 2>/e; echo $?", want: "127\n"},
		{name: "death by signal", script: `sh -c 'kill -9 $$'; echo $?`, has: []string{"Killed", "sh -c 'kill -9 $$'\n137\n"}},
		{name: "parse error", script: "echo (", has: []string{"sh: "}, code: 2},
		{name: "parse error unterminated", script: "echo 'a", has: []string{"sh: "}, code: 2},

		// Pipelines.
		{name: "pipe", script: "echo hello | cat", want: "hello\n"},
		{name: "wc", script: "echo a b c | wc -w", want: "3\n"},
		{name: "long pipe", script: "echo a | cat | cat | cat | wc -l", want: "1\n"},
		{name: "yes head wc", script: "yes | head -n 3 | wc -l", want: "3\n"},
		{name: "pipe status is the last", script: "false | true; echo $?; true | false; echo $?", want: "0\n1\n"},
		{name: "negated pipe", script: "! echo a | false; echo $?", want: "0\n"},
		{name: "stage fds", script: "true | lsfd | cat", want: "0 1 2\n"},
		{name: "block stage", script: "{ echo a; echo b; } | wc -l", want: "2\n"},
		{name: "loop stage", script: "for i in 1 2 3; do echo $i; done | wc -l", want: "3\n"},
		{name: "function stage", script: "f() { echo fn $1; }; f x | cat", want: "fn x\n"},
		{name: "variable in stage", script: "X=1; { echo $X; } | cat", want: "1\n"},
		{name: "exit in stage", script: "exit 3 | cat; echo after", want: "after\n"},
		{name: "read from pipe", script: "echo 'a b c' | { read x y; echo \"$y\"; }", want: "b c\n"},
		{name: "not found in stage", script: "nosuch 2>&1 | wc -l", want: "1\n"},

		// Redirections.
		{name: "to file", script: "echo hi > /f; cat /f", want: "hi\n"},
		{name: "truncate", script: "echo long > /f; echo b > /f; cat /f", want: "b\n"},
		{name: "append", script: "echo a > /f; echo b >> /f; cat /f", want: "a\nb\n"},
		{name: "from file", script: "echo x > /f; cat < /f", want: "x\n"},
		{name: "stderr to file", script: "cat /nonexistent 2> /e; wc -l < /e", want: "1\n"},
		{name: "stderr to pipe", script: "cat /nonexistent 2>&1 | wc -l", want: "1\n"},
		{name: "stderr not to pipe", script: "cat /nonexistent | wc -l", has: []string{"0\n", "nonexistent"}},
		{name: "to stderr", script: "echo x 2>/e >&2; cat /e", want: "x\n"},
		{name: "order matters", script: "echo x >&2 2>/e; cat /e; echo end", want: "x\nend\n"},
		{name: "dup then file", script: "cat /nonexistent 2>&1 >/f | wc -l; wc -l < /f", want: "1\n0\n"},
		{name: "numbered fd", script: "echo x 3>/f >&3; cat /f", want: "x\n"},
		{name: "close fd", script: "lsfd 2>&-", want: "0 1\n"},
		{name: "bad fd", script: "echo x >&7", has: []string{"7: Bad file descriptor"}, code: 1},
		{name: "missing input", script: "cat < /nope; echo $?", has: []string{"/nope: No such file or directory", "1\n"}},
		{name: "redirect alone", script: "> /f; cat /f; echo $?", want: "0\n"},
		{name: "builtin redirect", script: "cd /nonexistent 2>/e; wc -l < /e", want: "1\n"},
		{name: "builtin in pipe", script: "cd /nonexistent 2>&1 | wc -l", want: "1\n"},
		{name: "block redirect", script: "{ echo a; echo b; } > /f; cat /f", want: "a\nb\n"},
		{name: "block redirect keeps vars", script: "{ X=1; } > /f; echo $X", want: "1\n"},
		{name: "loop input", script: "printf_() { echo 1; echo 2; }; printf_ > /f; while read l; do echo \"<$l>\"; done < /f", want: "<1>\n<2>\n"},
		{name: "heredoc", script: "X=w; cat <<EOF\nhello $X\nEOF", want: "hello w\n"},
		{name: "quoted heredoc", script: "X=w; cat <<'EOF'\nhello $X\nEOF", want: "hello $X\n"},
		{name: "dash heredoc", script: "cat <<-EOF\n\t\ta\n\tb\n\tEOF", want: "a\nb\n"},
		{name: "exec redirect", script: "exec 3>/f; echo x >&3; echo y >&3; cat /f", want: "x\ny\n"},
		{name: "exec command", script: "exec sh -c 'exit 5'; echo no", code: 5},
		{name: "exec not found", script: "exec nosuch; echo no", want: "sh: exec: nosuch: not found\n", code: 127},
		{name: "exec with redirection", script: "echo in > /f; exec cat < /f", want: "in\n"},
		{name: "exec keeps descriptors", script: "exec 3>/f; (exec sh -c 'echo x >&3'; echo no); cat /f", want: "x\n"},

		// Compound commands.
		{name: "subshell", script: "(exit 4); echo $?", want: "4\n"},
		{name: "subshell isolation", script: "X=1; (X=2; cd /); echo $X; pwd", want: "1\n/\n"},
		{name: "subshell sees variables", script: "X=1; (echo $X)", want: "1\n"},
		{name: "subshell sees status", script: "false; (echo $?)", want: "1\n"},
		{name: "subshell pid", script: "a=$$; (test $a = $$ && echo same)", want: "same\n"},
		{name: "block", script: "{ echo a; false; }; echo $?", want: "a\n1\n"},
		{name: "if", script: "if false; then echo a; elif true; then echo b; else echo c; fi", want: "b\n"},
		{name: "if else", script: "if false; then echo a; else echo c; fi", want: "c\n"},
		{name: "if status", script: "if false; then :; fi; echo $?", want: "0\n"},
		{name: "while", script: "i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo $i", want: "3\n"},
		{name: "until", script: "i=0; until test $i = 2; do i=$((i+1)); echo $i; done", want: "1\n2\n"},
		{name: "for", script: "for i in a b; do echo $i; done", want: "a\nb\n"},
		{name: "break", script: "for i in 1 2 3; do if [ $i = 2 ]; then break; fi; echo $i; done", want: "1\n"},
		{name: "continue", script: "for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done", want: "1\n3\n"},
		{name: "break 2", script: "for i in 1 2; do for j in a b; do echo $i$j; break 2; done; done", want: "1a\n"},
		{name: "case", script: "case foo in f*) echo yes;; *) echo no;; esac", want: "yes\n"},
		{name: "case quoted", script: "case 'f*' in 'f*') echo lit;; f*) echo glob;; esac", want: "lit\n"},
		{name: "case default", script: "case x in a|b) echo ab;; *) echo other;; esac", want: "other\n"},
		{name: "function", script: `f() { echo "f:$1"; return 3; }; f x; echo $?; echo $1`, args: []string{"z", "top"}, want: "f:x\n3\ntop\n"},
		{name: "recursion limit", script: "f() { f; }; f", has: []string{"nested too deeply"}, code: 2},
		{name: "eval", script: `c='echo a; echo b'; eval "$c"`, want: "a\nb\n"},
		{name: "dot", script: "echo 'echo sourced $1; Y=2' > /s; . /s arg; echo $Y", want: "sourced arg\n2\n"},
		{name: "test", script: `[ a = a ] && [ 1 -lt 2 ] && [ -n x ] && [ -z "" ] && ! [ a = b ] && test -d / && echo ok`, want: "ok\n"},
		{name: "test file", script: `echo > /f; [ -f /f ] && [ ! -d /f ] && [ ! -e /nope ] && echo ok`, want: "ok\n"},

		// Options.
		{name: "errexit", script: "set -e; false; echo no", code: 1},
		{name: "errexit in or", script: "set -e; false || true; echo yes", want: "yes\n"},
		{name: "errexit in if", script: "set -e; if false; then :; fi; echo ok", want: "ok\n"},
		{name: "errexit in subshell", script: "set -e; (false; echo no); echo no", code: 1},
		{name: "nounset", script: "set -u; echo $NOPE; echo no", has: []string{"NOPE"}, hasNot: []string{"no\n"}, code: 127},
		{name: "xtrace", script: "set -x; echo a", want: "+ echo a\na\n"},
		{name: "expansion error exits", script: "echo ${X?is unset}; echo no", has: []string{"is unset"}, hasNot: []string{"no"}, code: 127},

		// Background jobs.
		{name: "background", script: "echo bg > /f & wait; cat /f", want: "bg\n"},
		{name: "background pid", script: "true & test -n \"$!\" && wait $! && echo ok", want: "ok\n"},
		{name: "wait status", script: "(exit 6) & wait $!; echo $?", want: "6\n"},

		// Odds and ends.
		{name: "heredoc in forked block", script: "{ cat <<EOF\nin block\nEOF\n} | cat", want: "in block\n"},
		{name: "function in subshell", script: `x='a  b'; f() { echo "$x"; }; (f)`, want: "a  b\n"},
		{name: "nested substitution", script: `echo $(echo $(echo nested)) "$(echo 'a  b')"`, want: "nested a  b\n"},
		{name: "prefix env reaches sh", script: `X=1 sh -c 'echo $X'`, want: "1\n"},
		{name: "exit as last stage", script: "true | exit 3; echo $?", want: "3\n"},
		{name: "unset function", script: "f() { echo f; }; unset -f f; f", has: []string{"f: command not found"}, code: 127},
		{name: "empty command name", script: "E=; X=1 $E; echo $X", want: "1\n"},
		{name: "xtrace in subshell", script: "set -x; (echo a)", has: []string{"+ echo a\n", "a\n"}},

		// bash's syntax and builtins.
		{name: "kill -0 sends nothing", script: "sleep 5 & kill -0 $! && echo alive; kill -s 0 $! && echo alive; kill $!; wait $!; echo $?", want: "alive\nalive\n143\n"},
		{name: "bad signal sends nothing", script: "sleep 5 & kill -NOPE $!; echo $?; kill -0 $! && echo alive; kill -9 $!", has: []string{"1\nalive\n", "NOPE: invalid signal specification"}},
		{name: "kill -0 of a reaped pid", script: "true & p=$!; wait $p; kill -0 $p; echo $?", has: []string{"No such process", "1\n"}},
		{name: "trap exit", script: "trap 'echo bye $?' EXIT; echo hi; exit 3", want: "hi\nbye 3\n", code: 3},
		{name: "trap signal", script: "trap 'echo got' USR1; kill -USR1 $$; echo after", want: "got\nafter\n"},
		{name: "trap exit on a fatal signal", script: "trap 'echo bye' EXIT; kill $$; echo no", want: "bye\n", code: 143},
		{name: "pipefail", script: "false | true; echo $?; set -o pipefail; false | true; echo $? ${PIPESTATUS[@]}", want: "0\n1 1 0\n"},
		{name: "job specs", script: "sleep 5 & sleep 5 & kill %1; wait %1; echo $?; kill %%; wait; jobs; echo end", want: "143\nend\n"},
		{name: "wait -n", script: "(exit 3) & wait -n; echo $?; wait -n; echo $?", want: "3\n127\n"},
		{name: "here-string", script: "cat <<< 'a  b'; read x <<< $'c\\d'; echo $x", want: "a  b\ncd\n"},
		{name: "arrays and local", script: "a=(x y); f() { local a=l; echo $a; }; f; echo ${a[1]} ${#a[@]}", want: "l\ny 2\n"},
		{name: "double brackets and arithmetic", script: "[[ ab == a* && 3 -gt 2 ]] && (( 2 * 3 == 6 )) && echo ok", want: "ok\n"},
		{name: "read -n and -t", script: "read -n 2 x <<< abc; echo $x; sleep 5 | { read -t 0.05 y; echo $?; }", want: "ab\n142\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newShKernel(t)
			st, out := runSh(t, k, tc.script, tc.args...)
			if got := st.Code(); got != tc.code {
				t.Errorf("status: got %d (%v), want %d, for %q; output %q", got, st, tc.code, tc.script, out)
			}
			if tc.has == nil && tc.hasNot == nil && out != tc.want {
				t.Errorf("output: got %q, want %q, for %q", out, tc.want, tc.script)
			}
			for _, h := range tc.has {
				if !strings.Contains(out, h) {
					t.Errorf("output: got %q, want it to contain %q, for %q", out, h, tc.script)
				}
			}
			for _, h := range tc.hasNot {
				if strings.Contains(out, h) {
					t.Errorf("output: got %q, want it not to contain %q, for %q", out, h, tc.script)
				}
			}
		})
	}
}

func TestShellScriptSources(t *testing.T) {
	k := newShKernel(t)
	writeFile(t, k, "/s.sh", "echo $0 $1 $#\nexit 7\n")
	st, out := run(t, k, node.Spec{Command: "sh", Args: []string{"/s.sh", "a", "b"}})
	if st.Code() != 7 || out != "/s.sh a 2\n" {
		t.Errorf("sh FILE: got %v %q, want exit 7 and %q", st, out, "/s.sh a 2\n")
	}
	st, out = run(t, k, node.Spec{Command: "sh", Args: []string{"/nope.sh"}})
	if st.Code() != 127 || !strings.Contains(out, "/nope.sh") {
		t.Errorf("sh MISSING: got %v %q, want exit 127 and a message", st, out)
	}
	var buf syncBuffer
	st, _ = run(t, k, node.Spec{Command: "sh", Stdin: strings.NewReader("echo from stdin\nfalse\n"), Stdout: &buf, Stderr: &buf})
	if st.Code() != 1 || buf.String() != "from stdin\n" {
		t.Errorf("sh < script: got %v %q, want exit 1 and %q", st, buf.String(), "from stdin\n")
	}
	st, out = runSh(t, k, "/s.sh x")
	if st.Code() != 7 || out != "/s.sh x 1\n" {
		t.Errorf("running a script by path: got %v %q", st, out)
	}
	st, out = run(t, k, node.Spec{Command: "sh", Args: []string{"-q"}})
	if st.Code() != 2 || !strings.Contains(out, "invalid option") {
		t.Errorf("sh -q: got %v %q, want exit 2 and a message", st, out)
	}
}

func TestShellCdAndGlob(t *testing.T) {
	k := newShKernel(t)
	for _, d := range []string{"/d", "/d/sub"} {
		if err := k.FS().Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"/d/a.txt", "/d/b.txt", "/d/c.log", "/d/.hidden"} {
		writeFile(t, k, f, "")
	}
	tests := []struct{ script, want string }{
		{"cd /d; pwd; echo $PWD", "/d\n/d\n"},
		{"cd /d/sub; cd ..; pwd; cd -", "/d\n/d/sub\n"},
		{"cd /d; echo *.txt", "a.txt b.txt\n"},
		{"echo /d/*", "/d/a.txt /d/b.txt /d/c.log /d/sub\n"},
		{"cd /d; echo '*.txt' \\*.txt", "*.txt *.txt\n"},
		{"cd /d; echo *.none", "*.none\n"},
		{"cd /d; for f in *.txt; do echo $f; done", "a.txt\nb.txt\n"},
		{"(cd /d); pwd", "/\n"},
		{"cd /nope; echo $?", "sh: cd: /nope: No such file or directory\n1\n"},
		{"HOME=/d/sub; cd; pwd", "/d/sub\n"},
		{"echo /d/a.txt/* /d/*/x /nope/*", "/d/a.txt/* /d/*/x /nope/*\n"},
		{"cd /d; unset PWD; echo *.log", "c.log\n"},
		{"cd /d; echo .*", ".hidden\n"},
		{"cd /d; X=*.log; echo $X \"$X\"", "c.log *.log\n"},
	}
	for _, tc := range tests {
		st, out := runSh(t, k, tc.script)
		if st.Code() != 0 || out != tc.want {
			t.Errorf("got %v %q, want %q, for %q", st, out, tc.want, tc.script)
		}
	}
}

// TestShellPipelineSIGPIPE checks that in `yes | head -n 1` the shell leaves
// no stray read end open, so that yes dies of SIGPIPE once head is gone.
func TestShellPipelineSIGPIPE(t *testing.T) {
	k := newShKernel(t)
	st, out := runSh(t, k, "reap yes | head -n 1")
	want := fmt.Sprintf("reap: signal %d\n", ipc.SIGPIPE)
	if st.Code() != 0 || !strings.Contains(out, "y\n") || !strings.Contains(out, want) {
		t.Errorf("got %v %q, want exit 0, a y and %q", st, out, want)
	}
}

// TestShellYesDiesOfSIGPIPE builds `yes | head -n 3` with the system calls a
// shell uses and checks how yes ends.
func TestShellYesDiesOfSIGPIPE(t *testing.T) {
	r := shPrograms()
	r.Register("yeshead", func(s *node.Sys) int {
		rd, wr, err := s.Pipe()
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		yes, err := s.Spawn(node.SpawnAttr{Command: "yes", Files: []int{-1, wr, 2}})
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		head, err := s.Spawn(node.SpawnAttr{Command: "head", Args: []string{"-n", "3"}, Files: []int{rd, 1, 2}})
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		s.Close(rd)
		s.Close(wr)
		_, yst, err := s.Wait4(yes, 0)
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		_, hst, err := s.Wait4(head, 0)
		if err != nil {
			s.Errorf("%v", err)
			return 1
		}
		s.Printf("yes: signaled=%v signal=%d code=%d; head: %d\n", yst.Signaled(), yst.Signal(), yst.Code(), hst.Code())
		return 0
	})
	k := newKernel(t, func(c *node.Config) { c.Programs = r })
	st, out := run(t, k, node.Spec{Command: "yeshead"})
	want := fmt.Sprintf("y\ny\ny\nyes: signaled=true signal=%d code=%d; head: 0\n", ipc.SIGPIPE, 128+int(ipc.SIGPIPE))
	if st.Code() != 0 || out != want {
		t.Errorf("got %v %q, want %q", st, out, want)
	}
}

// TestShellPipelineFinishes runs pipelines whose first stage never ends by
// itself: they must end as soon as the last stage does.
func TestShellPipelineFinishes(t *testing.T) {
	k := newShKernel(t)
	for _, script := range []string{
		"yes | head -n 3 | wc -l",
		"yes | cat | head -n 1",
		"yes | { head -n 1; } | cat",
	} {
		var out syncBuffer
		pid, err := k.Spawn(node.Spec{Command: "sh", Args: []string{"-c", script}, Stdout: &out, Stderr: &out})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := k.Wait(ctx, pid)
		cancel()
		if err != nil {
			t.Fatalf("%q did not finish: %v (output so far %q)", script, err, out.String())
		}
		if p.Status.Code() != 0 || out.String() == "" {
			t.Errorf("%q: got %v %q", script, p.Status, out.String())
		}
	}
	waitFor(t, "every process to be reaped", 5*time.Second, func() bool { return k.Count() == 0 })
}

// TestShellKilled checks that a shell running only builtins in a loop can
// still be killed: the loop makes system calls.
func TestShellKilled(t *testing.T) {
	k := newShKernel(t)
	var out syncBuffer
	pid, err := k.Spawn(node.Spec{Command: "sh", Args: []string{"-c", "echo started; while :; do :; done"}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the loop to start", 5*time.Second, func() bool { return out.String() != "" })
	if err := k.Kill(pid, ipc.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := k.Wait(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Status.Signaled() || p.Status.Signal() != ipc.SIGTERM {
		t.Errorf("got %v, want killed by SIGTERM", p.Status)
	}
}

// offlineShell is a shell with no process behind it, for the expansion
// path alone: command substitutions expand to nothing and there is no
// globbing.
func offlineShell() *shell {
	return &shell{
		name:   "sh",
		parser: syntax.NewParser(syntax.Variant(syntax.LangBash)),
		vars:   map[string]*shVar{"X": {kind: expand.String, value: "a b", set: true}, "E": {kind: expand.String, value: "1", set: true, exported: true}},
		funcs:  map[string]*syntax.FuncDecl{},
		arg0:   "sh",
		params: []string{"p1", "p 2"},
		fds:    fdTable{},
	}
}

// expandAll parses src and expands every word in it, as the interpreter
// would, without running anything.
func expandAll(src string) error {
	sh := offlineShell()
	f, err := sh.parser.Parse(strings.NewReader(src), "")
	if err != nil {
		return err
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CallExpr:
			sh.commandFields(n.Args)
			for _, a := range n.Assigns {
				sh.assignTo(a)
			}
		case *syntax.Redirect:
			sh.literal(n.Word)
			if n.Hdoc != nil {
				sh.heredocBody(n)
			}
		case *syntax.CaseClause:
			sh.literal(n.Word)
		case *syntax.Stmt:
			sh.print(n)
		}
		return true
	})
	t := testExpr{sh: sh, args: strings.Fields(src)}
	t.eval()
	return nil
}

func TestShellExpandOffline(t *testing.T) {
	sh := offlineShell()
	tests := []struct{ word, want string }{
		{`$X`, "a|b"},
		{`"$X"`, "a b"},
		{`"$@"`, "p1|p 2"},
		{`$@`, "p1|p|2"},
		{`"$*"`, "p1 p 2"},
		{`$# $0 $1`, "2|sh|p1"},
		{`${X:+set} ${NOPE:-d}`, "set|d"},
		{`'$X'\$X`, "$X$X"},
		{`$((1 + 2 * 3))`, "7"},
	}
	for _, tc := range tests {
		f, err := sh.parser.Parse(strings.NewReader("echo "+tc.word), "")
		if err != nil {
			t.Fatalf("%q: %v", tc.word, err)
		}
		call := f.Stmts[0].Cmd.(*syntax.CallExpr)
		got, err := sh.fields(call.Args[1:]...)
		if err != nil {
			t.Errorf("%q: %v", tc.word, err)
			continue
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("got %q, want %q, for %q", strings.Join(got, "|"), tc.want, tc.word)
		}
	}
}

var shellFuzzSeeds = []string{
	"echo a b",
	"a=(1 2); a+=(x); declare -A m=([k]=v); echo ${a[@]} ${m[k]} ${#a[@]}",
	"[[ a == a* && -n x || 1 -eq 1 ]]; (( x = 2 ** 3 )); let y=x+1; echo $x $y",
	"trap 'echo t' EXIT USR1; kill -USR1 $$; set -o pipefail; false | true; echo ${PIPESTATUS[@]}",
	"sleep 0.01 & jobs; kill -0 %1; wait -n; read -n 1 -t 0.01 x <<< ab; echo $x",
	"f() { local v=1; echo $v; }; f; printf '%s-%d\\n' a 1; echo -e 'a\\tb'; time true",
	`X=1; echo "$X" '$X' \$X ${X:-d} ${#X} $((X+1))`,
	"echo hello | cat | wc -l",
	"false && echo a || echo b; ! true; exit 3",
	"echo x > /f; cat < /f 2>&1 >> /g; cat <<EOF\n$X\nEOF",
	"f() { echo $1; return 2; }; f a; (exit 1); { echo; } > /x",
	"if a; then b; elif c; then d; else e; fi; case $x in a|b) ;; *) echo;; esac",
	"for i in 1 2; do continue; done; while false; do break; done",
	`echo ${x?} ${y:=3} "${@}" $* $$ $! $- $? $0 ${10}`,
	"[ a = b -o ! -n x ] ; test ( x ) ; set -eux -- a; shift 9; read; cd; eval 'echo'",
	"exec 3>&- 4<&0; echo $( (echo) ) `echo` &",
}

// FuzzShell checks that no script makes the shell panic: every input goes
// through the parser and the expansion of all its words, and scripts
// without loops or functions also run in a kernel whose only programs are
// harmless, under a short wall-clock limit.
func FuzzShell(f *testing.F) {
	for _, s := range shellFuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if err := expandAll(src); err != nil {
			return // a parse error: the shell reports it and exits 2
		}
		if len(src) > 512 || strings.ContainsAny(src, "\x00") || !runnable(src) {
			return
		}
		r := node.NewProgramTable()
		registerShell(r)
		r.Register("true", func(*node.Sys) int { return 0 })
		r.Register("false", func(*node.Sys) int { return 1 })
		r.Register("echo", progEcho)
		k := newKernel(t, func(c *node.Config) { c.Programs = r; c.MaxProcesses = 32 })
		lim := node.NewLimits()
		lim[node.RWall] = node.Rlimit{Soft: uint64(time.Second), Hard: uint64(time.Second)}
		st, _ := run(t, k, node.Spec{Command: "sh", Args: []string{"-c", src}, Limits: lim})
		if st.Signaled() && st.Signal() == ipc.SIGABRT {
			t.Fatalf("the shell panicked on %q", src)
		}
	})
}

// runnable reports whether a fuzzed script is bounded in time: it has no
// loops and no functions.
func runnable(src string) bool {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(src), "")
	if err != nil {
		return false
	}
	ok := true
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n.(type) {
		case *syntax.WhileClause, *syntax.ForClause, *syntax.FuncDecl:
			ok = false
		}
		return ok
	})
	return ok
}

// TestShellLargeHeredoc feeds a here-document several times a pipe's
// capacity, to a reader that reads it all and to one that stops early.
func TestShellLargeHeredoc(t *testing.T) {
	k := newShKernel(t)
	body := strings.Repeat(strings.Repeat("x", 99)+"\n", 4*ipc.DefaultPipeCapacity/100)
	for _, c := range []struct{ cmd, want string }{
		{"wc -c <<EOF", strconv.Itoa(len(body)) + "\n"},
		{"head -n 1 <<EOF | wc -c", "100\n"},
	} {
		st, out := runSh(t, k, c.cmd+"\n"+body+"EOF\necho done")
		if st.ExitStatus() != 0 || out != c.want+"done\n" {
			t.Errorf("got %v %q, want exit 0 %q for %s (%d bytes)", st, out, c.want+"done\n", c.cmd, len(body))
		}
	}
	if ents, err := k.FS().ReadDir(heredocDir); err == nil && len(ents) > 0 {
		t.Errorf("%s holds %d files after the here-documents, want none", heredocDir, len(ents))
	}
}

// TestShellFgBg stops a background job and continues it with bg, then
// waits for it with fg.
func TestShellFgBg(t *testing.T) {
	k := newShKernel(t)
	// stopped waits until jobs reports the stop.
	const stopped = `stopped() { while :; do jobs > /j; read l < /j; case $l in *Stopped*) echo "$l"; return;; esac; done; }; `
	st, out := runSh(t, k, stopped+`sleep 0.3 & kill -STOP %1; stopped; bg %1; jobs; fg %1; echo $?; jobs; echo end`)
	want := "[1]+  Stopped (signal)        sleep 0.3 &\n[1]+ sleep 0.3 &\n[1]+  Running                 sleep 0.3 &\nsleep 0.3\n0\nend\n"
	if st.ExitStatus() != 0 || out != want {
		t.Errorf("got %v %q, want exit 0 %q", st, out, want)
	}
	// fg continues a stopped job itself.
	st, out = runSh(t, k, `sleep 0.2 & kill -STOP %1; fg; echo $?`)
	if st.ExitStatus() != 0 || out != "sleep 0.2\n0\n" {
		t.Errorf("got %v %q, want exit 0 %q", st, out, "sleep 0.2\n0\n")
	}
}

// TestShellExecInPlace checks that exec replaces the shell: the command
// keeps its PID, so that a signal to that PID reaches the command and
// nothing is left behind.
func TestShellExecInPlace(t *testing.T) {
	k := newShKernel(t)
	st, out := runSh(t, k, `echo $$; exec sh -c 'echo $$'`)
	lines := strings.Fields(out)
	if st.ExitStatus() != 0 || len(lines) != 2 || lines[0] != lines[1] {
		t.Fatalf("got %v %q, want the same PID twice", st, out)
	}
	pid := mustSpawn(t, k, node.Spec{Command: "sh", Args: []string{"-c", "exec sleep 30"}})
	waitFor(t, "the shell to become sleep", 10*time.Second, func() bool {
		p, err := k.Get(pid)
		return err == nil && p.Command == "sleep"
	})
	if err := k.Kill(pid, ipc.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if ws := mustWait(t, k, pid).Status; !ws.Signaled() || ws.Signal() != ipc.SIGTERM {
		t.Fatalf("got %v, want killed by SIGTERM", ws)
	}
	for _, p := range k.List() {
		if p.Command == "sleep" && p.State != node.StateZombie {
			t.Fatalf("sleep %d is left running after its shell's PID was killed", p.PID)
		}
	}
}

// TestShellAsyncIgnoresInt checks that an asynchronous command, and the
// commands of an asynchronous subshell, ignore SIGINT and SIGQUIT, as POSIX
// asks of a shell without job control, and still die of SIGTERM.
func TestShellAsyncIgnoresInt(t *testing.T) {
	k := newShKernel(t)
	for _, c := range []struct{ script, want string }{
		{"sleep 30 & wait $!; echo $?", "143\n"},
		// The subshell goes on once its sleep is killed, as bash's does.
		{"(sleep 30; echo after) & wait $!; echo $?", "Terminated\nafter\n0\n"},
	} {
		script := c.script
		var out syncBuffer
		sh := mustSpawn(t, k, node.Spec{Command: "sh", Args: []string{"-c", script}, Stdout: &out, Stderr: &out})
		var sleep int
		waitFor(t, "sleep to run", 10*time.Second, func() bool {
			for _, p := range k.List() {
				if p.Command == "sleep" && p.State != node.StateZombie {
					sleep = p.PID
					return true
				}
			}
			return false
		})
		for _, sig := range []ipc.Signal{ipc.SIGINT, ipc.SIGQUIT} {
			if err := k.Kill(sleep, sig); err != nil {
				t.Fatal(err)
			}
		}
		// A signal to a process is acted on before the next one: TERM
		// must be what ends it.
		if err := k.Kill(sleep, ipc.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if ws := mustWait(t, k, sh).Status; ws.ExitStatus() != 0 || out.String() != c.want {
			t.Errorf("%s: got %v %q, want exit 0 %q", script, ws, out.String(), c.want)
		}
	}
}
