#!/usr/bin/env bash
# Refreshes the console's browser libraries from the npm registry: installs exactly what
# console/package-lock.json pins, copies their built files and licences into
# server/console/vendor/ (which the server embeds in its binary) and writes MANIFEST (file,
# package@version, sha256). Run it after changing a version in console/package.json (then
# `npm install --package-lock-only` there first) and commit the result. Neither building nor
# running the server needs Node; this script does.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
(cd console && npm ci --ignore-scripts --no-audit --no-fund)
vendor=server/console/vendor
rm -rf "$vendor"
mkdir -p "$vendor"
copy() { # package file-in-package name-in-vendor
  local version
  version=$(node -p "require('./console/node_modules/$1/package.json').version")
  cp "console/node_modules/$1/$2" "$vendor/$3"
  printf '%s %s@%s %s\n' "$3" "$1" "$version" "$(sha256sum "$vendor/$3" | cut -d' ' -f1)" >> "$vendor/MANIFEST"
}
# MapLibre's CSP build: the worker is its own file, so the page needs no blob: workers.
copy maplibre-gl dist/maplibre-gl-csp.js maplibre-gl-csp.js
copy maplibre-gl dist/maplibre-gl-csp-worker.js maplibre-gl-csp-worker.js
copy maplibre-gl dist/maplibre-gl.css maplibre-gl.css
copy maplibre-gl LICENSE.txt maplibre-gl.LICENSE.txt
copy echarts dist/echarts.min.js echarts.min.js
copy echarts LICENSE echarts.LICENSE.txt
copy echarts NOTICE echarts.NOTICE.txt
echo "refreshed $root/$vendor:"
cat "$vendor/MANIFEST"
