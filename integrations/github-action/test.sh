#!/usr/bin/env bash
# Tests the composite action without GitHub: actionlint (ACTIONLINT) on the example and on a
# workflow that uses the action locally (so its metadata and inputs are checked), install.sh
# against a local file:// release made from REACTOR_HARNESS, and with-mock.sh against the real
# mock. Everything stays on this machine and on loopback.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${REACTOR_HARNESS:?set REACTOR_HARNESS to a built reactor-harness}"
: "${ACTIONLINT:?set ACTIONLINT to an actionlint binary}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# actionlint checks local actions only inside a project (a repository with .github/workflows).
proj="$tmp/project"
mkdir -p "$proj/.github/workflows" "$proj/integrations"
git -C "$proj" init -q
cp -r "$HERE" "$proj/integrations/github-action"
cp "$HERE/example-sdk-ci.yml" "$HERE/testdata/local-action.yml" "$proj/.github/workflows/"
(cd "$proj" && "$ACTIONLINT" -color=false) || fail "actionlint"
sed 's/^\(          version: 0.1.0\)$/\1\n          no_such_input: 1/' "$HERE/testdata/local-action.yml" >"$proj/.github/workflows/bad.yml"
out="$(cd "$proj" && "$ACTIONLINT" -color=false 2>&1)" && fail "actionlint accepted an unknown input"
grep -q 'input "no_such_input" is not defined' <<<"$out" || fail "actionlint said: $out"
pass "actionlint: the workflows are valid and an unknown input is caught"

# A release laid out as GoReleaser writes it, served from file://.
version=0.0.0-test
os=$(uname -s | tr 'A-Z' 'a-z'); arch=$(uname -m); [ "$arch" = x86_64 ] && arch=amd64; [ "$arch" = aarch64 ] && arch=arm64
rel="$tmp/release/v$version"; mkdir -p "$rel" "$tmp/pkg"
cp "$REACTOR_HARNESS" "$tmp/pkg/reactor-harness"
archive="reactor-harness_${version}_${os}_${arch}.tar.gz"
tar -czf "$rel/$archive" -C "$tmp/pkg" reactor-harness
(cd "$rel" && sha256sum "$archive" >checksums.txt)
install_env() { env RUNNER_TEMP="$tmp/runner" GITHUB_PATH="$tmp/path" GITHUB_ENV="$tmp/env" GITHUB_OUTPUT="$tmp/out" \
  DOWNLOAD_URL="file://$tmp/release" "$@"; }
mkdir -p "$tmp/runner"
install_env VERSION="v$version" "$HERE/install.sh" >/dev/null || fail "install.sh"
bin="$tmp/runner/reactor-harness-$version/reactor-harness"
grep -qx "binary=$bin" "$tmp/out" || fail "install.sh output: $(cat "$tmp/out")"
grep -qx "REACTOR_HARNESS=$bin" "$tmp/env" || fail "install.sh env: $(cat "$tmp/env")"
[ -x "$bin" ] || fail "no binary at $bin"
pass "install.sh installs a verified release"

echo "0000  $archive" >"$rel/checksums.txt"
out="$(install_env VERSION="$version" "$HERE/install.sh" 2>&1)" && fail "install.sh accepted a bad checksum"
grep -q "checksums.txt says 0000" <<<"$out" || fail "install.sh said: $out"
out="$(install_env VERSION=9.9.9 "$HERE/install.sh" 2>&1)" && fail "install.sh installed a missing version"
grep -q "cannot download" <<<"$out" || fail "install.sh said: $out"
pass "install.sh refuses a bad checksum and a missing version"

export REACTOR_HARNESS="$bin"
RUN='curl -fsS -X POST -H "Reactor-API-Key: $REACTOR_MOCK_API_KEY" "$REACTOR_MOCK_BASE_URL/tokens" >/dev/null &&
  curl -fsS "$REACTOR_MOCK_ADMIN_URL/requests" | grep -q "\"path\":\"/tokens\"" &&
  echo "$REACTOR_MOCK_BASE_URL" >'"$tmp/url" RUN="$RUN" "$HERE/with-mock.sh" >/dev/null || fail "with-mock.sh: the command did not reach the mock"
url="$(cat "$tmp/url")"
host="${url#http://}"
(exec 3<>"/dev/tcp/${host%:*}/${host#*:}") 2>/dev/null && fail "the mock at $url still listens after with-mock.sh"
pass "with-mock.sh runs the command against the mock and stops it"

rc=0; RUN='exit 7' "$HERE/with-mock.sh" >/dev/null || rc=$?
[ "$rc" = 7 ] || fail "with-mock.sh exit code $rc, want the command's 7"
out="$(RUN=true MOCK_ARGS="--scenario $tmp/none.yaml" "$HERE/with-mock.sh" 2>&1)" && fail "with-mock.sh with a bad scenario succeeded"
grep -q "exited before it was ready" <<<"$out" || fail "with-mock.sh said: $out"
pass "with-mock.sh passes the command's status on and reports a mock that cannot start"
