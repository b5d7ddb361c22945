package mockserver

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// TestDataChannelBadFramesV0: oversized and undecodable frames are dropped
// and journaled; the session keeps working and another session streams on.
// A flat 2.2.1 frame is not dropped but taken as a legacy command; after a
// v0 first frame it leaves the connection's codec alone.
func TestDataChannelBadFramesV0(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{})
	a := ts.client(t, rtcClientOpts{ignoreSizeLimit: true})
	a.connect(ts.APIKey())
	defer a.close()
	b := ts.client(t, rtcClientOpts{})
	b.connect(ts.APIKey())
	defer b.close()
	a.resume()
	b.resume()
	b.collectFrames(5)

	big := `{"scope":"application","data":{"type":"set_prompt","data":{"prompt":"` +
		strings.Repeat("x", wirev0.MaxMessageBytes+1024) + `"}}}`
	bad := []string{
		big,
		"not json at all",
		`{"scope":"runtime","data":{"type":"requestCapabilities","data":{}}}`,
		`{"scope":"application","data":{"type":"set_prompt","data":"not an object"}}`,
		`{"type":"set_prompt","data":"flat, but not an object"}`,
		`{"data":{"prompt":"neither scope nor type"}}`,
	}
	for _, f := range bad {
		a.send(a.data, []byte(f))
	}
	flat := `{"type":"set_prompt","data":{"prompt":"flat 2.2.1 frame"}}`
	a.send(a.data, []byte(flat))
	// Still working: a command is applied and answered with state, still
	// as a v0 envelope (the client's first frame latched v0).
	a.command("set_prompt", map[string]any{"prompt": "after garbage"}, nil)
	a.waitMsg("state", func(m serverMsg) bool { return isModelMsg("state")(m) && m.data["current_prompt"] == "after garbage" })
	// The other session is unaffected.
	b.drainFrames()
	b.collectFrames(10)

	var dropped []Entry
	for _, e := range ts.journal.Entries(Filter{SessionID: a.sid, Channel: "data"}) {
		if strings.HasPrefix(e.Detail, "dropped: ") {
			dropped = append(dropped, e)
		}
	}
	if len(dropped) != len(bad) {
		t.Fatalf("%d dropped frames journaled, want %d: %+v", len(dropped), len(bad), dropped)
	}
	if dropped[0].BodyBytes != len(big) || !strings.Contains(dropped[0].Detail, "too large") {
		t.Fatalf("oversized entry %+v", dropped[0])
	}
	for i, e := range dropped {
		want := "v0"
		if i == 4 {
			want = "legacy" // flat, so a legacy command, with a payload the model cannot take
		}
		if e.Codec != want || e.ConnectionID != a.cid || e.Data != nil {
			t.Fatalf("entry %d %+v", i, e)
		}
	}
	var legacy []Entry
	for _, e := range ts.journal.Entries(Filter{SessionID: a.sid, Channel: "data"}) {
		if e.Codec == "legacy" && !strings.HasPrefix(e.Detail, "dropped: ") {
			legacy = append(legacy, e)
		}
	}
	if len(legacy) != 1 || legacy[0].Type != "set_prompt" || legacy[0].Scope != "" ||
		string(legacy[0].Data) != `{"prompt":"flat 2.2.1 frame"}` || !strings.HasPrefix(legacy[0].Detail, "accepted as command") {
		t.Fatalf("legacy command entries %+v", legacy)
	}
	if n := len(ts.journal.Entries(Filter{SessionID: b.sid, Channel: "data"})); n != 0 {
		t.Fatalf("session b journaled %d data frames it never sent", n)
	}
	snap, _ := ts.TransportSnapshot(a.sid)
	if p := snap.Connections[0].Peer; p.Data.Dropped != uint64(len(bad)) || p.Codec != "v0" {
		t.Fatalf("dropped counter %d, codec %s", p.Data.Dropped, p.Codec)
	}
}

