#!/usr/bin/env bash
# Rebuilds the dashboard's assets (../assets: index.html, app.js, app.css) from src/ with
# the esbuild and uPlot that package-lock.json pins, then records the SHA-256 of every
# source and every output in ../assets/SOURCES.sha256. `cargo test -p tallyho-dashboard`
# checks that record against the files, so a source changed without rebuilding fails.
#
#   web/build.sh            rebuild into crates/tallyho-dashboard/assets
#   OUT=/tmp/x web/build.sh build elsewhere (the reproducibility test does this)
set -euo pipefail
cd "$(dirname "$0")"
OUT="${OUT:-../assets}"

# Exactly the locked versions; no install scripts (esbuild's binary comes as a package).
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

mkdir -p "$OUT"
ESBUILD=node_modules/.bin/esbuild
UPLOT_VERSION=$(node -p 'require("uplot/package.json").version')
"$ESBUILD" src/main.js --bundle --minify --format=iife --target=es2020 \
    --charset=utf8 --legal-comments=eof --log-level=warning --outfile="$OUT/app.js" \
    "--banner:js=/*! tallyho dashboard (MIT OR Apache-2.0); includes uPlot $UPLOT_VERSION, Copyright (c) Leon Sorokin, MIT License */"
"$ESBUILD" src/style.css --bundle --minify --charset=utf8 --log-level=warning \
    --outfile="$OUT/app.css"
cp src/index.html "$OUT/index.html"

# The record: sources (paths relative to the crate), then outputs as assets/<name>.
{
    echo "# SHA-256 of the dashboard's sources and of the assets web/build.sh built from them."
    (cd .. && find web/src -type f | LC_ALL=C sort | xargs sha256sum)
    (cd .. && sha256sum web/.npmrc web/build.sh web/package.json web/package-lock.json)
    for f in index.html app.js app.css; do
        echo "$(sha256sum < "$OUT/$f" | cut -d' ' -f1)  assets/$f"
    done
} > "$OUT/SOURCES.sha256.tmp"
mv "$OUT/SOURCES.sha256.tmp" "$OUT/SOURCES.sha256"
echo "built $(cd "$OUT" && pwd): $(wc -c < "$OUT/app.js") bytes of script, $(wc -c < "$OUT/app.css") of style"
