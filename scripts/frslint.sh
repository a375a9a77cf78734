#!/usr/bin/env bash
# Checks fs-conf/ + dialplans/ with frslint (PyPI, pinned in scripts/tools.sh, lives in .venv/).
#   scripts/frslint.sh check             analyze + lint the whole configuration
#   scripts/frslint.sh debug CTX NUMBER  trace one call, e.g. debug internal 301
# `debug` prints $${name} as $name (a frslint 0.1.0 quirk); the values are in its VARIABLES block.
set -euo pipefail
cd "$(dirname "$0")/.."

frslint=${FRSLINT:-.venv/bin/frslint}
conf=fs-conf/freeswitch.xml
[ -x "$frslint" ] || { echo "frslint not found at $frslint: run make test (scripts/tools.sh installs it)" >&2; exit 2; }

case "${1:-check}" in
  check)
    "$frslint" analyze "$conf"
    "$frslint" lint "$conf"
    ;;
  debug)
    [ $# -eq 3 ] || { echo "usage: $0 debug CONTEXT NUMBER" >&2; exit 2; }
    "$frslint" debug "$conf" "$3" -c "$2"
    ;;
  *) echo "usage: $0 [check|debug CONTEXT NUMBER]" >&2; exit 2 ;;
esac
