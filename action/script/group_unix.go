//go:build unix

package script

import (
	"os"
	"syscall"
)

// sysProcAttr puts the script in a process group of its own, so that
// everything it starts can be killed with it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group led by p, or p alone when the group
// cannot be signalled.
func killGroup(p *os.Process) error {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err == nil {
		return nil
	}
	return p.Kill() //nolint:wrapcheck // best effort, the caller ignores it
}
