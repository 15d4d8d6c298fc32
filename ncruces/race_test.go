//go:build race

package ncruces

// raceEnabled reports a -race build, in which wazero compiles SQLite about
// twenty times slower.
const raceEnabled = true
