package otelcw

import "strings"

// units maps the UCUM units OpenTelemetry instruments use to CloudWatch's
// StandardUnit names. CloudWatch's Kilobytes and the like are powers of
// 1024 in its documentation's examples and powers of 1000 in others; both
// UCUM prefixes (KBy, KiBy) map to them.
var units = map[string]string{
	"s": "Seconds", "ms": "Milliseconds", "us": "Microseconds", "µs": "Microseconds",
	"By": "Bytes", "KBy": "Kilobytes", "MBy": "Megabytes", "GBy": "Gigabytes", "TBy": "Terabytes",
	"KiBy": "Kilobytes", "MiBy": "Megabytes", "GiBy": "Gigabytes", "TiBy": "Terabytes",
	"bit": "Bits", "kbit": "Kilobits", "Kibit": "Kilobits", "Mbit": "Megabits", "Mibit": "Megabits",
	"Gbit": "Gigabits", "Gibit": "Gigabits", "Tbit": "Terabits", "Tibit": "Terabits",
	"By/s": "Bytes/Second", "KBy/s": "Kilobytes/Second", "MBy/s": "Megabytes/Second",
	"GBy/s": "Gigabytes/Second", "TBy/s": "Terabytes/Second", "KiBy/s": "Kilobytes/Second",
	"MiBy/s": "Megabytes/Second", "GiBy/s": "Gigabytes/Second", "TiBy/s": "Terabytes/Second",
	"bit/s": "Bits/Second", "kbit/s": "Kilobits/Second", "Kibit/s": "Kilobits/Second",
	"Mbit/s": "Megabits/Second", "Gbit/s": "Gigabits/Second", "Tbit/s": "Terabits/Second",
	"%": "Percent", "/s": "Count/Second", "1/s": "Count/Second",
}

// Unit returns the CloudWatch StandardUnit name for an OpenTelemetry unit:
// the table above, Count for an annotation alone ("{request}") and
// Count/Second for one per second ("{request}/s"), else None ("1"
// included: a ratio has no CloudWatch unit but Percent, which would scale
// it wrongly).
func Unit(u string) string {
	if cw, ok := units[u]; ok {
		return cw
	}
	if annotation(u) {
		return "Count"
	}
	if base, ok := strings.CutSuffix(u, "/s"); ok && annotation(base) {
		return "Count/Second"
	}
	return "None"
}

// annotation: a UCUM annotation alone, "{…}" without braces inside.
func annotation(u string) bool {
	return len(u) >= 2 && u[0] == '{' && u[len(u)-1] == '}' && !strings.ContainsAny(u[1:len(u)-1], "{}")
}
