package e2e_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestMain runs the tests and then removes the litedir binary that the CLI
// tests built (see litedirBin). Child processes run TestMain too; they never
// build the binary, so there is nothing for them to remove.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := removeBin(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// The sizes of the long scenarios are chosen so that "go test ./e2e" takes a
// few minutes on a 2-core CI machine. A soak run asks for more:
//
//	LITEDIR_E2E_SOAK=1 go test -timeout 60m ./e2e
//
// multiplies the cycles and rounds of the scenarios that repeat (kill
// torture, contention, crash, readers) by soakFactor, and
// LITEDIR_E2E_CYCLES=N sets the number of kill-torture cycles outright.
const (
	envSoak    = "LITEDIR_E2E_SOAK"
	envCycles  = "LITEDIR_E2E_CYCLES"
	soakFactor = 10
)

// soak reports whether this is a soak run.
func soak() bool {
	v, _ := strconv.ParseBool(strings.TrimSpace(os.Getenv(envSoak)))
	return v
}

// scaled returns n, or n*soakFactor in a soak run.
func scaled(n int) int {
	if soak() {
		return n * soakFactor
	}
	return n
}

// sizeFromEnv returns the positive integer in the environment variable name,
// or def when it is not set. A value that is not a positive integer fails the
// test rather than silently running the default.
func sizeFromEnv(t *testing.T, name string, def int) int {
	t.Helper()
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
