package node

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSetGroupEvents: setpgid and setsid after the spawn are told to
// OnEvent with the new group and session, so that the cluster can follow
// them; a setpgid that changes nothing, or fails, tells nothing.
func TestSetGroupEvents(t *testing.T) {
	var mu sync.Mutex
	var got []string
	k := newKernel(t, withPrograms(map[string]Program{
		"outer": func(s *Sys) int { // leads its session: the mover does not
			pid, err := s.Spawn(SpawnAttr{Command: "mover"})
			if err != nil {
				return 1
			}
			_, ws, _ := s.Wait4(pid, 0)
			return ws.Code()
		},
		"mover": func(s *Sys) int {
			child, err := s.Spawn(SpawnAttr{Command: "sleep", Args: []string{"30"}})
			if err != nil {
				return 1
			}
			s.Setpgid(child, 0)     // the child leads a group of its own
			s.Setpgid(child, child) // no change
			s.Setpgid(child, 1<<20) // no such group: EPERM
			s.Printf("done %d %d\n", s.Getpid(), child)
			s.Setpgid(0, child) // the caller joins the child's group
			if _, err := s.Setsid(); err != nil {
				return 3
			}
			s.Kill(child, 9)
			s.Wait4(child, 0)
			return 0
		},
	}), func(c *Config) {
		c.OnEvent = func(e Event) {
			if e.Kind != EventSetGroup {
				return
			}
			mu.Lock()
			got = append(got, fmt.Sprintf("%d:%d/%d", e.PID, e.Pgid, e.Sid))
			mu.Unlock()
		}
	})
	st, out := run(t, k, Spec{Command: "outer"})
	if st.ExitStatus() != 0 {
		t.Fatalf("mover: status %v, output %q", st, out)
	}
	var mover, child int
	if _, err := fmt.Sscanf(out, "done %d %d", &mover, &child); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	sid := mover - 1 // outer
	want := []string{
		fmt.Sprintf("%d:%d/%d", child, child, sid),
		fmt.Sprintf("%d:%d/%d", mover, child, sid),
		fmt.Sprintf("%d:%d/%d", mover, mover, mover),
	}
	waitFor(t, "the group events", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
}
