package mockserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/reactor-harness/reactor-harness/wire"
)

// negotiateVersion applies PROTOCOL.md §1.0: a declared version below the
// accepted range is 426 (client too old), above it 501 (server too old).
// Coordinator routes check Reactor-API-Version and, when sent,
// Reactor-API-Accept-Version; transport routes check Reactor-WebRTC-Version.
// In the legacy profile a request without version headers is an old client
// and is served; headers that are present are still checked.
func (s *Server) negotiateVersion(r *http.Request, g routeGroup) *apiError {
	sc := s.scn()
	legacy := sc.Profile == ProfileLegacy
	switch g {
	case groupCoordinator:
		if e := checkAPIHeader(r, wire.HeaderAPIVersion, sc.Versions, !legacy); e != nil {
			return e
		}
		return checkAPIHeader(r, wire.HeaderAPIAcceptVersion, sc.Versions, false)
	case groupTransport:
		return checkWebRTCHeader(r, sc.Versions, !legacy)
	}
	return nil
}

func checkAPIHeader(r *http.Request, name string, v VersionPolicy, required bool) *apiError {
	raw := strings.TrimSpace(r.Header.Get(name))
	if raw == "" {
		if !required {
			return nil
		}
		return &apiError{Status: http.StatusUpgradeRequired, Detail: fmt.Sprintf(
			"CLIENT_VERSION_TOO_OLD: this request carries no %s header, so it comes from an SDK that predates API version %d; upgrade the SDK (accepted versions %d..%d)",
			name, v.APIMin, v.APIMin, v.APIMax)}
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return errf(http.StatusBadRequest, "%s must be an integer API version, got %q", name, raw)
	}
	return rangeVerdict(name, raw, cmpInt(n, v.APIMin), cmpInt(n, v.APIMax),
		strconv.Itoa(v.APIMin), strconv.Itoa(v.APIMax))
}

func checkWebRTCHeader(r *http.Request, v VersionPolicy, required bool) *apiError {
	raw := strings.TrimSpace(r.Header.Get(wire.HeaderWebRTCVersion))
	if raw == "" {
		if !required {
			return nil
		}
		return &apiError{Status: http.StatusUpgradeRequired, Detail: fmt.Sprintf(
			"CLIENT_VERSION_TOO_OLD: transport requests must carry %s (accepted %s..%s); upgrade the SDK",
			wire.HeaderWebRTCVersion, v.WebRTCMin, v.WebRTCMax)}
	}
	got, err := parseMajorMinor(raw)
	if err != nil {
		return errf(http.StatusBadRequest, "%s must look like \"1.0\", got %q", wire.HeaderWebRTCVersion, raw)
	}
	lo, _ := parseMajorMinor(v.WebRTCMin)
	hi, _ := parseMajorMinor(v.WebRTCMax)
	return rangeVerdict(wire.HeaderWebRTCVersion, raw, cmpMM(got, lo), cmpMM(got, hi), v.WebRTCMin, v.WebRTCMax)
}

// rangeVerdict turns comparisons against the range ends into 426/501.
func rangeVerdict(name, raw string, vsMin, vsMax int, lo, hi string) *apiError {
	if vsMin < 0 {
		return &apiError{Status: http.StatusUpgradeRequired, Detail: fmt.Sprintf(
			"CLIENT_VERSION_TOO_OLD: %s %s is older than this server accepts (%s..%s); upgrade the SDK", name, raw, lo, hi)}
	}
	if vsMax > 0 {
		return &apiError{Status: http.StatusNotImplemented, Detail: fmt.Sprintf(
			"SERVER_VERSION_TOO_OLD: %s %s is newer than this server implements (%s..%s); use an older SDK or a newer server", name, raw, lo, hi)}
	}
	return nil
}

type majorMinor [2]int

func parseMajorMinor(s string) (majorMinor, error) {
	maj, min, ok := strings.Cut(s, ".")
	if !ok {
		min = "0"
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return majorMinor{}, fmt.Errorf("bad version %q", s)
	}
	return majorMinor{a, b}, nil
}

func checkWebRTCRange(lo, hi string) error {
	a, err := parseMajorMinor(lo)
	if err != nil {
		return err
	}
	b, err := parseMajorMinor(hi)
	if err != nil {
		return err
	}
	if cmpMM(a, b) > 0 {
		return fmt.Errorf("webrtc_min %s > webrtc_max %s", lo, hi)
	}
	return nil
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpMM(a, b majorMinor) int {
	if c := cmpInt(a[0], b[0]); c != 0 {
		return c
	}
	return cmpInt(a[1], b[1])
}
