// Package decimal parses the plain decimal numbers the kernel prints in
// /proc (arcstats, vmstat) straight from bytes, without allocating: the
// samplers read these files every second.
package decimal

import "math"

// ParseUint parses a non-empty run of ASCII digits that fits in a uint64,
// as printed by %llu. It accepts no sign, space or base prefix.
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
