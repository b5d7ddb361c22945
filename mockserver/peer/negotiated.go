package peer

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// An outbound track is bound to its transceiver with a sender made by the
// shared webrtc.API (bindTracks: that is the only way to pick the
// transceiver by mid). Such a sender describes the codecs and header
// extensions to its track with the shared MediaEngine's payload types and
// ids (VP8 = 96), not with the ones this connection's answer negotiated
// (the offerer's: aiortc, for one, offers VP8 as 97). A receiver routes
// and decodes by the negotiated payload type, so it would drop every
// packet. negotiatedTrack puts the answer's numbers into the context its
// track binds with.

// negotiatedMedia is what the answer says about one m-section: payload
// type per codec name (lower case, the first one listed) and id per header
// extension URI.
type negotiatedMedia struct {
	payloadTypes map[string]webrtc.PayloadType
	extensions   map[string]int
}

// negotiatedTrack wraps an outbound track bound to the m-section mid.
type negotiatedTrack struct {
	webrtc.TrackLocal
	mid string
	neg atomic.Pointer[negotiatedMedia] // set from the answer before SetLocalDescription binds
}

// Bind hands the track the negotiated payload types and extension ids.
// Without a parsed answer (cannot happen: negotiate sets it first) the
// context passes through unchanged.
func (t *negotiatedTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	if nm := t.neg.Load(); nm != nil {
		ctx = &negotiatedContext{TrackLocalContext: ctx, nm: nm}
	}
	return t.TrackLocal.Bind(ctx)
}

// negotiatedContext rewrites a TrackLocalContext's codec and extension
// numbers to the answer's.
type negotiatedContext struct {
	webrtc.TrackLocalContext
	nm *negotiatedMedia
}

// CodecParameters keeps the codecs the answer lists for this m-section, each
// with the answer's payload type.
func (c *negotiatedContext) CodecParameters() []webrtc.RTPCodecParameters {
	in := c.TrackLocalContext.CodecParameters()
	out := make([]webrtc.RTPCodecParameters, 0, len(in))
	for _, p := range in {
		_, name, _ := strings.Cut(p.MimeType, "/")
		if pt, ok := c.nm.payloadTypes[strings.ToLower(name)]; ok {
			p.PayloadType = pt
			out = append(out, p)
		}
	}
	return out
}

// HeaderExtensions gives each extension the answer negotiated its id. An
// extension the answer does not list keeps its id (the mock's frame stamps
// go to every client, as before) unless that id means another extension in
// this answer, where it is left out.
func (c *negotiatedContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	in := c.TrackLocalContext.HeaderExtensions()
	taken := make(map[int]bool, len(c.nm.extensions))
	for _, id := range c.nm.extensions {
		taken[id] = true
	}
	out := make([]webrtc.RTPHeaderExtensionParameter, 0, len(in))
	for _, e := range in {
		if id, ok := c.nm.extensions[e.URI]; ok {
			e.ID = id
		} else if taken[e.ID] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// parseAnswerMedia reads the payload types (a=rtpmap) and header extension
// ids (a=extmap) of every m-section of an answer, by mid.
func parseAnswerMedia(answer string) map[string]*negotiatedMedia {
	parsed, err := (&webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}).Unmarshal()
	if err != nil {
		return nil
	}
	out := make(map[string]*negotiatedMedia, len(parsed.MediaDescriptions))
	for _, md := range parsed.MediaDescriptions {
		mid, ok := md.Attribute("mid")
		if !ok {
			continue
		}
		nm := &negotiatedMedia{payloadTypes: map[string]webrtc.PayloadType{}, extensions: map[string]int{}}
		for _, a := range md.Attributes {
			switch a.Key {
			case "rtpmap": // "<pt> <name>/<clock>[/<channels>]"
				ptStr, rest, ok := strings.Cut(a.Value, " ")
				name, _, _ := strings.Cut(rest, "/")
				pt, err := strconv.ParseUint(ptStr, 10, 7)
				if !ok || err != nil || name == "" {
					continue
				}
				if _, dup := nm.payloadTypes[strings.ToLower(name)]; !dup {
					nm.payloadTypes[strings.ToLower(name)] = webrtc.PayloadType(pt)
				}
			case "extmap": // "<id>[/<direction>] <uri> [<attributes>]"
				idStr, rest, ok := strings.Cut(a.Value, " ")
				idStr, _, _ = strings.Cut(idStr, "/")
				uri, _, _ := strings.Cut(rest, " ")
				id, err := strconv.Atoi(idStr)
				if !ok || err != nil || id < 1 || id > 255 || uri == "" {
					continue
				}
				nm.extensions[uri] = id
			}
		}
		out[mid] = nm
	}
	return out
}
