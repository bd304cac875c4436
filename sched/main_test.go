package sched

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// view is a State backed by plain slices.
type view struct {
	nodes   []Node
	pending []Proc
	running []Proc
	objects map[Use]string
}

func (v *view) Nodes() []Node   { return v.nodes }
func (v *view) Pending() []Proc { return v.pending }
func (v *view) Running() []Proc { return v.running }

func (v *view) ObjectNode(kind UseKind, name string) (string, bool) {
	n, ok := v.objects[Use{Kind: kind, Name: name}]
	return n, ok
}

var _ State = (*view)(nil)
