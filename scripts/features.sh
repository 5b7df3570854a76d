#!/usr/bin/env bash
# The feature matrix: every workspace crate that declares features is checked, all targets
# (library, binaries, tests, examples, benches), with no default features, with each feature
# alone, and with all features. Feature names come from `cargo metadata`, so a new feature
# is covered without editing this script; private features (named `_...`) are only ever
# turned on by the public ones and are skipped, and `default` is what a plain build checks.
#
# A combination fails when `cargo check` fails or when it leaves a warning in a workspace
# crate (an import or item only some features use, say). Every combination runs; the
# failures are listed at the end. Extra arguments go to every `cargo check` (`--locked`,
# `--quiet`...). Set CARGO_TARGET_DIR as for any cargo command.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO="${CARGO:-cargo}"
PYTHON="${PYTHON:-python3}"

# One line per check: `<crate> <flags...>`.
matrix="$("$CARGO" metadata --no-deps --format-version 1 | "$PYTHON" -c '
import json, sys

meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
for pkg in sorted(meta["packages"], key=lambda p: p["name"]):
    if pkg["id"] not in members or not pkg["features"]:
        continue
    public = sorted(f for f in pkg["features"] if f != "default" and not f.startswith("_"))
    name = pkg["name"]
    print(name, "--no-default-features")
    for feature in public:
        print(name, "--no-default-features", "--features", feature)
    print(name, "--all-features")
')"

if [ -z "$matrix" ]; then
    echo "features.sh: no workspace crate declares features" >&2
    exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
failed=()
start=$SECONDS
count=0
while read -r crate flags; do
    count=$((count + 1))
    echo "==> cargo check -p $crate --all-targets $flags"
    # shellcheck disable=SC2086 # the flags are separate words
    if ! "$CARGO" check -p "$crate" --all-targets $flags "$@" </dev/null 2>&1 | tee "$log"; then
        failed+=("$crate $flags (error)")
    elif grep -Eq '^warning: .* generated [0-9]+ warnings?|^ *--> ' "$log"; then
        # A compiler warning, by its summary or (under `--quiet`) by its source location.
        # Only workspace crates report them: dependencies build with lints capped.
        failed+=("$crate $flags (warnings)")
    fi
done <<<"$matrix"

echo "features.sh: $count combinations in $((SECONDS - start))s"
if ((${#failed[@]})); then
    echo "features.sh: ${#failed[@]} failed:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
