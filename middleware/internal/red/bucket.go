package red

import "math/bits"

// Latencies are counted in log-linear buckets of microseconds: exact below
// 32 µs, then 16 buckets per power of two (at most 1/32 ≈ 3 % from the
// bucket's middle). Latencies from 2^40 µs (about 12.7 days) up share the
// last bucket.
const (
	subBits  = 4
	subCount = 1 << subBits
	maxMicro = 1<<40 - 1
	nBuckets = (40-subBits)*subCount + subCount // 592
)

func bucketOf(us uint64) int {
	if us > maxMicro {
		us = maxMicro
	}
	if us < subCount {
		return int(us)
	}
	e := bits.Len64(us) - subBits - 1
	return (e+1)*subCount + int((us>>e)&(subCount-1))
}

// bucketMiddle returns the middle of bucket i in microseconds.
func bucketMiddle(i int) float64 {
	if i < subCount {
		return float64(i)
	}
	e := i/subCount - 1
	lower := uint64(subCount+i%subCount) << e
	width := uint64(1) << e
	return float64(lower) + float64(width-1)/2
}
