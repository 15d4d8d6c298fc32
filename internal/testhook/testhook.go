// Package testhook holds the hooks through which litedir's tests, in other
// packages and in child processes, see inside a library operation at
// chosen points. Every hook is nil outside tests; a hook is set before the
// operation starts and never while one runs.
//
// The package is internal: it is no API.
package testhook

// Quarantine, when not nil, is called by a quarantine-on-open (see
// workspace.Options.OnCorrupt) after each of its steps, with the step's
// name: "recovered", "committed", "moved <file>", "installed", "done". A
// test that kills its process there checks that every state a crash can
// leave is one the next open finishes or rolls back.
var Quarantine func(step string)

// Step calls the Quarantine hook with step, if it is set.
func Step(step string) {
	if h := Quarantine; h != nil {
		h(step)
	}
}
