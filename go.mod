module github.com/litedir/litedir

go 1.26.0

require (
	github.com/hanwen/go-fuse/v2 v2.12.1
	github.com/ncruces/go-sqlite3 v0.32.0
	github.com/pressly/goose/v3 v3.29.0
	github.com/rogpeppe/go-internal v1.16.0
	github.com/tetratelabs/wazero v1.11.0
	golang.org/x/sys v0.49.0
	lukechampine.com/adiantum v1.1.1
)

require (
	github.com/mfridman/interpolate v0.0.2 // indirect
	github.com/ncruces/julianday v1.0.0 // indirect
	github.com/sethvargo/go-retry v0.5.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
