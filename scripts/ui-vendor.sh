#!/usr/bin/env bash
# ui-vendor.sh refreshes web/assets/vendor/: the browser libraries of the
# pages (Leaflet, uPlot, PMTiles, the Be Vietnam Pro font) and the shipped map
# outline, all from npm at the exact versions of scripts/ui-vendor/package.json
# (locked by its package-lock.json). Only the files the pages load are
# copied, each library under a directory named with its version (the server
# lets browsers cache them for good), and web/assets/vendor/MANIFEST.json
# lists name, version, licence, files and their SHA-256.
#
# Run by hand (`make ui-vendor`) after changing a version; the result is
# committed, so building iocd needs neither npm nor the internet.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d -t iocd-ui-vendor.XXXXXX)"
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "ui-vendor: npm is missing; run scripts/setup.sh" >&2; exit 1; }

cp "$repo/scripts/ui-vendor/package.json" "$repo/scripts/ui-vendor/package-lock.json" "$work/"
# --ignore-scripts: nothing from the registry runs on this machine.
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

rm -rf "$repo/web/assets/vendor"
mkdir -p "$repo/web/assets/vendor"
node "$repo/scripts/ui-vendor/build.mjs" "$work/node_modules" "$repo/web/assets/vendor"
echo "ui-vendor: wrote $(find "$repo/web/assets/vendor" -type f | wc -l) files to web/assets/vendor"
