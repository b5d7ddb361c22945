# reactor-harness — build, test, lint, run.
GO        ?= go
BIN       := bin/reactor-harness
FUZZTIME  ?= 3000x

.PHONY: all build image release-check release-snapshot js-setup test test-go test-py test-js test-sdk test-sdk-chromium test-pytest-plugin test-node-integration test-github-action fuzz-short lint run mock clean conformance-server conformance-server-report

all: build

# A static, reproducible binary: no cgo (no libc to link, so it runs in an
# empty root), -trimpath (no build paths), no build ID; the module version
# and the VCS commit are read from the binary's build info (-buildvcs=true
# overrides a GOFLAGS=-buildvcs=false environment).
GOBUILD   := CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=true -ldflags='-s -w -buildid='

build:
	$(GOBUILD) -o $(BIN) ./cmd/reactor-harness

# The OCI image (internal/image): the static binary on an empty base, as
# a non-root user, written to dist/image as an OCI layout and a tarball
# for docker/podman load, kind and minikube (docs/kubernetes.md). Its tag
# comes from the binary's build info; file times from the commit.
image: build
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) \
	  $(GO) run ./scripts/image --binary $(BIN) --out dist/image \
	  --revision "$$(git rev-parse HEAD 2>/dev/null)"

# GoReleaser, pinned in its own module (tools/goreleaser: its module graph
# is large and would otherwise pin versions in ours). Rebuilt only when that
# module changes: a cold build takes about 3.5 minutes on 2 cores, a warm
# one about 25 s.
GORELEASER := bin/goreleaser
$(GORELEASER): tools/goreleaser/go.mod tools/goreleaser/go.sum
	cd tools/goreleaser && $(GO) build -o $(CURDIR)/$(GORELEASER) github.com/goreleaser/goreleaser/v2

# Validates .goreleaser.yaml (part of make test: cheap once the tool is built).
release-check: $(GORELEASER)
	$(GORELEASER) check

# The release archives and checksums, offline, into dist/ (nothing is
# published). Not part of make test: four cross-builds take about 6 minutes
# on 2 cores with a cold build cache.
release-snapshot: $(GORELEASER)
	$(GORELEASER) release --snapshot --clean

# The README's test command: everything CI runs.
test: lint release-check test-go test-py test-js test-sdk test-pytest-plugin test-node-integration test-github-action fuzz-short

# Every Go package but the SDK suite (run by test-sdk with its own parallelism).
test-go: js-setup
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/suites/sdk$$')

# The Python SDK driver: builds its virtual environments (idempotent), then its tests.
test-py:
	drivers/python/setup.sh
	python3 -m pytest drivers/python/tests -q

# The JS SDK driver: installs its pinned packages (idempotent), then its tests.
test-js: js-setup
	npm --prefix drivers/js test

js-setup:
	drivers/js/setup.sh

# The SDK behaviour suite: the real pinned SDKs (JS 2.9.0/2.2.1, Python
# 1.13.0/0.8.0) through their drivers against the mock; per-SDK Ginkgo JSON
# and JUnit in out/sdk/. Installs what it needs; a target that cannot run fails.
test-sdk: js-setup
	drivers/python/setup.sh
	REACTOR_SDK_REPORT_DIR=$(CURDIR)/out/sdk $(GO) run github.com/onsi/ginkgo/v2/ginkgo -p --procs=3 --timeout=15m ./suites/sdk

# The JS SDKs in headless Chromium (/usr/bin/chromium; BROWSER=path to
# override): kept out of test-sdk because a browser run takes minutes more.
test-sdk-chromium: js-setup
	REACTOR_SDK_DRIVER=js-2.9.0@chromium,js-2.2.1@chromium REACTOR_BROWSER=$(or $(BROWSER),/usr/bin/chromium) REACTOR_SDK_REPORT_DIR=$(CURDIR)/out/sdk-chromium $(GO) run github.com/onsi/ginkgo/v2/ginkgo -p --procs=2 --timeout=15m ./suites/sdk

# The pytest plugin (integrations/pytest): its own venv, the package installed
# from its folder, then its plugin suite and its reactor-sdk 1.13.0 suite
# against the binary just built.
test-pytest-plugin: build
	REACTOR_HARNESS=$(CURDIR)/$(BIN) integrations/pytest/run-tests.sh

# The Node package (integrations/node): npm ci from its lock file, then its
# vitest suites (startMock, the globalSetup, a killed runner, and the
# published @reactor-team/js-sdk 2.9.0) against the binary just built.
test-node-integration: build
	cd integrations/node && npm ci --no-audit --no-fund
	cd integrations/node && REACTOR_HARNESS=$(CURDIR)/$(BIN) npx vitest run

# actionlint, pinned in its own module (tools/actionlint) like GoReleaser.
ACTIONLINT := bin/actionlint
$(ACTIONLINT): tools/actionlint/go.mod tools/actionlint/go.sum
	cd tools/actionlint && $(GO) build -o $(CURDIR)/$(ACTIONLINT) github.com/rhysd/actionlint/cmd/actionlint

# The composite action (integrations/github-action): actionlint on its
# example workflow and on a workflow using it locally, then its install and
# mock scripts for real against a file:// release of the binary just built.
test-github-action: build $(ACTIONLINT)
	REACTOR_HARNESS=$(CURDIR)/$(BIN) ACTIONLINT=$(CURDIR)/$(ACTIONLINT) integrations/github-action/test.sh

# A short coverage-guided run of every fuzz target (the seed corpora also run in test-go).
fuzz-short:
	FUZZTIME=$(FUZZTIME) scripts/fuzz-short.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The main job on the embedded default: a short load run against the
# in-process mock (no account, no network).
run: build
	$(BIN) load

mock: build
	$(BIN) mock

# The server conformance catalog against the embedded mock, or against
# REACTOR_BASE_URL with REACTOR_API_KEY.
conformance-server:
	$(GO) test -count=1 ./suites/server/

conformance-server-report:
	$(GO) run github.com/onsi/ginkgo/v2/ginkgo --json-report=conformance-server.json --junit-report=conformance-server.xml ./suites/server

clean:
	rm -rf bin dist
