// Package deploy holds no code: its tests check the cluster recipes beside it. It is a Go module of
// its own (run its tests with `cd deploy && go test .`), so that the Kubernetes and Katib types stay
// out of the program's go.mod.
//
// manifests_test.go decodes every Kubernetes and Katib manifest under kubernetes/ and katib/ strictly
// into the upstream API types (an unknown or misspelt field fails) and checks the facts the recipes
// rely on. slurm_test.go starts a real one-node Slurm cluster with scripts/setup-slurm.sh and runs job
// arrays, a cancel and a requeue on it, and the slurm/ recipes with a stand-in for tfsweep; the helpers
// in slurm_helpers_test.go (start the cluster, submit, wait, cancel, requeue) are for more such tests.
package deploy
