#!/usr/bin/env bash
# Builds static/ from the pinned npm packages (package-lock.json): vendored htmx and Leaflet, and
# the Tailwind CSS. The outputs are committed; running this again must change nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules/tailwindcss ] || npm ci --no-audit --no-fund

rm -rf static/vendor static/dist
mkdir -p static/vendor/leaflet static/dist
cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css static/vendor/leaflet/
cp node_modules/leaflet.heat/dist/leaflet-heat.js static/vendor/leaflet/leaflet-heat.js
cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart.umd.min.js
cp -r node_modules/leaflet/dist/images static/vendor/leaflet/images
cp static/src/favicon.svg static/src/google.svg static/dist/
NODE_ENV=production npx --no-install tailwindcss -c tailwind.config.js -i static/src/app.css -o static/dist/app.css --minify 2>/dev/null
