package api

import "github.com/vproc/vproc/spec"

// SpawnSpec is what the grammar fields of a SpawnRequest say, parsed with
// package spec: the agent and the Go client read a request with the same
// code the command line checks its flags with.
type SpawnSpec struct {
	// Limits are all the limit items, each later one replacing an earlier
	// one for the same resource.
	Limits spec.Limits
	// Restart is the restart policy; its zero value says nothing.
	Restart spec.Restart
	// Constraints are the label constraints.
	Constraints []spec.Constraint
	// Uses are the IPC objects the process declares.
	Uses []spec.Use
}

// ParseSpec parses the grammar fields of r: Limits, Restart, Constraints
// and Uses. An error is a *spec.SyntaxError naming the bad item.
func (r *SpawnRequest) ParseSpec() (SpawnSpec, error) {
	var s SpawnSpec
	var err error
	if s.Limits, err = spec.ParseLimits(r.Limits...); err != nil {
		return SpawnSpec{}, err
	}
	if s.Restart, err = spec.ParseRestart(r.Restart); err != nil {
		return SpawnSpec{}, err
	}
	if s.Constraints, err = spec.ParseConstraints(r.Constraints...); err != nil {
		return SpawnSpec{}, err
	}
	if s.Uses, err = spec.ParseUses(r.Uses...); err != nil {
		return SpawnSpec{}, err
	}
	return s, nil
}
