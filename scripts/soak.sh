#!/usr/bin/env bash
# Soak test (not in CI): a release agent on 127.0.0.1 pushing to a real Pushgateway, StatsD at
# a fixed rate, scrapes, and Pushgateway outages, for SOAK_DURATION seconds (default 600).
# Reports sent against received totals (must be equal), RSS over time (must stay flat) and
# errors; exits 1 on any difference. Extra arguments go to scripts/soak.py (--rate,
# --outage-every, --outage-for, --interval, --out, ...).
#
#   scripts/soak.sh                       # 10 minutes
#   SOAK_DURATION=60 scripts/soak.sh --rate 2000
set -euo pipefail
cd "$(dirname "$0")/.."
command -v prometheus-pushgateway >/dev/null || {
    echo "soak: prometheus-pushgateway not found (apt-get install prometheus-pushgateway)" >&2
    exit 2
}
cargo build --release -p tallyho-agent --bin tallyho
target="${CARGO_TARGET_DIR:-target}"
exec python3 scripts/soak.py --agent "$target/release/tallyho" \
    --duration "${SOAK_DURATION:-600}" "$@"
