// Package lambdatest is the harness for Sidelight's tests of real Lambda
// functions: it starts a function binary under the AWS Lambda Runtime
// Interface Emulator (or as a plain process), collects what the process
// prints line by line, and waits for the EMF documents it prints and the
// X-Ray documents a daemon stand-in receives, each checked against its
// schema. It is used only by tests.
//
// The emulator binary is found at $SIDELIGHT_LAMBDA_RIE, else at
// /tmp/rie/aws-lambda-rie, else on $PATH as aws-lambda-rie. Without it a
// test that needs it skips, except when CI is set, where it fails.
package lambdatest
