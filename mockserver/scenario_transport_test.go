package mockserver

import (
	"strings"
	"testing"
)

func TestTransportPolicyFromAScenarioFile(t *testing.T) {
	sc, err := ParseScenario([]byte("transport:\n  dc_chunking: false\n  dc_max_message_size: 1048576\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := sc.Transport.chunking(); !p.Refuse || p.MaxMessageSize != 1<<20 {
		t.Fatalf("policy = %+v", p)
	}
	if p := DefaultScenario().Transport.chunking(); p.Refuse || p.MaxMessageSize != 0 {
		t.Fatalf("default policy = %+v, want chunking answered", p)
	}
	for _, bad := range []string{"transport: {dc_max_message_size: -1}", "transport: {dc_max_message_size: 67108865}",
		"transport: {dc_chunkin: true}"} {
		if _, err := ParseScenario([]byte(bad)); err == nil || !strings.Contains(err.Error(), "dc_") {
			t.Errorf("%s: accepted (%v)", bad, err)
		}
	}
}
