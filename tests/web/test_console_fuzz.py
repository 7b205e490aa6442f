"""The JSON API fuzzed from its own OpenAPI schema (schemathesis, Hypothesis strategies),
against a real ``safetymonth serve`` with a logged-in session: no request ever gets a 5xx,
and every 200 conforms to the documented schema. Without the session every request is 401."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.openapi import from_dict
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.support.console import Console

EXAMPLES = 150  # per operation (fewer where the parameters allow fewer)


def _schema(client: httpx.Client) -> Any:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return from_dict(response.json())


def test_api_schema_needs_a_session(console: Console) -> None:
    assert console.client().get("/api/openapi.json").status_code == 401


@pytest.mark.slow  # among the heaviest of the fast loop (--durations)
def test_api_fuzzed_has_no_server_errors(console: Console) -> None:
    client = console.logged_in("viewer")
    schema = _schema(client)
    cookies = dict(client.cookies)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.path for operation in operations} == \
        {"/api/report", "/api/messages", "/api/files", "/api/history"}
    statuses: dict[int, int] = {}
    for operation in operations:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), anonymous=st.booleans())
        def run(case: Any, anonymous: bool) -> None:
            response = case.call(base_url=console.url, cookies={} if anonymous else cookies)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, response.text
            if anonymous:
                assert response.status_code == 401
            elif response.status_code == 200:
                case.validate_response(response, checks=[not_a_server_error,
                                                         response_schema_conformance])
            else:  # an unknown ?unit= or a malformed parameter
                assert response.status_code in (400, 404), response.text

        run()
    print("fuzz statuses:", statuses)
    assert statuses.get(200, 0) > 0 and statuses.get(401, 0) > 0
