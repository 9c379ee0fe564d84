//go:build unix

package ping

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// listen opens an ICMP socket: raw when privileged, else a datagram one,
// which the kernel may refuse to the process's groups.
func listen(v6, privileged bool) (net.PacketConn, error) {
	if privileged {
		return listenRaw(v6)
	}
	family, proto := syscall.AF_INET, syscall.IPPROTO_ICMP
	if v6 {
		family, proto = syscall.AF_INET6, syscall.IPPROTO_ICMPV6
	}
	// The fork lock keeps a child forked meanwhile from inheriting the
	// descriptor before it is marked close-on-exec.
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM, proto)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("open datagram ICMP socket: %w", os.NewSyscallError("socket", err))
	}
	f := os.NewFile(uintptr(fd), "icmp")
	defer func() { _ = f.Close() }() // FilePacketConn duplicates it
	conn, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("open datagram ICMP socket: %w", err)
	}
	return conn, nil
}
