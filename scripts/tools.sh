#!/usr/bin/env bash
# Test tools beyond cargo: frslint (PyPI, in .venv) for the FreeSWITCH config,
# systemd-analyze for the unit, cargo-deb for the package. Installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

command -v cargo >/dev/null || {
  echo "tools: cargo not found: install Rust with rustup (https://rustup.rs), then re-run" >&2; exit 69; }

if ! command -v systemd-analyze >/dev/null; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq systemd >/dev/null
fi
# prompt generation (scripts/prompts.sh, tests/prompts.rs)
if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq espeak-ng sox >/dev/null
fi
if [ ! -x .venv/bin/frslint ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check frslint==0.1.0
fi
# headless Chromium: tests/wallboard.rs drives the wallboard page in it
if ! command -v chromium >/dev/null; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# cargo-deb for `make deb` and tests/deb.rs (a few minutes to compile, once per machine)
cargo deb --version >/dev/null 2>&1 || cargo install -q cargo-deb --locked --version 3.8.0
.venv/bin/python -c "import aiosmtpd" 2>/dev/null || .venv/bin/pip install -q --disable-pip-version-check aiosmtpd==1.4.6  # SMTP sink of the mail tests
echo "tools: cargo, cargo-deb, systemd-analyze, frslint, espeak-ng, sox and chromium ready"
