#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: installs the reference tools the
# conformance tests use, then checks formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need_apt+=(prometheus-pushgateway)
command -v prometheus-node-exporter >/dev/null 2>&1 || need_apt+=(prometheus-node-exporter)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
[ -x /usr/sbin/collectd ] || need_apt+=(collectd-core)
if ((${#need_apt[@]})); then
    echo "installing ${need_apt[*]} (apt-get)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
# prometheus_client: the reference exposition parser; statsd and datadog: real StatsD clients.
for module in prometheus_client statsd datadog; do
    if ! "$PYTHON" -c "import $module" >/dev/null 2>&1; then
        echo "installing $module (pip)"
        "$PYTHON" -m pip install --quiet "$module" 2>/dev/null ||
            "$PYTHON" -m pip install --quiet --break-system-packages "$module"
    fi
done

# The Python OpenTelemetry SDK: the reference for what the OTEL_EXPORTER_OTLP_* variables mean.
if ! "$PYTHON" -c "import opentelemetry.exporter.otlp.proto.http.metric_exporter" >/dev/null 2>&1; then
    echo "installing opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http (pip)"
    "$PYTHON" -m pip install --quiet opentelemetry-sdk opentelemetry-exporter-otlp-proto-http 2>/dev/null ||
        "$PYTHON" -m pip install --quiet --break-system-packages opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
fi

# The dashboard's browser test drives /usr/bin/chromium with playwright-core (no browser
# download): install the locked package once.
if [ ! -d crates/tallyho-dashboard/tests/browser/node_modules/playwright-core ]; then
    echo "installing playwright-core (npm ci, crates/tallyho-dashboard/tests/browser)"
    (cd crates/tallyho-dashboard/tests/browser && npm ci --no-audit --no-fund --ignore-scripts --silent)
fi
# node's hot-shots StatsD client, locked, for the agent's ingest tests.
if [ ! -d crates/tallyho-agent/tests/statsd_clients/node_modules/hot-shots ]; then
    echo "installing hot-shots (npm ci, crates/tallyho-agent/tests/statsd_clients)"
    (cd crates/tallyho-agent/tests/statsd_clients && npm ci --no-audit --no-fund --ignore-scripts --silent)
fi
# Etsy statsd, locked, as a receiver of the StatsD exporter's lines.
if [ ! -d crates/tallyho-export/tests/statsd_daemons/node_modules/statsd ]; then
    echo "installing statsd (npm ci, crates/tallyho-export/tests/statsd_daemons)"
    (cd crates/tallyho-export/tests/statsd_daemons && npm ci --no-audit --no-fund --ignore-scripts --silent)
fi
# The real-program tests fail instead of skipping when a tool is missing.
export TALLYHO_REQUIRE_TOOLS=1

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
# Every crate with features builds with none, each alone and all (after clippy, which has
# already checked the dependencies these combinations share).
bash scripts/features.sh --quiet
cargo test --workspace --all-features
