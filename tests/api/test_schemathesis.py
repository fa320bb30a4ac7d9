"""schemathesis against our own OpenAPI schema, through a real server, with a token: no 5xx, no schema violation.

Every operation gets schema-valid requests (positive) and schema-invalid ones (negative, where it has
inputs to break), checked by all of schemathesis' default checks (not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
negative_data_rejection, ...) but one: positive_data_acceptance, which demands 2xx for any
schema-valid request. Some rules are not schema rules: a task name must be registered, a cursor must
be one we issued, a job action takes ids or filters. Those get a documented 400, which that check
would count as a failure. A stateful run follows the links schemathesis infers (a job_id returned by
POST /jobs feeds /jobs/{job_id}...).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from jobs import tokens
from jobs.api import api

EXAMPLES = 12  # per operation and mode: the whole file stays around a minute on either database
# A schema-invalid request may also be refused for its size before it is read: 413 (say, a bulk
# enqueue over its maxItems whose body passes the 1 MiB limit) is a rejection too. The rest is
# schemathesis' own list of rejection statuses.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
# The token is the test's own (every call sends it): schemathesis must not generate security parameters,
# or a negative case that "removes" the header would be sent with it and its 200 counted as a failure.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"with-security-parameters": False},
        "checks": {"negative_data_rejection": {"expected-statuses": REJECTED}},
    }
)
SCHEMA = schemathesis.openapi.from_dict(api.get_openapi_schema(), config=CONFIG)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
EXCLUDED = [positive_data_acceptance]
CASES = [
    pytest.param(operation, mode, id=f"{operation.label} {mode.value}")
    for operation in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # An operation without parameters or body has nothing a negative case could break.
    if mode is GenerationMode.POSITIVE or operation.body or operation.query or operation.path_parameters
]


@pytest.fixture
def secret(transactional_db: None, django_user_model: Any) -> str:
    django_user_model.objects.create_user(username="fuzzer", password="pw")
    return tokens.create_token(username="fuzzer")[1]


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_operation_keeps_its_contract(operation: Any, mode: GenerationMode, live_server: Any, secret: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        headers = {"Authorization": f"Bearer {secret}"}
        case.call_and_validate(base_url=live_server.url, headers=headers, excluded_checks=EXCLUDED)

    check()


def test_stateful_links_keep_the_contract(live_server: Any, secret: str) -> None:
    machine = SCHEMA.as_state_machine()

    class Jobdeck(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live_server.url, "headers": {"Authorization": f"Bearer {secret}"}}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(
                response, excluded_checks=EXCLUDED, transport_kwargs=kwargs or None, recorder=self.recorder
            )

    run_settings = settings(
        max_examples=30,
        stateful_step_count=6,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    # schemathesis' stateful generation keeps state between cases (which auth header forms it has
    # seen), so hypothesis now and then stops a run with FlakyStrategyDefinition: a fault of the
    # generator, not a finding about our API. Such a run is started again, at most twice; contract
    # failures are other exceptions and fail the test at once.
    for attempt in range(3):
        try:
            Jobdeck.run(settings=run_settings)
            return
        except FlakyStrategyDefinition:
            if attempt == 2:
                raise
