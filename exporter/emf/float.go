package emf

import (
	"math"

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
		if x >= 1<<52 {
			break
		}
		m := float64(int64(x + 0.5)) // nearest integer, near enough: checked below
		// If m/10^k rounds to a, then x = fl(a·10^k) is within m·2^-52 of
		// m (two roundings). Farther from an integer than that, k cannot
		// work, and the division is skipped.
		if math.Abs(x-m) > x*0x1p-51 || m/p != a {
			continue
		}
		if v < 0 {
			b = append(b, '-')
		}
		// Digits of m, last first, into a small array.
		var d [24]byte
		i := len(d)
		for u := uint64(m); ; {
			q := u / 10
			i--
			d[i] = byte('0' + u - q*10)
			if u = q; u == 0 {
				break
			}
		}
		digits := d[i:]
		switch n := len(digits); {
		case k == 0:
			return append(b, digits...)
		case n <= k: // 0.000ddd
			b = append(b, '0', '.')
			for range k - n {
				b = append(b, '0')
			}
			return append(b, digits...)
		default:
			b = append(b, digits[:n-k]...)
			b = append(b, '.')
			return append(b, digits[n-k:]...)
		}
	}
	return jsonenc.AppendFloat(b, v)
}
