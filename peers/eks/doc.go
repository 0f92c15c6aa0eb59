// Package eks checks the EKS manifest of examples/eks by decoding it
// strictly into the k8s.io/api types. It lives in peers/, its own module,
// so that k8s.io/api never enters the main go.mod.
package eks
