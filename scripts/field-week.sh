#!/usr/bin/env bash
# The field week at full size: 42 phones through a 2G link (50–150 kbit/s, 150–500 ms each way,
# cuts, silent connections, duplicates) for seven days, on SQLite and PostgreSQL, printing what
# the link cost. The suite runs a small week; this is the one to quote.
#   FIELD_WEEK_SEED=7 ./scripts/field-week.sh     another week
#   ./scripts/field-week.sh sqlite                one backend
set -euo pipefail
cd "$(dirname "$0")/.."
filter='test(/a_field_week_on_/)'
if [ $# -gt 0 ]; then filter="test(/a_field_week_on_$1/)"; fi
FIELD_WEEK=full cargo nextest run -p gridsync-server --no-capture -E "$filter"
