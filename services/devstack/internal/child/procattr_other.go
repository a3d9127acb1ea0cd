//go:build unix && !linux

package child

import "syscall"

// sysProcAttr puts the child in its own process group. Without Linux's
// PDEATHSIG a runner killed with -9 leaves its children running: stop them
// with `kill -- -<pid>` (the runner prints each child's pid).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
