package ping

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ICMP message types of echo requests and replies.
const (
	icmpv4EchoRequest = 8
	icmpv4EchoReply   = 0
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
)

// headerLen is the size of an ICMP echo header; tokenLen the size of the
// random payload that tells this run's replies from others.
const (
	headerLen = 8
	tokenLen  = 16
)

// session is one run of echo requests to one address.
type session struct {
	dst        *net.IPAddr
	count      uint64
	interval   time.Duration
	privileged bool

	conn  net.PacketConn
	v6    bool
	id    uint16 // checked on raw sockets only: the kernel owns it otherwise
	token [tokenLen]byte
}

// reply is one echo reply read from the socket.
type reply struct {
	seq uint16
	at  time.Time
}

// run sends count requests, one per interval, and returns once count
// replies have arrived, when the socket fails or when ctx is done. The
// error is the socket error or ctx's; the counters are valid in every case.
func (s *session) run(ctx context.Context) (stats, error) {
	st := stats{rtts: []time.Duration{}}
	s.v6 = s.dst.IP.To4() == nil
	if _, err := rand.Read(s.token[:]); err != nil {
		return st, fmt.Errorf("draw token: %w", err)
	}
	s.id = binary.BigEndian.Uint16(s.token[:2])

	conn, err := listen(s.v6, s.privileged)
	if err != nil {
		return st, err
	}
	s.conn = conn

	replies := make(chan reply)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.read(replies, readErr, done) })
	defer func() {
		close(done)
		_ = conn.Close() // unblocks the reader
		wg.Wait()
	}()

	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()

	// Send times by sequence number; a sequence number is forgotten once
	// answered so that duplicated replies are not counted twice.
	pending := map[uint16]time.Time{}
	send := func() error {
		seq := uint16(st.sent) //nolint:gosec // sequence numbers wrap by design
		at := time.Now()
		if err := s.send(seq); err != nil {
			return err
		}
		pending[seq] = at
		st.sent++
		return nil
	}
	if err := send(); err != nil {
		return st, err
	}
	// TODO: a lost request or reply keeps this loop waiting until ctx is
	// done, as the specification requires of the reference behaviour; an
	// optional per-step deadline (returning the counters reached) would let
	// templates bound it.
	for uint64(len(st.rtts)) < s.count {
		select {
		case <-ctx.Done():
			return st, ctx.Err() //nolint:wrapcheck // the caller names the operation
		case <-ticker.C:
			if st.sent < s.count {
				if err := send(); err != nil {
					return st, err
				}
			}
		case r := <-replies:
			if at, ok := pending[r.seq]; ok {
				delete(pending, r.seq)
				st.rtts = append(st.rtts, r.at.Sub(at))
			}
		case err := <-readErr:
			return st, err
		}
	}
	return st, nil
}

// send writes the echo request seq.
func (s *session) send(seq uint16) error {
	msg := make([]byte, headerLen+tokenLen)
	msg[0] = icmpv4EchoRequest
	if s.v6 {
		msg[0] = icmpv6EchoRequest
	}
	binary.BigEndian.PutUint16(msg[4:], s.id)
	binary.BigEndian.PutUint16(msg[6:], seq)
	copy(msg[headerLen:], s.token[:])
	if !s.v6 {
		// The kernel computes ICMPv6 checksums, which cover a pseudo
		// header, itself.
		binary.BigEndian.PutUint16(msg[2:], checksum(msg))
	}

	var dst net.Addr = s.dst
	if !s.privileged {
		dst = &net.UDPAddr{IP: s.dst.IP, Zone: s.dst.Zone}
	}
	if _, err := s.conn.WriteTo(msg, dst); err != nil {
		return fmt.Errorf("send echo request: %w", err)
	}
	return nil
}

// read forwards the replies of this run until the socket is closed, and
// the first read error unless done is closed by then.
func (s *session) read(replies chan<- reply, readErr chan<- error, done <-chan struct{}) {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.conn.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			select {
			case <-done:
			default:
				if !errors.Is(err, net.ErrClosed) {
					readErr <- fmt.Errorf("read echo reply: %w", err)
				}
			}
			return
		}
		seq, ok := s.parse(buf[:n])
		if !ok {
			continue
		}
		select {
		case replies <- reply{seq: seq, at: at}:
		case <-done:
			return
		}
	}
}

// parse returns the sequence number of msg if it is an echo reply to this
// run.
func (s *session) parse(msg []byte) (uint16, bool) {
	if len(msg) < headerLen+tokenLen || msg[1] != 0 {
		return 0, false
	}
	want := byte(icmpv4EchoReply)
	if s.v6 {
		want = icmpv6EchoReply
	}
	if msg[0] != want || !bytes.Equal(msg[headerLen:headerLen+tokenLen], s.token[:]) {
		return 0, false
	}
	if s.privileged && binary.BigEndian.Uint16(msg[4:]) != s.id {
		return 0, false
	}
	return binary.BigEndian.Uint16(msg[6:]), true
}

// checksum returns the Internet checksum (RFC 1071) of msg, whose checksum
// field is zero.
func checksum(msg []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(msg); i += 2 {
		sum += uint32(msg[i])<<8 | uint32(msg[i+1])
	}
	if len(msg)%2 == 1 {
		sum += uint32(msg[len(msg)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum) //nolint:gosec // folded to 16 bits above
}

// listenRaw opens a raw ICMP socket.
func listenRaw(v6 bool) (net.PacketConn, error) {
	network, address := "ip4:icmp", "0.0.0.0"
	if v6 {
		network, address = "ip6:ipv6-icmp", "::"
	}
	conn, err := net.ListenPacket(network, address)
	if err != nil {
		return nil, fmt.Errorf("open raw ICMP socket: %w", err)
	}
	return conn, nil
}
