package sched

import (
	"errors"
	"testing"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v, want nil", err)
	}
	c := DefaultConfig()
	if c.PreemptGap != 10 || c.ProcsPerSlot != 64 {
		t.Fatalf("DefaultConfig() = %+v, want PreemptGap 10 and ProcsPerSlot 64", c)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"zero procs per slot", func(c *Config) { c.ProcsPerSlot = 0 }, false},
		{"huge procs per slot", func(c *Config) { c.ProcsPerSlot = maxProcsPerSlot + 1 }, false},
		{"zero gap", func(c *Config) { c.PreemptGap = 0 }, false},
		{"gap 99", func(c *Config) { c.PreemptGap = 99 }, true},
		{"gap 100", func(c *Config) { c.PreemptGap = 100 }, false},
		{"negative plan cap", func(c *Config) { c.MaxPlacementsPerPlan = -1 }, false},
		{"plan cap", func(c *Config) { c.MaxPlacementsPerPlan = 500 }, true},
		{"gossip weight 0", func(c *Config) { c.GossipWeight = 0 }, true},
		{"gossip weight 101", func(c *Config) { c.GossipWeight = 101 }, false},
		{"gossip weight negative", func(c *Config) { c.GossipWeight = -1 }, false},
		{"zero value", func(c *Config) { *c = Config{} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v for %+v, want ok=%v", err, c, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidConfig", err)
			}
			if _, err := New(c); tc.ok != (err == nil) {
				t.Fatalf("New(%+v) error = %v, want ok=%v", c, err, tc.ok)
			}
		})
	}
}

func TestParseStrategy(t *testing.T) {
	cases := []struct {
		in   string
		want Strategy
		ok   bool
	}{
		{"", StrategySpread, true},
		{"spread", StrategySpread, true},
		{" BinPack ", StrategyBinpack, true},
		{"random", "", false},
	}
	for _, tc := range cases {
		got, err := ParseStrategy(tc.in)
		if got != tc.want || tc.ok != (err == nil) {
			t.Errorf("ParseStrategy(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrUnknownStrategy) {
			t.Errorf("ParseStrategy(%q) error %v does not wrap ErrUnknownStrategy", tc.in, err)
		}
	}
	pl, _ := New(DefaultConfig())
	if _, err := pl.Plan("random", &view{}); !errors.Is(err, ErrUnknownStrategy) {
		t.Errorf("Plan(\"random\") error = %v, want ErrUnknownStrategy", err)
	}
}

func TestFormatBytes(t *testing.T) {
	cases := map[int64]string{0: "0B", 1023: "1023B", 1024: "1KiB", 1536: "1.5KiB", 512 << 20: "512MiB", 4 << 30: "4GiB"}
	for in, want := range cases {
		if got := formatBytes(in); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestPlannerConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PreemptGap = 20
	pl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := pl.Config(); got != cfg {
		t.Fatalf("Config() = %+v, want %+v", got, cfg)
	}
}

func TestCauseString(t *testing.T) {
	for c, want := range map[Cause]string{CauseInfeasible: "infeasible", CauseFull: "full", CausePreempting: "preempting", CauseDeferred: "deferred", 0: "unknown"} {
		if got := c.String(); got != want {
			t.Errorf("Cause(%d).String() = %q, want %q", c, got, want)
		}
	}
}
