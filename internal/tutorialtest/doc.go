// Package tutorialtest helps the examples' tests check their tutorials:
// README.md files whose commands a reader runs in order. It reads the
// tutorial's fenced blocks, starts the sidecar as the tutorials' first
// command does, and runs their curl commands with net/http. It is used
// only by tests.
package tutorialtest
