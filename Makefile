# iocd developer entry points. CI runs `make test` through .ci/run.

GO       ?= go
FUZZTIME ?= 15s
# -race on a 2-core runner is several times slower than a plain run and the
# integration tests start real Mosquitto and InfluxDB servers, so the
# timeout is generous on purpose; a hung test still fails well within it.
TEST_TIMEOUT ?= 30m

# Missing servers fail the run instead of skipping tests (see internal/testrig).
export IOCD_REQUIRE_SERVERS := 1

# The dashboard page's browser tests (e2e/): node's own test runner drives
# Debian's Chromium against an iocd built from this checkout. The spec
# reporter ends with the runner's summary lines (tests, pass, fail, ...).
E2E = cd e2e && node --test --test-reporter=spec --test-reporter-destination=stdout

.PHONY: test e2e setup build demo bench-ingest bench-ingest-latency bench-alerts-latency bench-streams bench-streams-h265 bench-alerts soak fmt vet fuzz fuzz-ci

test: setup vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) fuzz-ci
	$(E2E)

e2e: setup
	$(E2E)

setup:
	scripts/setup.sh

build:
	$(GO) build -o bin/iocd ./cmd/iocd

# demo installs what is missing (InfluxDB into ~/.cache/iocd-tools), then runs
# iocd with its embedded broker, a local InfluxDB under ./var and the
# simulators; it prints the dashboard URL and an admin token.
demo: setup
	$(GO) run ./cmd/iocd demo

# The ingest benchmarks run by hand, never in CI: real Mosquitto and
# InfluxDB, iocd as a child process. bench-ingest is the drain test
# (500,000 queued messages; IOCD_BENCH_N changes it); bench-ingest-latency
# publishes a steady 20,000 msg/s for 30 s and reports the p99 delay.
bench-ingest: setup
	$(GO) test -run '^$$' -bench Drain -benchtime 1x -timeout 30m ./bench/

bench-ingest-latency: setup
	$(GO) test -run '^$$' -bench SteadyLatency -benchtime 1x -timeout 30m ./bench/

# 200 simulated cameras at 1 Mbit/s (the simulator in a child process) into
# the streams manager: CPU, buffer memory against bytes held, frames lost,
# and clip latency under that load. bench-streams-h265 runs the same on H.265.
bench-streams: setup
	$(GO) test -run '^$$' -bench 'BenchmarkStreams$$' -benchtime 1x -timeout 15m -v ./streams/streamsbench/

bench-streams-h265: setup
	$(GO) test -run '^$$' -bench 'BenchmarkStreamsH265$$' -benchtime 1x -timeout 15m -v ./streams/streamsbench/

# The soak, by hand, never in CI: iocd on real Mosquitto and InfluxDB at
# 10,000 msg/s from 1,000 devices, with 50 simulated cameras and their
# violation events, for SOAK_MINUTES (30); every minute it prints iocd's RSS,
# goroutines, open files, spool bytes and bus drops. SOAK_RATE, SOAK_CAMERAS,
# SOAK_DEVICES and SOAK_SAMPLE_SECONDS change the load and the sampling.
SOAK_MINUTES ?= 30
soak: setup
	SOAK_MINUTES=$(SOAK_MINUTES) $(GO) test -run '^$$' -bench Soak -benchtime 1x -timeout $$(( $(SOAK_MINUTES) + 15 ))m ./bench/soak/

# The alerts engine's per-reading cost: 200 threshold and rate rules over
# 1,000 devices, on the path where no rule changes state (ns/op and allocs/op).
bench-alerts:
	$(GO) test -run '^$$' -bench . -benchmem ./alerts/

# From a publish that crosses a threshold to the MQTT alert notification,
# on iocd as a child process at 20,000 readings/s from 1,000 devices for
# 20 s, 20 crossings/s (p50, p99, max); by hand, never in CI.
bench-alerts-latency: setup
	$(GO) test -run '^$$' -bench AlertsLatency -benchtime 1x -timeout 15m ./bench/

fmt:
	gofmt -s -w .

vet:
	@unformatted="$$(gofmt -s -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt -s needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...

# fuzz-ci runs every Fuzz target for FUZZTIME_CI each (5 s; 11 targets, under
# two minutes with the instrumented builds), as part of make test, after the Go tests.
# The targets are found with grep, which costs no build; the seed corpora
# are in each package's testdata/fuzz, and a failing input lands there too.
FUZZTIME_CI ?= 5s
fuzz-ci:
	@set -e; \
	grep -l '^func Fuzz' $$(git ls-files '*_test.go') | while read -r file; do \
		pkg=./$$(dirname $$file); \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "fuzz-ci $$pkg $$fn"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME_CI) $$pkg; \
		done; \
	done

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
