// Package layers checks vproc's import rules: which packages of the module
// each package may import, and which outside packages it must not.
//
// The rules are the "Import rules" table of docs/design.md, so the document
// and the check cannot drift apart. Each row names a package pattern, the
// module packages it may import, and the packages (of the module, of the
// standard library or of a dependency) it must not import:
//
//	| package | may import | must not import |
//	|---|---|---|
//	| `fsm/...` | `ipc/...`, `spec/...` | `net/...`, `os/...` |
//
// A pattern is a path relative to the module ("node/vfs"), or such a path
// followed by "/..." for the package and every package below it, or "*" for
// every package. Outside packages are named by their import path ("net/http",
// "github.com/hashicorp/raft/..."). In the first column "*" makes a row that
// holds for every package of the module; any other package is governed by
// the row with the longest matching pattern, and a package that no row
// matches is itself a violation, so a new package gets its rule when it is
// added. In the "may import" column "*" allows every module package and "—"
// allows none.
package layers
