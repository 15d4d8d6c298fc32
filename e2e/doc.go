// Package e2e holds litedir's end-to-end tests: real processes contending for
// one data directory, killed in the middle of their writes and checkpoints,
// racing each other into the first migration and into a cold engine cache,
// and the litedir command reading beside a live owner. It has no API;
// everything is in its _test files.
//
// The library packages test themselves inside one process. What only real
// processes show is tested here: that the kernel, not litedir's bookkeeping,
// excludes a second owner and frees the directory when the owner dies, that a
// SIGKILL at any moment loses nothing a Write acknowledged and never leaves a
// file that is not a database, and that several processes opening a fresh
// shared workspace apply its migrations exactly once. Every scenario asserts
// on the files afterwards: integrity checks and the rows themselves, not log
// lines.
//
// The scenarios, one test each (plus the smaller tests beside them):
//
//   - TestContention, TestContentionCLI: 16 processes (library, then
//     "litedir lock") open one fresh workspace at the same moment; one wins,
//     the others fail at once naming the winner's pid (exit status 3).
//   - TestCrashReleasesLock: SIGKILL of the owner hands the workspace to a
//     waiter started before the kill (Options.LockWait, "lock -wait").
//   - TestKillTorture: 50 cycles of 8 writers killed at a random moment,
//     some right after a checkpoint started; every cycle is reopened,
//     checked and searched for every acknowledged row.
//   - TestReadersBesideOwner: "litedir status", "sql" and "backup" beside a
//     writing owner; each backup is checked and a consistent prefix.
//   - TestEngineCache: 8 cold starts at once on an empty engine cache, which
//     is then valid; a damaged cache entry is rebuilt, not fatal.
//
// # How the tests run processes
//
// A test that needs other processes re-executes its own test binary
// (os.Args[0] with -test.run=^TestName$), the way cmd/go's lockedfile tests
// do. The child's role sits at the top of the same test function and is
// selected by an environment variable named after the test, which carries
// the child's configuration as JSON. Parent and child talk in lines: the
// child says "ready" (and whatever else the test needs) on stdout, and reads
// commands from stdin. The parent reads with a deadline and never sleeps to
// wait. A child whose stdin closes finishes cleanly, so a parent that ends
// early leaves nothing behind; the parent also kills and reaps every child
// when its test ends.
//
// Children inherit the environment, and with it the engine's compilation
// cache (see ncruces.EnvCacheDir): a child starts in tens of milliseconds
// once the cache is warm, in seconds when it has to compile SQLite.
// TestEngineCache gives its children a cache directory of their own.
//
// The tests of the litedir command run the real binary: the first of them
// builds ./cmd/litedir with the go command on PATH into a temporary
// directory, which TestMain removes at the end; the others reuse it. A
// command that runs in the background (litedir lock) is a child like the
// others, interrupted at the end of its test; to start several commands at
// one moment, a launcher child runs each on the parent's "go".
//
// # Running
//
//	go test ./e2e                             # about a minute on 2 cores
//	go test -short ./e2e                      # the 10 s load test runs for 1 s
//	LITEDIR_E2E_SOAK=1 go test -timeout 60m ./e2e   # soak: 10x the cycles
//	LITEDIR_E2E_CYCLES=1000 go test -run TestKillTorture -timeout 60m ./e2e
//
// A soak run repeats the kill torture, the contention, crash and reader
// rounds ten times as often; the cold engine cache runs once either way.
// The tests write only under t.TempDir() and the temporary directory of the
// binary.
package e2e
