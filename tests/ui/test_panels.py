"""Every family's Results panel drawn from a real stored result (no API): the family's own tabs,
its charts, no exception — and the generic tables view for an unknown or half-finished result."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.fixtures import result

FAMILIES = ["lca", "lca_covariates", "factor_tetrachoric", "mca", "nmf", "lda", "network",
            "bayesian_factor_vi", "dcm"]
FIRST_TAB = {
    "lca": "Segments", "lca_covariates": "Segments", "factor_tetrachoric": "Loadings",
    "mca": "Map", "nmf": "Top products", "lda": "Top products", "network": "Network",
    "bayesian_factor_vi": "Loadings", "dcm": "Household effects",
}


def draw(model_type: str, mutate: str | None = None) -> None:
    import pandas as pd

    from tests.ui.fixtures import result as stored
    from tests.ui.fixtures import rows as stored_rows
    from ui import panels
    from ui.families import display_names
    from ui.panels.base import View

    res = stored(model_type) if model_type != "unknown" else {"products": ["a"], "x": [1, 2]}
    if mutate:
        res.pop(mutate)

    def rows() -> pd.DataFrame:
        try:
            return stored_rows(model_type)
        except FileNotFoundError:
            return pd.DataFrame()

    view = View(run={"id": "r1", "params": {}}, result=res, model_type=model_type,
                names=display_names(model_type, res), run_id="r1", load_rows=rows)
    panels.render(view)


@pytest.mark.parametrize("model_type", FAMILIES)
def test_each_family_gets_its_own_panel(model_type: str) -> None:
    at = AppTest.from_function(draw, args=(model_type,), default_timeout=30).run()
    assert not at.exception, at.exception
    assert not at.info or "no dedicated view" not in at.info[0].value
    assert all("could not be drawn" not in w.value for w in at.warning)
    labels = [t.label for t in at.tabs]
    assert labels[0] == FIRST_TAB[model_type]
    assert len(at.get("vega_lite_chart")) >= 2
    if model_type != "mca":
        assert "Product map" in labels, labels  # the every-model product views
    assert "Dendrogram" in labels and "Closest competitors" in labels


def test_an_unknown_family_gets_the_generic_tables() -> None:
    at = AppTest.from_function(draw, args=("unknown",), default_timeout=30).run()
    assert not at.exception
    assert "no dedicated view" in at.info[0].value
    assert at.dataframe  # its numbers as a table


def test_a_result_missing_a_needed_field_degrades_to_tables() -> None:
    at = AppTest.from_function(draw, args=("lca", "item_probabilities"),
                               default_timeout=30).run()
    assert not at.exception
    assert "no dedicated view" in at.info[0].value


def test_fixtures_cover_every_catalogued_family() -> None:
    for model_type in FAMILIES:
        assert result(model_type)["products"]
