package script

import (
	"syscall"
	"unsafe"
)

// pPID selects a single process by pid in waitid(2).
const pPID = 1

// awaitExit blocks until the child pid has exited without reaping it
// (waitid with WNOWAIT), so that exec.Cmd.Wait can still collect it.
func awaitExit(pid int) error {
	var info [128]byte // siginfo_t, unused
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}
