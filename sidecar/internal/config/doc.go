// Package config reads the sidecar's settings from command-line flags and
// environment variables. Every flag -some-name can also be set with the
// variable SIDELIGHT_SOME_NAME; a flag given on the command line wins.
// AWS settings (region, credentials, endpoints such as
// AWS_ENDPOINT_URL_XRAY) come from the AWS SDK's default chain, with
// -region as an override.
package config
