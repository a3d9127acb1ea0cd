// Package tools pins the versions of the code generators and linters the
// Makefile runs (see the tool directives in go.mod). It is kept out of go.work
// so its large dependency graph never changes the services' versions.
package tools
