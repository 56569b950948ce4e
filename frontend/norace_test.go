//go:build !race

package frontend

// raceEnabled is whether the tests run with the race detector.
const raceEnabled = false
