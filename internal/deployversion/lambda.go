package deployversion

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// LambdaVersionEnv is the variable the Lambda runtime sets to the version
// of the function being run ("$LATEST" or a number).
const LambdaVersionEnv = "AWS_LAMBDA_FUNCTION_VERSION"

// Lambda is what Lambda says about the running version.
type Lambda struct {
	// FunctionVersion is AWS_LAMBDA_FUNCTION_VERSION.
	FunctionVersion string
	// Alias is the alias the invocation came through: the qualifier of
	// the invoked function ARN when it names an alias rather than a
	// version; empty otherwise.
	Alias string
}

// Version returns the function version (see the package documentation
// for why not the alias).
func (l Lambda) Version() Version { return newVersion(l.FunctionVersion, SourceLambdaVersion) }

// FromLambda reads the function version with getenv and the alias from
// the invoked function ARN of the invocation in ctx (lambdacontext);
// getenv nil means none is set.
func FromLambda(ctx context.Context, getenv func(string) string) Lambda {
	var l Lambda
	if getenv != nil {
		l.FunctionVersion = strings.TrimSpace(getenv(LambdaVersionEnv))
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		l.Alias = AliasFromARN(lc.InvokedFunctionArn)
	}
	return l
}

// AliasFromARN returns the alias in a qualified Lambda function ARN,
// arn:partition:lambda:region:account:function:name:qualifier, where the
// qualifier is an alias, a version number or $LATEST. It returns "" when
// the ARN is not a function ARN, is unqualified, is qualified by a
// version, or the qualifier is not a valid alias name.
func AliasFromARN(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" || parts[6] == "" {
		return ""
	}
	q := parts[7]
	if isDigits(q) || !isAliasName(q) {
		return "" // a version, $LATEST, or no valid alias
	}
	return q
}

// isAliasName reports whether s is 1 to 128 letters, digits, '-' and '_',
// the characters Lambda allows in an alias name.
func isAliasName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
