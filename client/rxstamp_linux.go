package client

import (
	"encoding/binary"
	"net"

	"golang.org/x/sys/unix"
)

// enableRxTimestamps asks the kernel to stamp each datagram's arrival
// (SO_TIMESTAMPNS, CLOCK_REALTIME: the clock capture times are stamped in).
func enableRxTimestamps(u *net.UDPConn) bool {
	raw, err := u.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

// parseRxTimestamp returns the SCM_TIMESTAMPNS time in oob as Unix ns, or
// 0 when there is none.
func parseRxTimestamp(oob []byte) int64 {
	for len(oob) >= unix.CmsgLen(0) {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0
		}
		oob = rest
		if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS {
			continue
		}
		switch len(data) { // struct timespec: two longs
		case 16:
			return int64(binary.NativeEndian.Uint64(data))*1e9 + int64(binary.NativeEndian.Uint64(data[8:]))
		case 8:
			return int64(int32(binary.NativeEndian.Uint32(data)))*1e9 + int64(int32(binary.NativeEndian.Uint32(data[4:])))
		}
	}
	return 0
}
