package impair

import (
	"net"
	"time"

	"github.com/pion/transport/v5"
)

// readBound bounds how many dropped datagrams one ReadFrom skips before it
// returns; each one is a real datagram consumed, so the loop cannot spin.
const readBound = 1 << 20

// PacketConn impairs a net.PacketConn (the ICE UDP mux's socket).
type PacketConn struct {
	net.PacketConn
	e *Engine
}

// WrapPacketConn returns c impaired by e.
func WrapPacketConn(c net.PacketConn, e *Engine) *PacketConn { return &PacketConn{c, e} }

// ReadFrom returns the next datagram that the timeline lets through.
func (c *PacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	return readImpaired(c.e, b, c.PacketConn.ReadFrom)
}

// WriteTo sends b, or drops it, or sends it later.
func (c *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return writeImpaired(c.e, b, addr, c.PacketConn.WriteTo)
}

// UDPConn impairs a pion transport.UDPConn (a per-connection ICE socket).
type UDPConn struct {
	transport.UDPConn
	e *Engine
}

// ReadFrom returns the next datagram that the timeline lets through.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	return readImpaired(c.e, b, c.UDPConn.ReadFrom)
}

// WriteTo sends b, or drops it, or sends it later.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return writeImpaired(c.e, b, addr, c.UDPConn.WriteTo)
}

func readImpaired(e *Engine, b []byte, read func([]byte) (int, net.Addr, error)) (int, net.Addr, error) {
	for range readBound {
		n, addr, err := read(b)
		if err != nil || addr == nil {
			return n, addr, err
		}
		v := e.decide(addr, b[:n], Recv)
		if v.drop {
			continue
		}
		if v.delay > 0 {
			// Holding a received datagram holds the reader, which is what
			// a slow inbound path does; the socket buffers what follows.
			time.Sleep(v.delay)
		}
		return n, addr, nil
	}
	return 0, nil, net.ErrClosed
}

func writeImpaired(e *Engine, b []byte, addr net.Addr, write func([]byte, net.Addr) (int, error)) (int, error) {
	v := e.decide(addr, b, Send)
	switch {
	case v.drop:
		return len(b), nil // lost on the way, as the network would
	case v.delay > 0:
		held := append([]byte(nil), b...)
		time.AfterFunc(v.delay, func() { _, _ = write(held, addr) })
		return len(b), nil
	}
	return write(b, addr)
}
