#!/usr/bin/env bash
# Takes docs/ui-finished-migration.png: the Temporal Web UI page of a finished migration, rendered by
# headless Chromium. Needs Chromium (Debian: apt-get update && apt-get install -y chromium) and a
# finished migration in a lab:
#
#   node bin/quickmig.js demo --keep     # leaves the lab with quickmig-esx-a-ir-app01 finished
#   scripts/screenshot-ui.sh             # [URL] [OUTPUT]; default: that workflow in the lab's UI
#   node bin/quickmig.js lab down
set -euo pipefail
cd "$(dirname "$0")/.."

state=".quickmig/lab/state.json"
url="${1:-}"
out="${2:-docs/ui-finished-migration.png}"
if [[ -z "$url" ]]; then
  [[ -f "$state" ]] || { echo "no lab in .quickmig/lab: run 'node bin/quickmig.js demo --keep' first, or give the URL" >&2; exit 2; }
  ui=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).info.temporal.uiUrl)' "$state")
  url="$ui/namespaces/default/workflows/quickmig-esx-a-ir-app01"
fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$browser" ]] || { echo "Chromium not found: apt-get update && apt-get install -y chromium" >&2; exit 2; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
# The UI is a single-page app: the virtual time budget lets it fetch and render before the capture.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1400,1000 --virtual-time-budget=10000 \
  --screenshot="$out" "$url" 2>/dev/null
echo "wrote $out ($url)"
