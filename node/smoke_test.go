package node

import "testing"

func TestSmokeEcho(t *testing.T) {
	k := newKernel(t)
	st, out := run(t, k, Spec{Command: "echo", Args: []string{"hi", "there"}})
	if st.ExitStatus() != 0 || out != "hi there\n" {
		t.Fatalf("got %v %q", st, out)
	}
	st, _ = run(t, k, Spec{Command: "false"})
	if st.ExitStatus() != 1 {
		t.Fatalf("false: got %v", st)
	}
}
