#!/usr/bin/env bash
# Installs reactor-harness $VERSION from $DOWNLOAD_URL/v$VERSION/ (the GoReleaser archive for
# this runner's OS and architecture), verified against the release's checksums.txt.
# Puts it on GITHUB_PATH, sets REACTOR_HARNESS in GITHUB_ENV, and the step output `binary`.
set -euo pipefail
die() { echo "::error::reactor-harness install: $*" >&2; exit 1; }
[ -n "${VERSION:-}" ] || die "the version input is required (for example 0.1.0)"
VERSION="${VERSION#v}"
case "${RUNNER_OS:-$(uname -s)}" in
  Linux) os=linux ;; macOS|Darwin) os=darwin ;; *) die "no release for ${RUNNER_OS:-$(uname -s)}: linux and macOS only" ;;
esac
case "${RUNNER_ARCH:-$(uname -m)}" in
  X64|x86_64|amd64) arch=amd64 ;; ARM64|arm64|aarch64) arch=arm64 ;; *) die "no release for ${RUNNER_ARCH:-$(uname -m)}: amd64 and arm64 only" ;;
esac
archive="reactor-harness_${VERSION}_${os}_${arch}.tar.gz"
base="${DOWNLOAD_URL%/}/v${VERSION}"
dir="${RUNNER_TEMP:-$(mktemp -d)}/reactor-harness-${VERSION}"
mkdir -p "$dir"
curl -fsSL --retry 3 -o "$dir/$archive" "$base/$archive" || die "cannot download $base/$archive"
curl -fsSL --retry 3 -o "$dir/checksums.txt" "$base/checksums.txt" || die "cannot download $base/checksums.txt"
want="$(awk -v f="$archive" '$2 == f { print $1 }' "$dir/checksums.txt")"
[ -n "$want" ] || die "checksums.txt has no line for $archive"
if command -v sha256sum >/dev/null; then got="$(sha256sum "$dir/$archive" | cut -d' ' -f1)"; else got="$(shasum -a 256 "$dir/$archive" | cut -d' ' -f1)"; fi
[ "$got" = "$want" ] || die "$archive: sha256 $got, checksums.txt says $want"
tar -xzf "$dir/$archive" -C "$dir" reactor-harness
"$dir/reactor-harness" --version
echo "$dir" >>"${GITHUB_PATH:-/dev/null}"
echo "REACTOR_HARNESS=$dir/reactor-harness" >>"${GITHUB_ENV:-/dev/null}"
echo "binary=$dir/reactor-harness" >>"${GITHUB_OUTPUT:-/dev/null}"
