# iocd developer entry points. CI runs `make test` through .ci/run.

GO       ?= go
FUZZTIME ?= 15s
# -race on a 2-core runner is several times slower than a plain run and the
# integration tests start real Mosquitto and InfluxDB servers, so the
# timeout is generous on purpose; a hung test still fails well within it.
TEST_TIMEOUT ?= 30m

# Missing servers fail the run instead of skipping tests (see internal/testrig).
export IOCD_REQUIRE_SERVERS := 1

.PHONY: test setup build demo bench-ingest bench-streams fmt vet fuzz

test: setup vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

setup:
	scripts/setup.sh

build:
	$(GO) build -o bin/iocd ./cmd/iocd

demo:
	$(GO) run ./cmd/iocd demo

bench-ingest:
	$(GO) run ./cmd/iocd bench ingest

bench-streams:
	$(GO) run ./cmd/iocd bench streams

fmt:
	gofmt -s -w .

vet:
	@unformatted="$$(gofmt -s -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt -s needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...

# fuzz runs every Fuzz target for FUZZTIME each; go test -fuzz accepts one
# target per run, so the targets are listed per package first.
fuzz:
	@set -e; \
	for pkg in $$($(GO) list ./...); do \
		for fn in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$fn"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done
