// Package compat is a program's view of litedir built on a newer driver: it
// imports litedir's packages, so that this module's go.mod and go.sum hold
// what building and testing them against that driver needs.
package compat

import (
	_ "github.com/litedir/litedir/lock"
	_ "github.com/litedir/litedir/migrations"
	_ "github.com/litedir/litedir/ncruces"
	_ "github.com/litedir/litedir/workspace"
)
