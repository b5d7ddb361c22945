package dcchunk

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Attribute is the SDP attribute name, without "a=" and ":".
const Attribute = "x-reactor-dc-chunking"

// Version is the format version this package speaks.
const Version = 1

// maxSizeParam is the receive-limit parameter of the attribute.
const maxSizeParam = "max-message-size"

var (
	// ErrNotDeclared: the description carries no chunking attribute.
	ErrNotDeclared = errors.New("dcchunk: no a=" + Attribute + " attribute")
	// ErrMalformed: the attribute is there but does not parse or names
	// another version. A peer treats it exactly as not declared.
	ErrMalformed = errors.New("dcchunk: malformed a=" + Attribute + " attribute")
)

// Params is what one side declares.
type Params struct {
	Version int
	// MaxMessageSize is the declaring side's receive limit; 0 with
	// HasMaxMessageSize false when the parameter is absent.
	MaxMessageSize    uint64
	HasMaxMessageSize bool
}

// Local is what a side declares to accept messages up to maxSize bytes.
func Local(maxSize int64) Params {
	return Params{Version: Version, MaxMessageSize: uint64(maxSize), HasMaxMessageSize: true}
}

// Line is the attribute line, without a line ending.
func (p Params) Line() string {
	if !p.HasMaxMessageSize {
		return fmt.Sprintf("a=%s:%d", Attribute, p.Version)
	}
	return fmt.Sprintf("a=%s:%d %s=%d", Attribute, p.Version, maxSizeParam, p.MaxMessageSize)
}

// EffectiveLimit is the largest message a side whose own limit is local may
// send to a peer that declared remote: the smaller of the two, with an
// absent parameter counting as LegacyMaxMessageSize.
func EffectiveLimit(local int64, remote Params) int64 {
	r := uint64(LegacyMaxMessageSize)
	if remote.HasMaxMessageSize {
		r = remote.MaxMessageSize
	}
	if r > math.MaxInt64 {
		r = math.MaxInt64
	}
	return min(local, int64(r))
}

// lines splits an SDP body into lines without their CR LF.
func lines(sdp string) []string {
	ls := strings.Split(sdp, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	if n := len(ls); n > 0 && ls[n-1] == "" {
		ls = ls[:n-1]
	}
	return ls
}

// Present reports whether sdp carries the attribute at all, well formed
// or not.
func Present(sdp string) bool {
	_, ok := findValue(sdp)
	return ok
}

func findValue(sdp string) (string, bool) {
	prefix := "a=" + Attribute + ":"
	for _, l := range lines(sdp) {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v, true
		}
	}
	return "", false
}

// Parse reads the first chunking attribute of sdp. It fails with
// ErrNotDeclared when there is none and with a wrapped ErrMalformed when
// it does not parse or names a version other than Version; either way the
// connection stays unchunked. Unknown parameters are ignored so a later
// revision can add some without a new version.
func Parse(sdp string) (Params, error) {
	value, ok := findValue(sdp)
	if !ok {
		return Params{}, ErrNotDeclared
	}
	value = strings.TrimSpace(value)
	ver, rest := value, ""
	if i := strings.IndexFunc(value, unicode.IsSpace); i >= 0 {
		ver, rest = value[:i], value[i+1:]
	}
	v, err := strconv.ParseUint(ver, 10, 32)
	if err != nil {
		return Params{}, fmt.Errorf("%w: version %q is not a number", ErrMalformed, ver)
	}
	if v != Version {
		return Params{}, fmt.Errorf("%w: version %d, this side speaks %d", ErrMalformed, v, Version)
	}
	p := Params{Version: Version}
	if err := parseParams(strings.TrimSpace(rest), &p); err != nil {
		return Params{}, err
	}
	return p, nil
}

// parseParams reads the ";"-separated key=value list after the version.
func parseParams(list string, p *Params) error {
	for _, pair := range strings.Split(list, ";") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		key, val, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("%w: parameter %q has no value", ErrMalformed, pair)
		}
		if strings.TrimSpace(key) != maxSizeParam {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s=%q is not a byte count", ErrMalformed, maxSizeParam, val)
		}
		p.MaxMessageSize, p.HasMaxMessageSize = n, true
	}
	return nil
}

// Declare returns sdp with p's attribute at session level: just before
// the first m= line (the end of the session section), or at the end of a
// description without media. A description that already carries the
// attribute, or is empty, comes back unchanged.
func Declare(sdp string, p Params) string {
	ls := lines(sdp)
	if len(ls) == 0 || Present(sdp) {
		return sdp
	}
	var b strings.Builder
	b.Grow(len(sdp) + 64)
	inserted := false
	for _, l := range ls {
		if !inserted && strings.HasPrefix(l, "m=") {
			b.WriteString(p.Line() + "\r\n")
			inserted = true
		}
		b.WriteString(l + "\r\n")
	}
	if !inserted {
		b.WriteString(p.Line() + "\r\n")
	}
	return b.String()
}
