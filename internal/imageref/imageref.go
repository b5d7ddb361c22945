// Package imageref names the reactor-harness container image: the name and
// the tag that `make image` gives the image it builds and that
// `k8s-manifest` uses by default, both derived from one binary's build info
// so that the two agree without a version being passed around.
//
// It knows nothing of how the image is built (see internal/image) and
// imports nothing beyond the standard library, so the CLI can use it
// without growing.
package imageref

import (
	"runtime/debug"
	"strings"
)

// Name is the image's repository name.
const Name = "reactor-harness"

// DevTag tags an image whose binary carries no module version (a build
// from a work tree without VCS stamping reports "(devel)").
const DevTag = "dev"

// Tag turns a module version into a valid image tag: [A-Za-z0-9_.-], at
// most 128 characters, not starting with '.' or '-'. A semver build suffix
// ("+dirty") becomes "-dirty".
func Tag(version string) string {
	if version == "" || version == "(devel)" {
		return DevTag
	}
	var b strings.Builder
	for _, r := range version {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	tag := strings.TrimLeft(b.String(), ".-")
	if len(tag) > 128 {
		tag = tag[:128]
	}
	if tag == "" {
		return DevTag
	}
	return tag
}

// FromBuildInfo is the image reference ("reactor-harness:TAG") of the
// binary that bi describes; nil (no build info) gives the dev tag.
func FromBuildInfo(bi *debug.BuildInfo) string {
	if bi == nil {
		return Name + ":" + DevTag
	}
	return Name + ":" + Tag(bi.Main.Version)
}

// Default is the reference of the image built from the running binary.
func Default() string {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(bi)
}
