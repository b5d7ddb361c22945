# reactor-harness — build, test, lint, run.
GO        ?= go
BIN       := bin/reactor-harness
FUZZTIME  ?= 3s

.PHONY: all build test test-go fuzz-short lint run mock clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/reactor-harness

# The README's test command: everything CI runs.
test: lint test-go fuzz-short

test-go:
	$(GO) test -race -count=1 ./...

# A short coverage-guided run of every fuzz target (the seed corpora also run in test-go).
fuzz-short:
	FUZZTIME=$(FUZZTIME) scripts/fuzz-short.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The main job on the embedded default.
run: build
	$(BIN) mock

mock: run

clean:
	rm -rf bin
