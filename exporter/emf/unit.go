package emf

// Unit is a CloudWatch metric unit. Only the 27 units CloudWatch accepts are
// valid; use the constants.
type Unit string

// The units CloudWatch accepts.
const (
	Seconds            Unit = "Seconds"
	Microseconds       Unit = "Microseconds"
	Milliseconds       Unit = "Milliseconds"
	Bytes              Unit = "Bytes"
	Kilobytes          Unit = "Kilobytes"
	Megabytes          Unit = "Megabytes"
	Gigabytes          Unit = "Gigabytes"
	Terabytes          Unit = "Terabytes"
	Bits               Unit = "Bits"
	Kilobits           Unit = "Kilobits"
	Megabits           Unit = "Megabits"
	Gigabits           Unit = "Gigabits"
	Terabits           Unit = "Terabits"
	Percent            Unit = "Percent"
	Count              Unit = "Count"
	BytesPerSecond     Unit = "Bytes/Second"
	KilobytesPerSecond Unit = "Kilobytes/Second"
	MegabytesPerSecond Unit = "Megabytes/Second"
	GigabytesPerSecond Unit = "Gigabytes/Second"
	TerabytesPerSecond Unit = "Terabytes/Second"
	BitsPerSecond      Unit = "Bits/Second"
	KilobitsPerSecond  Unit = "Kilobits/Second"
	MegabitsPerSecond  Unit = "Megabits/Second"
	GigabitsPerSecond  Unit = "Gigabits/Second"
	TerabitsPerSecond  Unit = "Terabits/Second"
	CountPerSecond     Unit = "Count/Second"
	None               Unit = "None"
)

// Valid reports whether u is one of the 27 CloudWatch units.
func (u Unit) Valid() bool {
	switch u {
	case Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes,
		Gigabytes, Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits,
		Percent, Count, BytesPerSecond, KilobytesPerSecond, MegabytesPerSecond,
		GigabytesPerSecond, TerabytesPerSecond, BitsPerSecond, KilobitsPerSecond,
		MegabitsPerSecond, GigabitsPerSecond, TerabitsPerSecond, CountPerSecond, None:
		return true
	}
	return false
}

// Resolution is a metric's storage resolution in seconds: [Standard] (60,
// the default) or [High] (1).
type Resolution int

// The two storage resolutions CloudWatch accepts.
const (
	Standard Resolution = 60
	High     Resolution = 1
)
