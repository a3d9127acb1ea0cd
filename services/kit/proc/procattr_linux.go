package proc

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// SIGKILL it when the parent dies, however it dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
