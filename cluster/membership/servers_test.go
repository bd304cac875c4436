package membership

import (
	"testing"
)

func TestCanRemoveVoter(t *testing.T) {
	for _, tc := range []struct {
		voters, healthy int
		want            bool
	}{
		{1, 0, false}, // never the last voter
		{2, 1, false}, // one voter left would be below a quorum of 2
		{3, 2, true},  // two healthy of three: a quorum remains
		{3, 1, false}, // no healthy quorum to commit the change
		{4, 3, true},
		{4, 2, false},
		{5, 3, true},
		{5, 2, false},
	} {
		if got := canRemoveVoter(tc.voters, tc.healthy); got != tc.want {
			t.Errorf("canRemoveVoter(%d voters, %d healthy) = %v, want %v", tc.voters, tc.healthy, got, tc.want)
		}
	}
}
