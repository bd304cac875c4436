package node

import (
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// stepClock is a deterministic Clock: every reading advances it by one
// microsecond, so CPU time is counted in the scheduler's own units (calls),
// not in wall time, and is the same under -race as without it.
type stepClock struct{ n atomic.Int64 }

func (c *stepClock) Now() int64 { return c.n.Add(1000) }

// spinners spawns one endless yielding spinner per priority and returns the
// PIDs.
func spinners(t *testing.T, k *ProcessManager, prios ...int) []int {
	t.Helper()
	pids := make([]int, len(prios))
	for i, pr := range prios {
		pid, err := k.Spawn(Spec{Command: "spin", Priority: pr})
		if err != nil {
			t.Fatal(err)
		}
		pids[i] = pid
	}
	return pids
}

// cpuShares runs until the spinners have used total CPU between them, by the
// scheduler's accounting, then kills them and returns each one's share.
func cpuShares(t *testing.T, k *ProcessManager, pids []int, total time.Duration) []float64 {
	t.Helper()
	cpu := func() []float64 {
		out := make([]float64, len(pids))
		for i, pid := range pids {
			p, err := k.Get(pid)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = float64(p.CPUTime)
		}
		return out
	}
	waitFor(t, "spinners to use their CPU", 60*time.Second, func() bool {
		sum := 0.0
		for _, c := range cpu() {
			sum += c
		}
		return sum >= float64(total)
	})
	for _, pid := range pids {
		k.Kill(pid, ipc.SIGKILL)
	}
	used := cpu()
	sum := 0.0
	for _, c := range used {
		sum += c
	}
	for i := range used {
		used[i] /= sum
	}
	return used
}

// jain is Jain's fairness index of xs: 1 when all are equal, 1/n at worst.
func jain(xs []float64) float64 {
	var s, sq float64
	for _, x := range xs {
		s += x
		sq += x * x
	}
	return s * s / (float64(len(xs)) * sq)
}

func TestFairnessEqualPriorities(t *testing.T) {
	for _, slots := range []int{1, 2} {
		t.Run("slots="+itoa(slots), func(t *testing.T) {
			clk := &stepClock{}
			k := newKernel(t, func(c *Config) { c.Slots = slots; c.Clock = clk; c.Slice = 50 * time.Microsecond })
			pids := spinners(t, k, 50, 50, 50, 50, 50, 50, 50, 50)
			// With two slots both spinners' goroutines advance the shared
			// step clock, so a goroutine the OS descheduled mid-slice is
			// charged for the other slot's steps: chunks of tens of
			// milliseconds on a busy machine. The fair share is measured
			// over enough accounted time that such a chunk is a small part
			// of each process's total.
			total := 400 * time.Millisecond
			if slots > 1 {
				total = 4 * time.Second
			}
			shares := cpuShares(t, k, pids, total)
			if j := jain(shares); j < 0.95 {
				t.Fatalf("Jain index %.3f < 0.95 for shares %v", j, shares)
			}
		})
	}
}

func TestSharesFollowWeights(t *testing.T) {
	prios := []int{40, 50, 60, 75}
	clk := &stepClock{}
	k := newKernel(t, func(c *Config) { c.Slots = 1; c.Clock = clk; c.Slice = 50 * time.Microsecond })
	pids := spinners(t, k, prios...)
	shares := cpuShares(t, k, pids, 800*time.Millisecond)
	var wsum float64
	for _, pr := range prios {
		wsum += float64(Weight(pr))
	}
	for i, pr := range prios {
		want := float64(Weight(pr)) / wsum
		if rel := math.Abs(shares[i]-want) / want; rel > 0.10 {
			t.Errorf("priority %d: share %.4f, want %.4f (off by %.1f%%)", pr, shares[i], want, rel*100)
		}
	}
}

func TestNoStarvation(t *testing.T) {
	clk := &stepClock{}
	k := newKernel(t, func(c *Config) { c.Slots = 1; c.Clock = clk; c.Slice = 50 * time.Microsecond })
	spinners(t, k, 100, 100)
	st, out := run(t, k, Spec{Command: "spin", Args: []string{"640"}, Priority: 1})
	if st.ExitStatus() != 0 || out != "640\n" {
		t.Fatalf("low-priority spinner: %v %q", st, out)
	}
}

func TestBlockedAndSleepingHoldNoSlot(t *testing.T) {
	k := newKernel(t, func(c *Config) { c.Slots = 1 }, withPrograms(map[string]Program{
		// blocker waits for a cat that reads a pipe whose write end
		// blocker keeps open and never writes to.
		"blocker": func(s *Sys) int {
			r, _, err := s.Pipe()
			if err != nil {
				return 1
			}
			c, err := s.Spawn(SpawnAttr{Command: "cat", Files: []int{r, 1, 2}})
			if err != nil {
				return 1
			}
			s.Wait4(c, 0)
			return 0
		},
	}))
	// A sleeper, and a reader blocked on a pipe nobody writes to.
	sleeper, err := k.Spawn(Spec{Command: "sleep", Args: []string{"30"}})
	if err != nil {
		t.Fatal(err)
	}
	blocker, err := k.Spawn(Spec{Command: "blocker"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sleeper and blocker to block", 10*time.Second, func() bool {
		_, busy, queued := k.Scheduler().Stats()
		p1, _ := k.Get(sleeper)
		p2, _ := k.Get(blocker)
		return busy == 0 && queued == 0 && p1.State == StateWaiting && p2.State == StateWaiting
	})
	// With the only slot free, a spinner runs to completion at once.
	st, out := run(t, k, Spec{Command: "spin", Args: []string{"1000"}})
	if st.ExitStatus() != 0 || out != "1000\n" {
		t.Fatalf("spin: %v %q", st, out)
	}
	if p, _ := k.Get(sleeper); p.CPUTime > 100*time.Millisecond {
		t.Fatalf("sleeper used %v of CPU", p.CPUTime)
	}
}

func itoa(i int) string {
	if i >= 100 {
		return itoaN(i)
	}
	return string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}
