package builtins

import (
	"strings"
	"testing"

	"github.com/vproc/vproc/ipc"
)

func TestShellUnveil(t *testing.T) {
	k := newShKernel(t)
	writeFile(t, k, "/secret.txt", "DB_PASSWORD=x\n")
	k.FS().Mkdir("/allowed", 0o755)
	writeFile(t, k, "/allowed/a", "visible\n")
	st, out := runSh(t, k, `unveil /allowed r; cat /allowed/a; cat /secret.txt; echo "cat: $?"; unveil; unveil / r; echo "relock: $?"`)
	if st.ExitStatus() != 0 {
		t.Fatalf("status %v, output %q", st, out)
	}
	for _, want := range []string{"visible", "cat: 1", "relock: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "DB_PASSWORD") {
		t.Errorf("an unveiled shell read /secret.txt: %q", out)
	}
}

func TestShellPledge(t *testing.T) {
	k := newShKernel(t)
	// The shell keeps what it needs to run commands; what it runs gets
	// the execpromises, without ipc.
	st, out := runSh(t, k, `pledge "stdio rpath wpath cpath proc exec" "stdio rpath proc exec"; reap mqsend -c /q hi; pledge "stdio ipc"; echo "widen: $?"`)
	if st.ExitStatus() != 0 {
		t.Fatalf("status %v, output %q", st, out)
	}
	if !strings.Contains(out, "widen: 1") {
		t.Errorf("a pledge widened the shell's promises: %q", out)
	}
	if !strings.Contains(out, "reap: signal 6") {
		t.Errorf("a child without ipc was not killed by SIGABRT at mq_open: %q", out)
	}
	// A shell that pledges away proc dies of SIGABRT when it runs a command.
	st, out = runSh(t, k, `pledge "stdio rpath"; sleep 0`)
	if st.Signal() != ipc.SIGABRT {
		t.Fatalf("got %v (%q), want SIGABRT", st, out)
	}
}
