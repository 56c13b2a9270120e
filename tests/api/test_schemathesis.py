"""Property-based run of every operation of /api/openapi.json (schemathesis 4 Python
API over WSGI, valid and invalid inputs): whatever is sent, no answer is a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

MAX_EXAMPLES = 30


def test_no_operation_answers_5xx(app, api, backend):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    strategy = st.one_of(*(op.as_strategy(mode) for op in operations
                           for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)))
    seen: set[str] = set()

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES * len(operations), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        # Authenticated as tenant A, so that generated requests reach the handlers
        # rather than stopping at 401.
        if case.path.startswith("/api/public/"):
            headers = {"Authorization": f"Bearer {api.a.token}"}
        else:
            headers = {"X-API-Key": api.a.write_key}
        response = case.call(headers=headers)
        seen.add(f"{case.method} {case.path}")
        case.validate_response(response, checks=[not_a_server_error])

    check()
    assert len(seen) >= len(operations) // 2
