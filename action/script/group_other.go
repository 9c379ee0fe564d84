//go:build !unix

package script

import (
	"os"
	"syscall"
)

// sysProcAttr returns nil: this platform has no process groups to join.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}

// killGroup kills p only.
//
// TODO: processes started by the script survive a timeout on this
// platform; a job object would let them be killed together.
func killGroup(p *os.Process) error {
	return p.Kill() //nolint:wrapcheck // best effort, the caller ignores it
}
