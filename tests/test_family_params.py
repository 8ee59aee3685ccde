"""Each family's parameters refuse what they cannot fit: the cases, family by family, are in
tests/corpus/refused_params.toml (the API refuses the same through these models: test_corpus)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from backend.families import family

REFUSED = tomllib.loads((Path(__file__).parent / "corpus" / "refused_params.toml").read_text())
CASES = [
    pytest.param(model_type, bad, id=f"{model_type}-{'-'.join(f'{k}={v}' for k, v in bad.items())}")
    for model_type, cases in REFUSED.items()
    for bad in cases
]


@pytest.mark.parametrize(("model_type", "bad"), CASES)
def test_params_refuse_bad_values(model_type: str, bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        family(model_type).params(**bad)


def test_a_valid_value_is_accepted_where_a_refused_one_is_not() -> None:
    # The refusals are of the values, not of the names: each family's defaults validate.
    for model_type in REFUSED:
        assert isinstance(family(model_type).params(), family(model_type).params)
