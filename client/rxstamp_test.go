package client

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
)

func TestStampRingLookup(t *testing.T) {
	var r stampRing
	r.put(0xAABBCCDD, 7, 1_000)
	r.put(0x11223344, 7, 2_000) // same sequence number, other stream
	for _, c := range []struct {
		ssrc uint32
		seq  uint16
		want int64
		ok   bool
	}{
		{0xAABBCCDD, 7, 1_000, true},
		{0x11223344, 7, 2_000, true},
		{0xAABBCCDD, 8, 0, false},
		{0x55555555, 7, 0, false},
	} {
		at, ok := r.lookup(c.ssrc, c.seq)
		if ok != c.ok || (ok && at.UnixNano() != c.want) {
			t.Errorf("lookup(%#x, %d) = %v, %v; want %d, %v", c.ssrc, c.seq, at.UnixNano(), ok, c.want, c.ok)
		}
	}
	// A full lap later the slot holds another packet: a miss, not a wrong time.
	r.put(0xAABBCCDD, 7+stampSlots, 3_000)
	if _, ok := r.lookup(0xAABBCCDD, 7); ok {
		t.Error("overwritten slot still answers for the old packet")
	}
}

func TestStampRingNotesRTPOnly(t *testing.T) {
	rtpPkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 42, SSRC: 9}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rtcp := append([]byte{0x81, 201}, make([]byte, 10)...) // receiver report
	stun := append([]byte{0x00, 0x01}, make([]byte, 18)...)
	dtls := append([]byte{22, 0xfe, 0xfd}, make([]byte, 10)...)
	var r stampRing
	for _, b := range [][]byte{rtcp, stun, dtls, rtpPkt[:11]} {
		r.noteRTP(b, 5)
	}
	for i := range r.slots {
		if r.slots[i].key.Load() != 0 {
			t.Fatalf("a non-RTP datagram was noted in slot %d", i)
		}
	}
	r.noteRTP(rtpPkt, 5)
	if at, ok := r.lookup(9, 42); !ok || at.UnixNano() != 5 {
		t.Fatalf("RTP packet not noted: %v %v", at, ok)
	}
}

// TestStampConnNotesArrival: a datagram read through a stamping socket is
// found in the socket's ring under its SSRC and sequence number, at a time
// between its send and its read, and pion sees the socket as an
// allocation-free AddrPort reader.
func TestStampConnNotesArrival(t *testing.T) {
	n, err := newStampNet()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := n.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := pc.(*stampConn)
	if !ok {
		t.Fatalf("ListenPacket returned %T, want *stampConn", pc)
	}
	if _, ok := pc.(ice.AddrPortReaderWriter); !ok {
		t.Fatal("stampConn is not an ice.AddrPortReaderWriter: pion would read it another way")
	}
	if runtime.GOOS == "linux" && !sc.kernel {
		t.Fatal("SO_TIMESTAMPNS not enabled on Linux")
	}
	sender, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 1234, SSRC: 0xCAFE},
		Payload: []byte{1, 2, 3}}).Marshal()
	before := time.Now()
	if _, err := sender.WriteTo(pkt, pc.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	got, from, err := sc.ReadFromAddrPort(buf)
	after := time.Now()
	if err != nil || got != len(pkt) || from.Port() != uint16(sender.LocalAddr().(*net.UDPAddr).Port) {
		t.Fatalf("read %d bytes from %v: %v", got, from, err)
	}
	ring := ringFor(sc.local)
	if ring == nil {
		t.Fatal("socket's ring not registered under its local address")
	}
	at, ok := ring.lookup(0xCAFE, 1234)
	if !ok {
		t.Fatal("arrival not noted")
	}
	// The wall clock is not monotonic: allow a millisecond either side.
	if at.Before(before.Add(-time.Millisecond)) || at.After(after.Add(time.Millisecond)) {
		t.Fatalf("arrival %v outside [%v, %v]", at, before, after)
	}
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	if ringFor(sc.local) != nil {
		t.Fatal("ring still registered after Close")
	}
}

// TestStampNetListenUDP: host-candidate sockets (ListenUDP, as pion
// gathers them) are stamped and found under their address however it is
// spelled; a multicast listen (mDNS) is not wrapped.
func TestStampNetListenUDP(t *testing.T) {
	n, err := newStampNet()
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, ok := c.(*stampConn)
	if !ok {
		t.Fatalf("ListenUDP returned %T, want *stampConn", c)
	}
	mapped := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), sc.local.Port())
	if ringFor(mapped) != sc.ring || ringFor(sc.local) != sc.ring {
		t.Fatalf("ring not found under %v and %v", mapped, sc.local)
	}
	m, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 0})
	if err != nil {
		t.Skipf("no multicast listen here: %v", err)
	}
	defer m.Close()
	if _, ok := m.(*stampConn); ok {
		t.Fatal("a multicast socket was wrapped")
	}
}
