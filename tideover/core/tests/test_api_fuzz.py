"""Schemathesis generates input, valid and invalid, for every operation in the OpenAPI
document: the API must answer each with something other than a server error.

(Schemathesis' own pytest plugin does not support pytest 9 yet, so the operations are walked
here with Hypothesis directly.)"""

import schemathesis
from hypothesis import HealthCheck, given, settings

from tideover.core.models import TokenScope

EXAMPLES_PER_OPERATION = 10


def test_no_input_makes_the_api_fail_with_a_server_error(
    transactional_db, severities, components, chain, api_token
):
    from tideover.wsgi import application

    headers = {"Authorization": api_token(*TokenScope.values)["HTTP_AUTHORIZATION"]}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures, statuses = [], []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def exercise(case):
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                )

        exercise()
    assert failures == []
    assert len(statuses) > 3 * len(operations), "too few generated requests to mean anything"
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
