//go:build !failpoints

// Package failpoint lets crash tests kill the writer at exact points of the
// exactly-once protocol. This is the production build: Inject does nothing
// and costs nothing. Build with -tags failpoints for the real one.
package failpoint

// Enabled reports whether failpoints are compiled in.
const Enabled = false

// Inject does nothing in production builds.
func Inject(string) {}
