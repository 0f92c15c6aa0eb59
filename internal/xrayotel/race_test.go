//go:build race

package xrayotel

const raceEnabled = true
