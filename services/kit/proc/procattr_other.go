//go:build unix && !linux

package proc

import "syscall"

// sysProcAttr puts the child in its own process group. Without Linux's
// PDEATHSIG a parent killed with -9 leaves its children running: stop them
// with `kill -- -<pid>` (Pid is also the group id).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
