//go:build race

package load

// raceEnabled: the race detector slows atomics ~10×; long tests scale down.
const raceEnabled = true
