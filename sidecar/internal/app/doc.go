// Package app assembles the sidecar from its components and runs them in
// order: receivers hand documents to the AWS pipelines (or, in local mode,
// to the localview store), and the status server reports on all of them.
//
// Contract: New builds everything without binding sockets; Start binds and
// starts (pipelines first, receivers last); Shutdown marks the health check
// failing, has every receiver stop taking work in at once and hand what it
// already holds to the pipelines, then drains the pipelines within ctx and
// stops the servers. Only package main exits.
package app
