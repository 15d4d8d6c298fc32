// Package e2e holds litedir's end-to-end tests: real processes contending for
// one data directory, killed in the middle of their writes, racing each other
// into the first migration. It has no API; everything is in its _test files.
//
// The library packages test themselves inside one process. What only real
// processes show is tested here: that the kernel, not litedir's bookkeeping,
// excludes a second owner and frees the directory when the owner dies, that a
// SIGKILL between two commits loses nothing a Write acknowledged, and that
// several processes opening a fresh shared workspace apply its migrations
// exactly once.
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
//
// # Running
//
//	go test ./e2e
//	go test -short ./e2e   # the 10 s load test runs for 1 s
//
// The tests write only under t.TempDir().
package e2e
