// The compatibility job's module (.ci/compat/run): a program that requires a
// newer github.com/ncruces/go-sqlite3 (wasm2go, v0.33 and later) and builds
// litedir with -tags litedir_wasm2go. Go's minimal version selection gives
// litedir this module's driver, as it would in any such program; the replace
// points litedir at this checkout.
module litedir.test/compat

go 1.26.0

replace github.com/litedir/litedir => ../..

require github.com/litedir/litedir v0.0.0

require (
	github.com/mfridman/interpolate v0.0.2 // indirect
	github.com/ncruces/go-sqlite3 v0.35.3 // indirect
	github.com/ncruces/go-sqlite3-wasm/v3 v3.2.35304 // indirect
	github.com/ncruces/julianday v1.0.0 // indirect
	github.com/pressly/goose/v3 v3.29.0 // indirect
	github.com/sethvargo/go-retry v0.5.0 // indirect
	github.com/tetratelabs/wazero v1.11.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	lukechampine.com/adiantum v1.1.1 // indirect
)
