package workspace

// SetTestHookRekey makes Rekey call f at each of its stages (RekeyStages),
// until the test ends.
func SetTestHookRekey(t interface{ Cleanup(func()) }, f func(stage string)) {
	testHookRekey = f
	t.Cleanup(func() { testHookRekey = nil })
}

// RekeyStages are the stages of Rekey, in order.
var RekeyStages = rekeyStages
