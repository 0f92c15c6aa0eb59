// Package lambdatest runs real Lambda functions built with aws-lambda-go
// and the Sidelight Lambda middleware, under the AWS Lambda Runtime
// Interface Emulator and under a runtime API server of its own, and checks
// the segments they send and the EMF lines they print. Its tests build
// the function in testfunction/ with go build, and drive it with the
// harness in the module's internal/lambdatest.
//
// The emulator binary is found at $SIDELIGHT_LAMBDA_RIE, else at
// /tmp/rie/aws-lambda-rie, else on $PATH as aws-lambda-rie. Without it
// the emulator tests skip, except when CI is set, where they fail.
package lambdatest
