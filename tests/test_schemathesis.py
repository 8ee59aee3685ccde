"""Schemathesis against the OpenAPI schema, in-process: every operation with generated valid and
invalid requests; no 5xx, and every response as documented (status code, content type, headers,
body schema).

The app runs with API_TOKEN set, so the schema documents the bearer scheme and Schemathesis also
checks that requests without the token are refused (401)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from backend.app import create_app
from backend.settings import get_settings

TOKEN = "schemathesis-token-0123456789"
# Examples per operation: small in the default suite (well under a minute); raise it for a
# deeper search, e.g. SCHEMATHESIS_EXAMPLES=500 SCHEMATHESIS_RANDOM=1.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
DERANDOMIZE = not os.environ.get("SCHEMATHESIS_RANDOM")

CONFIG = schemathesis.Config.from_dict(
    {
        # Unknown query parameters are ignored, as HTTP APIs usually do; do not probe them.
        "generation": {"allow-extra-parameters": False},
        "operations": [
            {
                # The schema cannot say "a dataset that exists" or "a file with 0/1 columns": a
                # schema-valid submission may still be refused with a 404, 409, 413 or 422 (the
                # corpus in tests/test_corpus.py checks those refusals one by one).
                "include-path-regex": "^/api/v1/(datasets|runs)$",
                "include-method": "POST",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2XX", "404", "409", "413", "422"]
                    }
                },
            }
        ],
    }
)


def guarded_app() -> object:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(get_settings(), "api_token", TOKEN)
        return create_app()


schema = schemathesis.openapi.from_asgi("/openapi.json", guarded_app(), config=CONFIG)


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(get_settings(), "api_token", TOKEN)
    yield TOKEN


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case: schemathesis.Case, token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
