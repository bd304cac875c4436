// Package k8s holds vproc's Kubernetes manifests (vproc.yaml) and the test
// that checks them: with no Kubernetes cluster at hand, it decodes every
// object strictly with the Kubernetes API types and checks that the pieces
// fit (names, ports, probes, replicas, the join addresses, and the
// settings a raft cluster needs to start and to survive upgrades).
//
// It is a module of its own, so that vproc's module does not depend on
// k8s.io/api; `make k8s-test` (part of `make test`) runs it.
package k8s
