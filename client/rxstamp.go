package client

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// Socket arrival stamps.
//
// A frame's latency ends when its last packet reaches the client. Taken
// after pion's receive path (socket reader, demultiplexer, SRTP, track
// buffer: four goroutines), that instant also holds the runner's own
// scheduling and GC delays, which grow with the load the runner itself
// makes. So the client's sockets are wrapped: each read notes the RTP
// packet's arrival, from the kernel's receive timestamp (SO_TIMESTAMPNS)
// where there is one and the read time otherwise, under the packet's SSRC
// and sequence number (both in clear in SRTP). The track reader looks the
// packet up again once pion hands it out. Frame.Read keeps the later
// instant, so the runner's own lag is measured too.

// stampSlots is the per-socket ring size: a packet is looked up a few
// milliseconds after it is noted, and the ring holds the last ~1,000.
const stampSlots = 1024

type stampSlot struct {
	key atomic.Uint64 // ssrc<<32 | seq<<1 | 1; 0 while being written
	at  atomic.Int64  // Unix ns
}

// stampRing is one socket's recent RTP arrivals. One goroutine (pion's
// reader of the socket) writes; track readers look up concurrently.
type stampRing struct {
	slots [stampSlots]stampSlot
}

func stampKey(ssrc uint32, seq uint16) uint64 {
	return uint64(ssrc)<<32 | uint64(seq)<<1 | 1
}

// stampIndex spreads the SSRCs sharing a socket over the ring so that
// streams with close sequence numbers do not evict each other.
func stampIndex(ssrc uint32, seq uint16) int {
	return int((uint32(seq) + (ssrc*2654435761)>>16) % stampSlots)
}

func (r *stampRing) put(ssrc uint32, seq uint16, at int64) {
	s := &r.slots[stampIndex(ssrc, seq)]
	s.key.Store(0)
	s.at.Store(at)
	s.key.Store(stampKey(ssrc, seq))
}

// lookup returns the noted arrival of packet (ssrc, seq), if still held.
func (r *stampRing) lookup(ssrc uint32, seq uint16) (time.Time, bool) {
	s := &r.slots[stampIndex(ssrc, seq)]
	k := stampKey(ssrc, seq)
	if s.key.Load() != k {
		return time.Time{}, false
	}
	at := s.at.Load()
	if s.key.Load() != k {
		return time.Time{}, false
	}
	return time.Unix(0, at), true
}

// noteRTP records b's arrival when b is an RTP packet (RFC 5761 §4: not
// STUN, DTLS or RTCP).
func (r *stampRing) noteRTP(b []byte, at int64) {
	if len(b) < 12 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
		return
	}
	r.put(binary.BigEndian.Uint32(b[8:12]), binary.BigEndian.Uint16(b[2:4]), at)
}

// stampRings maps a socket's local address to its ring while it is open.
var stampRings sync.Map // netip.AddrPort → *stampRing

func ringFor(local netip.AddrPort) *stampRing {
	if v, ok := stampRings.Load(unmapped(local)); ok {
		return v.(*stampRing)
	}
	return nil
}

// unmapped keys IPv4 sockets by their 4-byte address, however the address
// was spelled (a 16-byte net.IP gives ::ffff:a.b.c.d).
func unmapped(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// stampNet is pion's standard network with stamping UDP sockets.
type stampNet struct {
	*stdnet.Net
}

func newStampNet() (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return stampNet{n}, nil
}

func (n stampNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	if u, ok := c.(*net.UDPConn); ok {
		return newStampConn(u), nil
	}
	return c, nil
}

// ListenUDP wraps the host candidates' sockets; the mDNS socket (a
// multicast group, read in batches through x/net) is left as it is.
func (n stampNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if laddr != nil && laddr.IP.IsMulticast() {
		return c, nil
	}
	if u, ok := c.(*net.UDPConn); ok {
		return newStampConn(u), nil
	}
	return c, nil
}

// stampConn is a UDP socket that notes RTP arrivals. pion's ICE reads it
// through ReadFromAddrPort (ice.AddrPortReaderWriter); ReadFrom and
// ReadFromUDP are overridden too so that no read path skips the note.
type stampConn struct {
	*net.UDPConn
	ring   *stampRing
	local  netip.AddrPort
	kernel bool // SO_TIMESTAMPNS is on

	mu  sync.Mutex // guards oob (pion reads a socket from one goroutine)
	oob [64]byte
}

func newStampConn(u *net.UDPConn) *stampConn {
	c := &stampConn{UDPConn: u, ring: &stampRing{}, local: unmapped(u.LocalAddr().(*net.UDPAddr).AddrPort())}
	c.kernel = enableRxTimestamps(u)
	stampRings.Store(c.local, c.ring)
	return c
}

func (c *stampConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, oobn, _, addr, err := c.ReadMsgUDPAddrPort(b, c.oob[:])
	if err != nil {
		return n, addr, err
	}
	at := int64(0)
	if c.kernel {
		at = parseRxTimestamp(c.oob[:oobn])
	}
	if at == 0 {
		at = time.Now().UnixNano()
	}
	c.ring.noteRTP(b[:n], at)
	return n, addr, nil
}

func (c *stampConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.WriteToUDPAddrPort(b, addr)
}

func (c *stampConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromUDP(b)
	if addr == nil { // a nil net.Addr, not a typed nil *net.UDPAddr
		return n, nil, err
	}
	return n, addr, err
}

func (c *stampConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, ap, err := c.ReadFromAddrPort(b)
	if !ap.IsValid() {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), err
}

func (c *stampConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromAddrPort(b)
	return n, err
}

func (c *stampConn) Close() error {
	stampRings.CompareAndDelete(c.local, c.ring)
	return c.UDPConn.Close()
}
