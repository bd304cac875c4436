package leader

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(default) = %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"zero fence", func(c *Config) { c.FenceTimeout = 0 }},
		{"lost below fence", func(c *Config) { c.LostTimeout = c.FenceTimeout - time.Millisecond }},
		{"zero retention", func(c *Config) { c.Retention = 0 }},
		{"bad placement", func(c *Config) { c.Placement.ProcsPerSlot = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
				t.Errorf("Validate(%s) = %v, want ErrBadConfig", tc.name, err)
			}
			if _, err := New(context.Background(), c, nil, nil, nil); !errors.Is(err, ErrBadConfig) {
				t.Errorf("New(%s) = %v, want ErrBadConfig", tc.name, err)
			}
		})
	}
}
