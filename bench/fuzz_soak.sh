#!/usr/bin/env bash
# The schemathesis tests of the suite (tests/services/test_api_fuzz.py and test_api_fuzz_domains.py) as a soak: many more cases per operation.
# Prints pytest's summary, then `fuzz_soak_s=SECONDS`. Usage: bench/fuzz_soak.sh [EXAMPLES]   (default 300)
# With SEGELL_TEST_POSTGRES_URL set, each case goes to PostgreSQL too.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
SEGELL_FUZZ_EXAMPLES="${1:-300}" .venv/bin/pytest -q -p no:randomly tests/services/test_api_fuzz.py tests/services/test_api_fuzz_domains.py | tail -3
echo "fuzz_soak_s=$(( $(date +%s) - started ))"
