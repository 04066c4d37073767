"""The sandboxes', participation's and interoperability's operations answer only what the OpenAPI schema documents.

Fuzzed exactly as tests/services/test_api_fuzz.py fuzzes the other operations (its docstring says how), with its
targets, checks and examples per operation; a module of its own so that the suite's two workers share the fuzzing.
"""

from typing import Any

from hypothesis import HealthCheck, settings

from tests.services.test_api_fuzz import (  # noqa: F401  (the fixtures, for this module's own apps)
    DOMAIN_PATHS,
    EXAMPLES,
    Target,
    postgresql_api,
    schema,
    send_to_every_target,
    sqlite_api,
    targets,
)


@schema.include(path_regex=DOMAIN_PATHS).parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_operations_answer_as_documented(case: Any, targets: list[Target]) -> None:  # noqa: F811
    send_to_every_target(case, targets)
