package emf

import (
	"math"
	"strconv"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6}

// appendFloat appends v exactly as encoding/json formats it, with a fast
// path for the values metrics usually hold: integers and decimals with up
// to six fractional digits.
//
// The fast path looks for the fewest fractional digits k such that
// m = v·10^k is an integer below 2^52 and m/10^k rounds back to v (an exact
// test: m and 10^k are exact, and IEEE division rounds correctly). Below
// 2^52 the decimal grid 10^-k is coarser than v's ulp, so at most one k-digit
// decimal rounds to v: the one strconv's shortest formatting picks too. The
// fuzz test checks this against encoding/json.
func appendFloat(b []byte, v float64) []byte {
	if v == 0 {
		if math.Signbit(v) {
			return append(b, "-0"...)
		}
		return append(b, '0')
	}
	a := math.Abs(v)
	if a < 1e-6 || a >= 1<<52 {
		return jsonenc.AppendFloat(b, v)
	}
	for k, p := range pow10 {
		x := a * p
		m := math.Round(x)
		if m >= 1<<52 {
			break
		}
		// If m/10^k rounds to a, then x = fl(a·10^k) is within m·2^-52 of
		// m (two roundings). Farther from an integer than that, k cannot
		// work, and the division is skipped.
		if math.Abs(x-m) > x*0x1p-51 || m/p != a {
			continue
		}
		if v < 0 {
			b = append(b, '-')
		}
		u := uint64(m)
		if k == 0 {
			return strconv.AppendUint(b, u, 10)
		}
		start := len(b)
		b = strconv.AppendUint(b, u, 10)
		n := len(b) - start
		if n <= k { // 0.000ddd: shift the digits right past "0." and zeros
			pad := k - n + 2
			for range pad {
				b = append(b, '0')
			}
			copy(b[start+pad:], b[start:start+n])
			b[start], b[start+1] = '0', '.'
			for i := start + 2; i < start+pad; i++ {
				b[i] = '0'
			}
			return b
		}
		b = append(b, 0)
		copy(b[len(b)-k:], b[len(b)-k-1:len(b)-1])
		b[len(b)-k-1] = '.'
		return b
	}
	return jsonenc.AppendFloat(b, v)
}
