//go:build race

package recognize

// raceEnabled is whether the tests run with the race detector.
const raceEnabled = true
