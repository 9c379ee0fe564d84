//go:build !unix

package ping

import (
	"errors"
	"fmt"
	"net"
)

// listen opens a raw ICMP socket when privileged; datagram ICMP sockets are
// not available on this platform.
func listen(v6, privileged bool) (net.PacketConn, error) {
	if privileged {
		return listenRaw(v6)
	}
	return nil, fmt.Errorf("open datagram ICMP socket: %w", errors.ErrUnsupported)
}
