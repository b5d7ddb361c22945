// Package impair degrades the mock's WebRTC plane on purpose, the way a bad
// network would: datagrams lost at random, delayed, or not carried at all
// for a while (a blackout, after which ICE consent fails as on a real
// network). It works on the UDP sockets the ICE agents use, so every layer
// above — STUN, DTLS, SCTP data channels, SRTP media — meets the fault as
// it would meet a real one.
//
// A Timeline is a list of windows, each one kind of impairment (one kind
// per file: loss.go, delay.go, blackout.go) for a span of time. Time counts
// from the first datagram exchanged with each remote address, so "at 10 s"
// means 10 s into that client's session, whichever socket carries it. A
// seed makes the random draws repeatable.
//
// What it must not know: sessions, scenarios or the journal; the mock
// translates its scenario into a Timeline and is told of changes through
// Engine.OnChange.
package impair
