package workspace

// SetTestHookQueued makes every Write call f after queuing its request, until
// the test ends.
func SetTestHookQueued(t interface{ Cleanup(func()) }, f func()) {
	testHookQueued.Store(&f)
	t.Cleanup(func() { testHookQueued.Store(nil) })
}
