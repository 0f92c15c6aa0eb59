package xrayput

import (
	"runtime"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// validHostLabel is the SDK's check of a region before it resolves an
// endpoint: dot-separated labels, none starting or ending with '-'.
func validHostLabel(region string) bool {
	for label := range strings.SplitSeq(region, ".") {
		if !smithyhttp.ValidHostLabel(label) || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
	}
	return true
}

// mapFIPSRegion turns a pseudo-region such as fips-us-east-1 or
// us-east-1-fips into the region it names (the SDK resolves those with
// FIPS on).
func mapFIPSRegion(region string) string {
	if !strings.Contains(region, "fips-") && !strings.Contains(region, "-fips") {
		return region
	}
	region = strings.ReplaceAll(region, "-fips-", "-")
	region = strings.ReplaceAll(region, "fips-", "")
	return strings.ReplaceAll(region, "-fips", "")
}

// userAgent names the SDK version, the platform and this client (the
// SDK's clients send a User-Agent of the same form, with api/xray and
// the service module's version instead).
func userAgent(appID string) string {
	ua := "aws-sdk-go-v2/" + aws.SDKVersion + " ua/2.1 os/" + runtime.GOOS + " lang/go#" + strings.ReplaceAll(runtime.Version(), " ", "_") +
		" md/GOOS#" + runtime.GOOS + " md/GOARCH#" + runtime.GOARCH + " api/xray#sidelight-xrayput"
	if appID != "" {
		ua += " app/" + appID
	}
	return ua
}