// TestDataChannelJournalCommandPayload: a command's journal entry carries
// its data and its uploads (PROTOCOL.md §3.2, §3.3), in both codecs; data
// beyond MaxJournalData is cut and flagged.
func TestDataChannelJournalCommandPayload(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v0", true: "v1"}[v1], func(t *testing.T) {
			ts := newRTCServer(t, nil, MediaPolicy{})
			c := ts.client(t, rtcClientOpts{v1: v1})
			c.connect(ts.APIKey())
			defer c.close()
			ref := c.upload("tiny.png", "image/png", tinyPNG)
			c.fileUploaded(ref)
			c.command("set_conditioning", map[string]any{"prompt": "with an image"}, map[string]wire.FileRef{"image": ref})
			long := strings.Repeat("é", MaxJournalData) // 2 bytes each in UTF-8
			c.command("set_prompt", map[string]any{"prompt": long}, nil)
			c.command("set_seed", map[string]any{"seed": 7}, nil)
			var got map[string]Entry
			waitFor(t, "three commands journaled", func() bool {
				got = map[string]Entry{}
				for _, e := range ts.journal.Entries(Filter{SessionID: c.sid, Channel: "data"}) {
					if e.Scope == "application" {
						got[e.Type] = e
					}
				}
				return len(got) == 3
			})
			img := got["set_conditioning"]
			if !strings.HasPrefix(img.Detail, "accepted") || len(img.Uploads) != 1 || img.Uploads["image"] != ref {
				t.Fatalf("set_conditioning entry %+v", img)
			}
			// The FileRef travels in uploads, not in data.
			if string(img.Data) != `{"prompt":"with an image"}` {
				t.Fatalf("set_conditioning data %s", img.Data)
			}
			if e := got["set_seed"]; string(e.Data) != `{"seed":7}` || e.DataTruncated || e.Uploads != nil {
				t.Fatalf("set_seed entry %+v (data %s)", e, e.Data)
			}
			p := got["set_prompt"]
			var cut string
			if err := json.Unmarshal(p.Data, &cut); err != nil || !p.DataTruncated {
				t.Fatalf("long data not cut: truncated %v, %d bytes (%v)", p.DataTruncated, len(p.Data), err)
			}
			if len(cut) > MaxJournalData || len(cut) < MaxJournalData-4 || !strings.HasPrefix(cut, `{"prompt":"éé`) || !utf8.ValidString(cut) {
				t.Fatalf("cut data: %d bytes, starts %q", len(cut), cut[:min(len(cut), 20)])
			}
			// The whole entry still encodes (the admin API serves it).
			if _, err := json.Marshal(p); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestJournalData(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		obj  map[string]any
		want string
		cut  bool
	}{
		{`{ "a" : 1 }`, nil, `{"a":1}`, false},
		{"", map[string]any{"b": "x"}, `{"b":"x"}`, false},
		{"", nil, `{}`, false},
		{`{"p":"` + strings.Repeat("x", MaxJournalData) + `"}`, nil, `"{\"p\":\"xxx`, true},
	} {
		got, cut := journalData(json.RawMessage(tc.raw), tc.obj)
		if cut != tc.cut || !strings.HasPrefix(string(got), tc.want) || !json.Valid(got) {
			t.Fatalf("journalData(%.20q) = %.40s %v", tc.raw, got, cut)
		}
	}
}

