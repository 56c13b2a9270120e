#!/usr/bin/env bash
# Rebuild the vendored front-end files in static/vendor/ from npm packages.
# Versions are pinned here; VERSIONS.md is regenerated from what was installed.
# Usage: scripts/vendor.sh   (needs node + npm; writes only static/vendor/)
set -euo pipefail

HTMX_VERSION="${HTMX_VERSION:-2.0.11}"
HTMX_SSE_VERSION="${HTMX_SSE_VERSION:-2.2.4}"
JSSIP_VERSION="${JSSIP_VERSION:-3.13.8}"
SORTABLE_VERSION="${SORTABLE_VERSION:-1.15.7}"
CHARTJS_VERSION="${CHARTJS_VERSION:-4.6.1}"
ESBUILD_VERSION="${ESBUILD_VERSION:-0.28.2}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo_root/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact \
  "htmx.org@$HTMX_VERSION" \
  "htmx-ext-sse@$HTMX_SSE_VERSION" \
  "jssip@$JSSIP_VERSION" \
  "sortablejs@$SORTABLE_VERSION" \
  "chart.js@$CHARTJS_VERSION" \
  "esbuild@$ESBUILD_VERSION" >/dev/null

mkdir -p "$dest"
nm="$work/node_modules"

cp "$nm/htmx.org/dist/htmx.min.js" "$dest/htmx.min.js"
cp "$nm/htmx-ext-sse/dist/sse.min.js" "$dest/sse.js" 2>/dev/null \
  || cp "$nm/htmx-ext-sse/sse.js" "$dest/sse.js"
cp "$nm/sortablejs/Sortable.min.js" "$dest/Sortable.min.js"
cp "$nm/chart.js/dist/chart.umd.min.js" "$dest/chart.umd.min.js" 2>/dev/null \
  || cp "$nm/chart.js/dist/chart.umd.js" "$dest/chart.umd.min.js"

# JsSIP ships CommonJS only: bundle it once into a browser global `JsSIP`.
"$nm/.bin/esbuild" "$nm/jssip/lib/JsSIP.js" \
  --bundle --format=iife --global-name=JsSIP --minify \
  --outfile="$dest/jssip.min.js" >/dev/null

version_of() { node -p "require('$nm/$1/package.json').version"; }
# Some packages (htmx-ext-sse) have no "license" field: read their LICENSE file.
license_of() {
  local lic
  lic="$(node -p "require('$nm/$1/package.json').license || ''")"
  if [ -z "$lic" ]; then
    case "$(head -1 "$nm/$1"/LICENSE* 2>/dev/null)" in
      "BSD Zero Clause License"*) lic="0BSD (per LICENSE file)" ;;
      "MIT License"*) lic="MIT (per LICENSE file)" ;;
      *) lic="see the package's LICENSE file" ;;
    esac
  fi
  echo "$lic"
}

{
  echo "# Vendored front-end files"
  echo
  echo "Built by \`scripts/vendor.sh\` from npm packages; do not edit by hand."
  echo "Re-run the script to upgrade (versions are pinned at its top)."
  echo
  echo "| File | Package | Version | Licence | Source file in package |"
  echo "|---|---|---|---|---|"
  echo "| htmx.min.js | htmx.org | $(version_of htmx.org) | $(license_of htmx.org) | dist/htmx.min.js |"
  echo "| sse.js | htmx-ext-sse | $(version_of htmx-ext-sse) | $(license_of htmx-ext-sse) | $( [ -f "$nm/htmx-ext-sse/dist/sse.min.js" ] && echo dist/sse.min.js || echo sse.js ) |"
  echo "| jssip.min.js | jssip | $(version_of jssip) | $(license_of jssip) | lib/JsSIP.js bundled with esbuild $(version_of esbuild) (iife, global \`JsSIP\`, minified) |"
  echo "| Sortable.min.js | sortablejs | $(version_of sortablejs) | $(license_of sortablejs) | Sortable.min.js |"
  echo "| chart.umd.min.js | chart.js | $(version_of chart.js) | $(license_of chart.js) | dist/chart.umd.min.js |"
  echo
  echo "SHA-256 of the files as committed:"
  echo
  echo '```'
  (cd "$dest" && sha256sum htmx.min.js sse.js jssip.min.js Sortable.min.js chart.umd.min.js)
  echo '```'
} > "$dest/VERSIONS.md"

echo "vendored into $dest:"
ls -l "$dest"
