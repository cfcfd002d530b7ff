#!/usr/bin/env bash
# setup.sh installs the external servers and tools that iocd's integration
# tests run for real: Mosquitto (broker and CLI clients), ffmpeg/ffprobe,
# InfluxDB 1.8.10 built from source into a cache directory, Debian's Chromium,
# Debian's Node.js and npm, and the npm packages of the dashboard's browser
# tests (e2e/, playwright-core only: it drives /usr/bin/chromium and never
# downloads a browser).
#
# `scripts/setup.sh demo` installs only what `make demo` needs (influxd): the
# demo runs the embedded broker and simulated cameras, so a first demo on a
# fresh machine waits for neither Chromium nor npm.
#
# It is idempotent: when everything is present it prints one line and exits.
# apt-get update runs at most once, and only when a package is missing.
#
# Environment:
#   IOCD_TOOLS  cache root for built tools (default $HOME/.cache/iocd-tools);
#               influxd goes to $IOCD_TOOLS/bin, where internal/testrig looks.
set -euo pipefail

scope="${1:-all}"
case "$scope" in
all | demo) ;;
*)
	echo "usage: scripts/setup.sh [demo]" >&2
	exit 2
	;;
esac

INFLUXD_VERSION=v1.8.10
TOOLS="${IOCD_TOOLS:-$HOME/.cache/iocd-tools}"
BIN="$TOOLS/bin"

log="$(mktemp -t iocd-setup.XXXXXX)"
trap 'rm -f "$log"' EXIT

fail() {
	echo "setup: $*" >&2
	if [[ -s "$log" ]]; then
		echo "setup: last output:" >&2
		tail -n 40 "$log" >&2
	fi
	exit 1
}

# have reports whether a command exists; Debian puts mosquitto in /usr/sbin,
# which is not on PATH for every user.
have() {
	command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]
}

# Package for each command the tests need.
declare -A pkg_for=(
	[mosquitto]=mosquitto
	[mosquitto_pub]=mosquitto-clients
	[mosquitto_sub]=mosquitto-clients
	[ffmpeg]=ffmpeg
	[ffprobe]=ffmpeg
	[chromium]=chromium
	[node]=nodejs
	[npm]=npm
)
if [[ "$scope" == demo ]]; then
	pkg_for=()
fi

missing=()
for cmd in "${!pkg_for[@]}"; do
	if ! have "$cmd"; then
		missing+=("${pkg_for[$cmd]}")
	fi
done

if ((${#missing[@]} > 0)); then
	# Deduplicate while keeping the list stable for the message.
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	command -v apt-get >/dev/null 2>&1 ||
		fail "missing packages (${missing[*]}) and no apt-get; install them by hand"
	sudo=()
	if [[ "$(id -u)" != 0 ]]; then
		command -v sudo >/dev/null 2>&1 ||
			fail "missing packages (${missing[*]}); run as root or install sudo"
		sudo=(sudo)
	fi
	echo "setup: installing ${missing[*]}"
	"${sudo[@]}" apt-get update -q >"$log" 2>&1 || fail "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
		fail "apt-get install ${missing[*]} failed"
	for cmd in "${!pkg_for[@]}"; do
		have "$cmd" || fail "$cmd still missing after installing ${pkg_for[$cmd]}"
	done
fi

if [[ ! -x "$BIN/influxd" ]]; then
	command -v go >/dev/null 2>&1 || fail "go is not on PATH; it is needed to build influxd"
	echo "setup: building influxd $INFLUXD_VERSION into $BIN (takes a few minutes)"
	mkdir -p "$BIN"
	# Build outside any module and without inherited GOFLAGS so the repo's
	# go.mod and flags cannot change what gets built.
	(cd / && GOFLAGS= GOBIN="$BIN" go install \
		"github.com/influxdata/influxdb/cmd/influxd@$INFLUXD_VERSION") >"$log" 2>&1 ||
		fail "building influxd $INFLUXD_VERSION failed"
	[[ -x "$BIN/influxd" ]] || fail "influxd not found in $BIN after go install"
fi

if [[ "$scope" == demo ]]; then
	echo "setup: influxd $INFLUXD_VERSION ($BIN) present"
	exit 0
fi

# Node.js must be as new as the browser tests' package.json asks (Debian 12
# ships 18, Debian 13 ships 20): say so plainly rather than let npm ci or
# playwright-core fail later with a syntax error.
e2e=e2e
want_node="$(sed -n 's/.*"node": *">=\([0-9]*\).*/\1/p' "$e2e/package.json")"
have_node="$(node -p 'process.versions.node')" || fail "node does not run"
if [[ -n "$want_node" ]] && ((${have_node%%.*} < want_node)); then
	fail "node $have_node is older than the $want_node that $e2e/package.json needs; install Node.js $want_node or newer (Debian 13's nodejs package is 20)"
fi

# e2e/node_modules is installed from the committed lockfile, and again only
# when the lockfile changed since: a copy of the lockfile npm ci installed
# from is kept in node_modules as the stamp.
stamp="$e2e/node_modules/.iocd-installed-lock.json"
if ! cmp -s "$e2e/package-lock.json" "$stamp"; then
	command -v npm >/dev/null 2>&1 || fail "npm is not on PATH; it is needed for the browser tests in $e2e/"
	echo "setup: installing the browser tests' npm packages into $e2e/node_modules"
	(cd "$e2e" && npm ci --no-audit --no-fund) >"$log" 2>&1 || fail "npm ci in $e2e failed"
	cp "$e2e/package-lock.json" "$stamp"
fi

echo "setup: mosquitto, mosquitto-clients, ffmpeg, chromium, node $have_node, npm, influxd $INFLUXD_VERSION ($BIN) and $e2e/node_modules present"
