package peer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Errors Validate and Answer wrap. Both are the client's mistake; the
// signalling layer answers them with 400 (see ErrBadOffer).
var (
	// ErrBadOffer: the SDP is not a usable offer (does not parse, has no
	// media section, lacks a mid, ICE credentials or a DTLS fingerprint, or
	// pion refuses it).
	ErrBadOffer = errors.New("bad SDP offer")
	// ErrBadMapping: track_mapping does not fit the offer or the model: a
	// mid that is not in the SDP, a name that is not a capability track, a
	// kind or direction that disagrees with the capability or the SDP, or a
	// track mapped twice.
	ErrBadMapping = errors.New("bad track_mapping")
)

// Offer is what the signalling layer hands to Answer.
type Offer struct {
	// SDP is the client's offer.
	SDP string
	// Tracks are the model's capability tracks, in capability order.
	Tracks []wire.TrackSpec
	// Mapping is the client's track_mapping. Nil (pre-overhaul clients,
	// which send none) binds recvonly capability tracks to the offer's
	// media sections of the same kind in order.
	Mapping []wire.TrackMapping
	// Outbound gives, per recvonly capability track name, the local track
	// to send on the mapped transceiver. A track with no entry is answered
	// without a sender. A track that also implements
	// HandleRTCP([]rtcp.Packet) receives the RTCP its sender reads (PLI/FIR).
	Outbound map[string]webrtc.TrackLocal
	// Candidates are trickled candidates that arrived before the offer.
	Candidates []webrtc.ICECandidateInit
	// Label names the connection in logs and errors ("<session>/<cid>").
	Label string
	// Legacy answers a pre-overhaul (JS 2.2.1) client: model messages go
	// out as flat {"type":"application","data":{"type","data"}} frames, the
	// only ones it surfaces (PROTOCOL.md §3.1). A connection whose first
	// inbound frame is a flat one becomes legacy too.
	Legacy bool
	// Chunking decides what the answer does with the offer's
	// a=x-reactor-dc-chunking (PROTOCOL.md §9.2).
	Chunking ChunkingPolicy
	// Handler receives the connection's frames and state changes.
	Handler Handler
}

// mediaSection is one m= line of an offer as Validate sees it.
type mediaSection struct {
	mid       string
	kind      string // audio | video | application
	direction string // sendrecv | sendonly | recvonly | inactive, from the offerer's view
	rejected  bool   // port 0
}

// Validate checks an offer without touching the network: the SDP must be a
// complete offer (media sections with mids, ICE credentials, a DTLS
// fingerprint) and the mapping must name mids of the SDP and capability
// tracks with matching kind and direction. Errors wrap ErrBadOffer or
// ErrBadMapping and say what to fix.
func Validate(o Offer) error {
	sections, err := parseOffer(o.SDP)
	if err != nil {
		return err
	}
	if o.Mapping == nil {
		return nil
	}
	return checkMapping(o.Mapping, o.Tracks, sections)
}

func parseOffer(raw string) ([]mediaSection, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("%w: sdp_offer is empty", ErrBadOffer)
	}
	sd := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: raw}
	parsed, err := sd.Unmarshal()
	if err != nil {
		return nil, fmt.Errorf("%w: it does not parse as SDP: %v", ErrBadOffer, err)
	}
	if len(parsed.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("%w: it has no media section (m= line)", ErrBadOffer)
	}
	_, sessUfrag := parsed.Attribute("ice-ufrag")
	_, sessPwd := parsed.Attribute("ice-pwd")
	_, sessFP := parsed.Attribute("fingerprint")
	out := make([]mediaSection, 0, len(parsed.MediaDescriptions))
	for i, md := range parsed.MediaDescriptions {
		ms := mediaSection{kind: md.MediaName.Media, direction: "sendrecv", rejected: md.MediaName.Port.Value == 0}
		mid, ok := md.Attribute("mid")
		if !ok || mid == "" {
			return nil, fmt.Errorf("%w: media section %d (%s) has no a=mid", ErrBadOffer, i, ms.kind)
		}
		ms.mid = mid
		for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
			if _, ok := md.Attribute(d); ok {
				ms.direction = d
			}
		}
		if !ms.rejected {
			if _, ok := md.Attribute("ice-ufrag"); !ok && !sessUfrag {
				return nil, fmt.Errorf("%w: media section %q has no a=ice-ufrag", ErrBadOffer, mid)
			}
			if _, ok := md.Attribute("ice-pwd"); !ok && !sessPwd {
				return nil, fmt.Errorf("%w: media section %q has no a=ice-pwd", ErrBadOffer, mid)
			}
			if _, ok := md.Attribute("fingerprint"); !ok && !sessFP {
				return nil, fmt.Errorf("%w: media section %q has no a=fingerprint", ErrBadOffer, mid)
			}
		}
		out = append(out, ms)
	}
	return out, nil
}

