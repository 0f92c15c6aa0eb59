// Package allocs measures what a function allocates, for the tests that
// show a parser's work grows linearly with its input: they compare the
// bytes allocated at n and at 4n, which repeat from run to run where wall
// time does not.
package allocs

import "runtime"

// Bytes reports the bytes f allocates per call, averaged over runs calls
// after one call to warm up. The count is process-wide, so a goroutine of
// the runtime or of the test binary that allocates meanwhile adds to it:
// Bytes measures three times and reports the least, which such noise can
// only raise.
func Bytes(runs int, f func()) uint64 {
	f()
	best := ^uint64(0)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			f()
		}
		runtime.ReadMemStats(&after)
		best = min(best, (after.TotalAlloc-before.TotalAlloc)/uint64(runs))
	}
	return best
}
