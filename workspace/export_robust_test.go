package workspace

// SetTestHookContended makes every Open that finds the directory lock held,
// and starts to wait for it, call f first, until the test ends.
func SetTestHookContended(t interface{ Cleanup(func()) }, f func()) {
	testHookContended = f
	t.Cleanup(func() { testHookContended = nil })
}
