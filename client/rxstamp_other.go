//go:build !linux

package client

import "net"

// enableRxTimestamps: without SO_TIMESTAMPNS, arrivals are noted when the
// socket is read, still ahead of pion's receive path.
func enableRxTimestamps(*net.UDPConn) bool { return false }

func parseRxTimestamp([]byte) int64 { return 0 }
