// Package compat checks Sidelight against aws-xray-sdk-go: our documents
// decode into its segment model, its client's trace continues through our
// middleware, and our Transport's trace continues through its handler.
package compat