// checkMapping applies the rules of PROTOCOL.md §4: one entry per
// capability track at most, real mids, capability names, and kind and
// direction agreeing with both the capability and the SDP section.
func checkMapping(mapping []wire.TrackMapping, tracks []wire.TrackSpec, sections []mediaSection) error {
	byMid := make(map[string]mediaSection, len(sections))
	mids := make([]string, 0, len(sections))
	for _, s := range sections {
		byMid[s.mid] = s
		if s.kind != "application" {
			mids = append(mids, s.mid)
		}
	}
	byName := make(map[string]wire.TrackSpec, len(tracks))
	names := make([]string, 0, len(tracks))
	for _, t := range tracks {
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	seenMid, seenName := map[string]bool{}, map[string]bool{}
	for i, m := range mapping {
		if m.Direction != wire.DirectionRecvOnly && m.Direction != wire.DirectionSendOnly {
			return fmt.Errorf("%w: track_mapping[%d].direction is %q, want %q (model output) or %q (client input)",
				ErrBadMapping, i, m.Direction, wire.DirectionRecvOnly, wire.DirectionSendOnly)
		}
		sec, ok := byMid[m.MID]
		if !ok || sec.kind == "application" {
			return fmt.Errorf("%w: track_mapping[%d].mid %q is not a media section of the offer (its mids: %s)",
				ErrBadMapping, i, m.MID, strings.Join(mids, ", "))
		}
		spec, ok := byName[m.Name]
		if !ok {
			return fmt.Errorf("%w: track_mapping[%d].name %q is not a track of this model (tracks: %s)",
				ErrBadMapping, i, m.Name, strings.Join(names, ", "))
		}
		if m.Kind != "" && m.Kind != spec.Kind {
			return fmt.Errorf("%w: track_mapping[%d] maps %q as %s, but the model's track is %s",
				ErrBadMapping, i, m.Name, m.Kind, spec.Kind)
		}
		if sec.kind != spec.Kind {
			return fmt.Errorf("%w: track_mapping[%d] maps %s track %q to mid %q, which is a %s section",
				ErrBadMapping, i, spec.Kind, m.Name, m.MID, sec.kind)
		}
		if m.Direction != spec.Direction {
			return fmt.Errorf("%w: track_mapping[%d] says %q is %s, but the model's track is %s",
				ErrBadMapping, i, m.Name, m.Direction, spec.Direction)
		}
		if !directionFits(m.Direction, sec.direction) {
			return fmt.Errorf("%w: track_mapping[%d] maps %s track %q to mid %q, but that section is a=%s in the offer",
				ErrBadMapping, i, m.Direction, m.Name, m.MID, sec.direction)
		}
		if seenMid[m.MID] {
			return fmt.Errorf("%w: mid %q is mapped twice", ErrBadMapping, m.MID)
		}
		if seenName[m.Name] {
			return fmt.Errorf("%w: track %q is mapped twice", ErrBadMapping, m.Name)
		}
		seenMid[m.MID], seenName[m.Name] = true, true
	}
	return nil
}

// directionFits reports whether an offer section's direction can carry a
// track of the mapped direction (client's view): a model output needs the
// client to receive, an input needs it to send. inactive fits either: a
// client may offer a paused input.
func directionFits(mapped, offered string) bool {
	switch offered {
	case "sendrecv", "inactive":
		return true
	case "recvonly":
		return mapped == wire.DirectionRecvOnly
	case "sendonly":
		return mapped == wire.DirectionSendOnly
	}
	return false
}

// defaultMapping binds capability tracks to offer sections by kind and
// order, for clients that send no track_mapping.
func defaultMapping(tracks []wire.TrackSpec, sections []mediaSection) []wire.TrackMapping {
	used := map[string]bool{}
	var out []wire.TrackMapping
	for _, t := range tracks {
		for _, s := range sections {
			if used[s.mid] || s.rejected || s.kind != t.Kind || !directionFits(t.Direction, s.direction) {
				continue
			}
			used[s.mid] = true
			out = append(out, wire.TrackMapping{MID: s.mid, Name: t.Name, Kind: t.Kind, Direction: t.Direction})
			break
		}
	}
	return out
}
