"""Profiles by household features: a feature that differs by segment is marked where it
differs and a noise feature almost never is (Bonferroni), shares and means weighted by the
posterior, scores profiled by category, integer weights as repeated rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.schemas.lca import LCAParams
from tests.support.survey import survey
from workers.models.base import BinaryMatrix, no_progress
from workers.models.lca.fit import fit as fit_lca
from workers.models.profiles import attach_profiles, build_profiles, unit_names


def profiled(n: int = 3000, seed: int = 3) -> tuple:
    s = survey(n, 3, seed=seed, effect=1.2)
    rng = np.random.default_rng(seed)
    assert s.data.covariates is not None
    s.data.covariates["age"] = rng.normal(40, 10, n) + 6 * (s.classes == 2)
    s.data.covariates["noise"] = rng.choice(["x", "y", "z"], n)
    result = fit_lca(s.data, LCAParams(n_classes=3, random_state=1, n_init=4), no_progress)
    attach_profiles(result, s.data, unit_names(result, "classes", "Segment"))
    return s, result


def test_segments_are_profiled_with_marks_where_they_differ() -> None:
    s, result = profiled()
    p = result.profiles
    assert p is not None and p.measure == "membership" and p.units == result.classes
    by = {f.feature: f for f in p.features}
    assert set(by) == {"region", "female", "age", "noise"}
    # Shares of each segment sum to one; the whole base's shares are the feature's own
    female = by["female"]
    for unit in p.units:
        assert sum(c.share for c in female.cells if c.unit == unit) == pytest.approx(1)
    assert female.overall[female.levels.index("1")] == pytest.approx(
        s.data.covariates["female"].mean(),
        abs=1e-12,
    )
    assert female.tests[0].p_value < 1e-10 and any(c.significant for c in female.cells)
    # The numeric feature: the segment of true class 3 is older, and marked
    probs = np.asarray(result.item_probabilities)
    older = int(np.argmin(np.abs(probs - s.probs[2]).sum(axis=1)))
    age = {c.unit: c for c in by["age"].cells}
    cell = age[result.classes[older]]
    assert cell.mean is not None and cell.mean > by["age"].overall[0] + 2 and cell.significant
    # Noise is not marked (Bonferroni over every cell)
    assert not any(c.significant for c in by["noise"].cells)
    assert by["noise"].tests[0].p_value > 0.001
    assert "islands" in by["region"].sparse_levels
    # and the sparse level is named in a warning of the result
    assert any("region=islands" in w for w in p.warnings)
    assert any("region=islands" in w for w in result.provenance.warnings)
    assert p.critical_z > 3 and p.n_cells == sum(len(f.cells) for f in p.features)


def test_noise_features_are_rarely_marked() -> None:
    # Given 20 noise features of 4 levels each over fixed memberships
    rng = np.random.default_rng(0)
    n, k = 4000, 3
    R = rng.dirichlet(np.ones(k) * 0.3, size=n)
    rows = pd.DataFrame(R, columns=[f"p_class_{c + 1}" for c in range(k)])
    feats = pd.DataFrame({f"f{j}": rng.choice(list("abcd"), n) for j in range(20)})
    p = build_profiles(rows, feats, ["Class 1", "Class 2", "Class 3"])
    assert p is not None
    marked = sum(c.significant for f in p.features for c in f.cells)
    small_p = sum(f.tests[0].p_value < 0.05 for f in p.features)
    # Then (familywise α = 0.05) almost no cell is marked and about 5 % of tests reject
    assert marked <= 1 and small_p <= 4


def test_scores_are_profiled_by_category() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    group = rng.choice(["a", "b"], n)
    score = rng.normal(size=n) + (group == "b") * 0.5
    rows = pd.DataFrame({"row": np.arange(n), "factor_1": score, "factor_2": rng.normal(size=n)})
    feats = pd.DataFrame({"group": group, "income": score * 10 + rng.normal(size=n)})
    p = build_profiles(rows, feats, ["Factor 1", "Factor 2"])
    assert p is not None and p.measure == "score"
    g = next(f for f in p.features if f.feature == "group")
    cells = {(c.unit, c.level): c for c in g.cells}
    assert cells[("Factor 1", "b")].mean == pytest.approx(score[group == "b"].mean())
    assert cells[("Factor 1", "b")].significant and not cells[("Factor 2", "b")].significant
    income = next(f for f in p.features if f.feature == "income")
    assert len(income.levels) == 4 and income.kind == "numeric"
    assert next(t for t in income.tests if t.unit == "Factor 1").p_value < 1e-10


def test_integer_weights_profile_like_repeated_rows() -> None:
    rng = np.random.default_rng(2)
    n = 500
    R = rng.dirichlet(np.ones(2), size=n)
    rows = pd.DataFrame(R, columns=["p_class_1", "p_class_2"])
    feats = pd.DataFrame({"g": rng.choice(list("abc"), n), "x": rng.normal(size=n)})
    w = rng.integers(1, 4, n).astype(float)
    idx = np.repeat(np.arange(n), w.astype(int))
    a = build_profiles(rows, feats, ["Class 1", "Class 2"], w)
    units = ["Class 1", "Class 2"]
    b = build_profiles(rows.iloc[idx].reset_index(drop=True), feats.iloc[idx], units)
    assert a is not None and b is not None and a.weighted
    for fa, fb in zip(a.features, b.features, strict=True):
        for ca, cb in zip(fa.cells, fb.cells, strict=True):
            assert ca.share == pytest.approx(cb.share) and ca.mean == pytest.approx(cb.mean)
            assert ca.median == pytest.approx(cb.median)


def test_no_features_no_profiles() -> None:
    s = survey(300, 2, seed=1)
    data = BinaryMatrix(values=s.data.values, products=s.data.products)
    result = fit_lca(data, LCAParams(n_classes=2, random_state=1, n_init=2), no_progress)
    attach_profiles(result, data, ["Class 1", "Class 2"])
    assert result.profiles is None and result.weights is None


@pytest.mark.parametrize("model_type", ["lca", "factor_tetrachoric", "nmf", "lda", "mca"])
def test_profiles_are_served_as_a_chart_and_tables(model_type: str) -> None:
    from backend.families import family
    from backend.presentation.charts import ChartView, sections, vega
    from backend.presentation.names import units
    from backend.presentation.tables import result_tables
    from tests.ui.fixtures import result, rows

    # Given a stored result of the family, profiled by two household features
    spec = family(model_type)
    payload = result(model_type)
    household = rows(model_type)
    rng = np.random.default_rng(0)
    features = pd.DataFrame(
        {
            "region": rng.choice(["north", "south"], len(household)),
            "age": rng.normal(40, 9, len(household)),
        }
    )
    names = unit_names(type("R", (), payload)(), spec.units_field, spec.unit)
    profiles = build_profiles(household, features, names)
    assert profiles is not None
    payload = {**payload, "profiles": profiles.model_dump(mode="json")}
    view = ChartView(spec, payload, units(spec, payload, {names[0]: "Busy families"}))
    # Then the run has a "who" chart, drawn with the units' names and the marks
    found = {s.id: s for s in sections(view)}
    assert "who" in found
    drawn = vega(view, "who", {})
    values = [row for data in drawn.get("datasets", {}).values() for row in data]
    assert values and {"Busy families"} <= {row["Unit"] for row in values}
    # and the exports hold the profiles and their tests
    tables = result_tables(model_type, payload)
    assert {"profiles", "profile_tests"} <= set(tables)
    assert set(tables["profiles"]["feature"]) == {"region", "age"}
