#!/usr/bin/env bash
# The crash test of the suite (tests/services/test_crash.py) as a soak: 20 kill -9 of the API, 10 of the anchoring
# worker and one of the node, while clients submit. Prints pytest's summary, then `crash_soak_s=SECONDS`.
# Usage: bench/crash_soak.sh [API_KILLS [WORKER_KILLS]]
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
SEGELL_CRASH_API_KILLS="${1:-20}" SEGELL_CRASH_WORKER_KILLS="${2:-10}" \
  .venv/bin/pytest -q -s -p no:randomly tests/services/test_crash.py | tail -3
echo "crash_soak_s=$(( $(date +%s) - started ))"
