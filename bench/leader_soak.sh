#!/usr/bin/env bash
# The leader test of the suite (tests/services/test_leader_postgres.py) as a soak: the anchoring leader of
# `segell up --workers 2` and a `segell worker` on PostgreSQL killed with -9 ten times (the suite: four) while
# clients submit. Prints pytest's summary, then `leader_soak_s=SECONDS`.
# Usage: SEGELL_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test bench/leader_soak.sh [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SEGELL_TEST_POSTGRES_URL:?set SEGELL_TEST_POSTGRES_URL to a PostgreSQL database URL}"
started=$(date +%s)
SEGELL_LEADER_KILLS="${1:-10}" \
  .venv/bin/pytest -q -s -p no:randomly tests/services/test_leader_postgres.py -k leader_killed | tail -3
echo "leader_soak_s=$(( $(date +%s) - started ))"
