#!/usr/bin/env bash
# Render a release's index.html in headless Chromium (Debian's `chromium` package) and save
# a PNG. Usage: scripts/screenshot.sh [RELEASE_DIR] [OUT.png]
# The window is SCREENSHOT_WIDTH px wide (default 1400; 390 is a phone) and
# SCREENSHOT_HEIGHT px tall (default 4200).
# Needs: apt-get install chromium fonts-noto-cjk (the CJK fonts make the Chinese readable).
set -euo pipefail
cd "$(dirname "$0")/.."
extracts="${JUNHENG_EXTRACTS:-data/extracts}"
release="${1:-$extracts/$(cat "$extracts/LATEST")}"
width="${SCREENSHOT_WIDTH:-1400}"
height="${SCREENSHOT_HEIGHT:-4200}"
out="${2:-data/screenshots/$(basename "$release")-${width}.png}"
mkdir -p "$(dirname "$out")"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "chromium not found: apt-get install chromium fonts-noto-cjk" >&2
  exit 2
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="${width},${height}" \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$release")/index.html" 2>/dev/null
echo "screenshot: $(realpath -m "$out")"