// TestDataChannelBadFramesV1: a broken or oversized v1 request whose id can
// be read is answered with Error{invalid_command}; the session goes on.
func TestDataChannelBadFramesV1(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{})
	c := ts.client(t, rtcClientOpts{v1: true, ignoreSizeLimit: true})
	c.connect(ts.APIKey())
	defer c.close()
	c.resume()

	big, _ := wirev1.NewCommand("data_big", "set_prompt", map[string]any{"prompt": strings.Repeat("y", wirev0.MaxMessageBytes)}, nil)
	raw, _ := wirev1.Marshal(big)
	c.send(c.data, raw)
	m := c.waitMsg("Error for data_big", func(m serverMsg) bool { return m.requestID == "data_big" })
	if m.errCode != wirev1.CodeInvalidCommand || m.kind != wirev1.KindResponse {
		t.Fatalf("oversized request answered %+v", m)
	}
	// Truncated protobuf: field 1 readable, the rest broken.
	c.send(c.data, []byte{0x0a, 0x06, 'd', 'a', 't', 'a', '_', '7', 0x10, 0x01, 0x52, 0x7f, 0x01})
	if m := c.waitMsg("Error for data_7", func(m serverMsg) bool { return m.requestID == "data_7" }); m.errCode != wirev1.CodeInvalidCommand {
		t.Fatalf("broken request answered %+v", m)
	}
	// A command without a type.
	empty, _ := wirev1.NewCommand("data_8", "", nil, nil)
	raw, _ = wirev1.Marshal(empty)
	c.send(c.data, raw)
	if m := c.waitMsg("Error for data_8", func(m serverMsg) bool { return m.requestID == "data_8" }); m.errCode != wirev1.CodeInvalidCommand {
		t.Fatalf("typeless command answered %+v", m)
	}
	// An unknown command is the model's invalid_command.
	id := c.command("fly_to_the_moon", nil, nil)
	if m := c.waitMsg("Error for "+id, func(m serverMsg) bool { return m.requestID == id }); m.errCode != wirev1.CodeInvalidCommand {
		t.Fatalf("unknown command answered %+v", m)
	}
	// A command referencing an upload that does not exist.
	id = c.command("set_image", map[string]any{"image": map[string]any{"upload_id": "upl_missing", "name": "x.png",
		"mime_type": "image/png", "size": 3}}, nil)
	if m := c.waitMsg("Error for "+id, func(m serverMsg) bool { return m.requestID == id }); m.errCode != wirev1.CodeUnresolvedUpload {
		t.Fatalf("missing upload answered %+v", m)
	}
	// And the session still works.
	ok := c.command("set_prompt", map[string]any{"prompt": "fine"}, nil)
	if m := c.waitMsg("ack", func(m serverMsg) bool { return m.requestID == ok }); m.errCode != "" {
		t.Fatalf("ack %+v", m)
	}
	c.collectFrames(5)
}

// TestDataChannelControlVerbs covers publish_track (helios has no input
// track: publish_refused), clip requests (clipFailed) and resume for an
// unknown track, in both codecs.
func TestDataChannelControlVerbs(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v0", true: "v1"}[v1], func(t *testing.T) {
			ts := newRTCServer(t, nil, MediaPolicy{})
			c := ts.client(t, rtcClientOpts{v1: v1})
			c.connect(ts.APIKey())
			defer c.close()
			if v1 {
				b, _ := wirev1.Marshal(wirev1.NewPublishTrack("ctrl_1", "webcam"))
				c.send(c.control, b)
				b, _ = wirev1.Marshal(wirev1.NewRequestClip("ctrl_2", 5))
				c.send(c.control, b)
				b, _ = wirev1.Marshal(wirev1.NewResumeTrack("nope"))
				c.send(c.control, b)
				got := c.waitMsgs("publish and clip replies",
					func(m serverMsg) bool { return m.requestID == "ctrl_1" },
					func(m serverMsg) bool { return m.requestID == "ctrl_2" })
				if got[0].errCode != wirev1.CodePublishRefused {
					t.Fatalf("publish reply %+v", got[0])
				}
				if got[1].typ != "clip_failed" {
					t.Fatalf("clip reply %+v", got[1])
				}
			} else {
				c.send(c.control, wirev0.NewPublishTrackRequest("ctrl_1", "webcam"))
				clip, _ := wirev0.NewRuntimeMessage(wirev0.TypeRequestClip, wirev0.RequestClip{DurationSeconds: 5})
				c.send(c.data, clip)
				resume, _ := wirev0.NewTrackNotification(wirev0.EventResumeTrack, "nope")
				c.send(c.control, resume)
				got := c.waitMsgs("publish reply and clipFailed",
					func(m serverMsg) bool { return m.requestID == "ctrl_1" },
					isModelMsg(wirev0.TypeClipFailed))
				if got[0].typ != "response" || got[0].errCode != "publish_refused" {
					t.Fatalf("publish reply %+v", got[0])
				}
			}
			waitFor(t, "resume for an unknown track journaled", func() bool {
				for _, e := range ts.journal.Entries(Filter{SessionID: c.sid, Channel: "control"}) {
					if e.Type == "resume_track" && strings.Contains(e.Detail, `no output track "nope"`) {
						return true
					}
				}
				return false
			})
		})
	}
}
