"""MCA from counts: agreement with FactoMineR (reference file) and prince, recovery of known
structure, progress, cancel and refusals.

Reference values: tests/expected/factominer_mca.json, written by
tests/reference/factominer_reference.R (R 4.2.2, FactoMineR 2.7) from the committed CSVs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backend.errors import DataError
from backend.schemas.mca import MCAParams
from tests.reference.simulate import simulate_factors
from tests.support.families import assert_export_tables, assert_reports_progress_and_cancels
from workers.models.base import BinaryMatrix, no_progress
from workers.models.mca import fit

EXPECTED = Path(__file__).parent / "expected"
FACTOMINER = json.loads((EXPECTED / "factominer_mca.json").read_text())


def load(name: str) -> tuple[BinaryMatrix, pd.DataFrame]:
    frame = pd.read_csv(EXPECTED / name)
    products = [c for c in frame.columns if c.startswith("prod_")]
    return BinaryMatrix.from_frame(frame, products, "household_id"), frame[products]


@pytest.mark.parametrize("name", sorted(FACTOMINER["datasets"]))
def test_matches_factominer(name: str) -> None:
    ref = FACTOMINER["datasets"][name]
    data, _ = load(name)
    result = fit(data, MCAParams(n_components=5), no_progress)
    eigenvalues = np.array(result.eigenvalues)
    assert eigenvalues.size == len(ref["eigenvalues"])
    np.testing.assert_allclose(eigenvalues, ref["eigenvalues"], rtol=1e-6)
    np.testing.assert_allclose(result.percent_inertia, ref["percent"], rtol=1e-6)
    # Same categories in FactoMineR's order (per product: 0, 1, NA).
    levels = {"0": "not bought", "1": "bought", "NA": "missing"}
    expected = [(c[:7], levels[c[8:]]) for c in ref["categories"]]
    assert [(c.product, c.level) for c in result.categories] == expected
    coords = np.array([c.coordinates for c in result.categories])
    signs = np.sign((coords * np.array(ref["var_coord"])).sum(axis=0))  # axes' signs are free
    np.testing.assert_allclose(coords * signs, ref["var_coord"], atol=1e-8)
    contributions = np.array([c.contributions for c in result.categories])
    np.testing.assert_allclose(contributions, ref["var_contrib"], atol=1e-7)
    np.testing.assert_allclose([c.cos2 for c in result.categories], ref["var_cos2"], atol=1e-8)
    v_test = np.array([c.v_test for c in result.categories])
    np.testing.assert_allclose(v_test * signs, ref["var_vtest"], atol=1e-7)
    np.testing.assert_allclose(result.product_eta2, ref["var_eta2"], atol=1e-8)
    rows = result.rows
    assert rows is not None and rows.columns[0] == "household_id"
    head = rows.iloc[: len(ref["ind_coord"])]
    household = head[[f"dim_{s}" for s in range(1, 6)]].to_numpy()
    np.testing.assert_allclose(household * signs, ref["ind_coord"], atol=1e-8)
    cos2 = head[[f"cos2_{s}" for s in range(1, 6)]].to_numpy()
    np.testing.assert_allclose(cos2, ref["ind_cos2"], atol=1e-8)


def test_adjusted_inertias_match_prince() -> None:
    prince = pytest.importorskip("prince")
    data, frame = load("factor_binary.csv")
    result = fit(data, MCAParams(n_components=5), no_progress)
    categorical = frame.astype(str)
    plain = prince.MCA(n_components=12, engine="scipy").fit(categorical)
    np.testing.assert_allclose(result.eigenvalues, np.asarray(plain.eigenvalues_), rtol=1e-6)
    for correction, ours in (
        ("benzecri", result.benzecri_percent),
        ("greenacre", result.greenacre_percent),
    ):
        model = prince.MCA(n_components=12, correction=correction, engine="scipy").fit(categorical)
        np.testing.assert_allclose(ours, np.asarray(model.percentage_of_variance_), atol=1e-8)
    assert result.benzecri_eigenvalues[:3] == pytest.approx(
        list(np.asarray(model.eigenvalues_)[:3]), rel=1e-8
    )
    assert sum(result.benzecri_percent) == pytest.approx(100)


def test_two_products_give_the_closed_form_eigenvalues() -> None:
    """With two binary products the MCA eigenvalues are (1 ± |phi|) / 2."""
    rng = np.random.default_rng(0)
    a = rng.random(5000) < 0.4
    b = np.where(rng.random(5000) < 0.7, a, rng.random(5000) < 0.3)
    x = np.column_stack([a, b]).astype(float)
    phi = np.corrcoef(x.T)[0, 1]
    result = fit(BinaryMatrix(x, ["a", "b"]), MCAParams(n_components=1), no_progress)
    np.testing.assert_allclose(result.eigenvalues, [(1 + phi) / 2, (1 - phi) / 2], rtol=1e-10)


def test_recovers_two_independent_product_blocks() -> None:
    """Products 1-6 load on one latent factor, 7-12 on another, independent of it: the first
    two dimensions each gather one block (eta² of a product is highest on its block's axis),
    and buyers of a block sit on the positive side."""
    loadings = np.zeros((12, 2))
    loadings[:6, 0] = 0.8
    loadings[6:, 1] = 0.7
    penetration = np.full(12, 0.3)
    sim = simulate_factors(
        n=8000, loadings=loadings, phi=np.eye(2), penetration=penetration, seed=4
    )
    data = BinaryMatrix.from_frame(sim.frame, sim.products, "household_id")
    result = fit(data, MCAParams(n_components=3), no_progress)
    eta2 = np.array(result.product_eta2)[:, :2]
    axis = eta2.argmax(axis=1)
    assert len(set(axis[:6])) == 1 and len(set(axis[6:])) == 1 and axis[0] != axis[6]
    assert result.eigenvalues[1] > 1.5 * result.eigenvalues[2]
    coords = np.array(result.product_coordinates)
    assert (coords[:6, axis[0]] > 0).all() and (coords[6:, axis[6]] > 0).all()
    assert result.benzecri_percent[0] + result.benzecri_percent[1] > 80


def test_progress_and_cancel() -> None:
    data, _ = load("factor_binary.csv")
    assert_reports_progress_and_cancels(fit, data, MCAParams())


def test_a_product_everyone_bought_is_refused() -> None:
    data, _ = load("factor_binary.csv")
    data.values[:, 2] = 1.0
    with pytest.raises(DataError, match="prod_03"):
        fit(data, MCAParams(), no_progress)
    with pytest.raises(DataError, match="at least 2 products"):
        fit(BinaryMatrix(np.ones((5, 1)), ["a"]), MCAParams(), no_progress)


def test_more_components_than_dimensions_is_reduced_with_a_warning() -> None:
    data, _ = load("factor_binary.csv")
    result = fit(data, MCAParams(n_components=40), no_progress)
    assert result.n_components == 12 and len(result.summary) == 12
    assert any("reduced" in w for w in result.provenance.warnings)


def test_export_tables_and_product_embedding() -> None:
    assert_export_tables(
        "mca",
        fit(load("factor_binary.csv")[0], MCAParams(n_components=3), no_progress),
        {"product_coordinates", "categories", "product_eta2", "eigenvalues"},
        n_dimensions=3,
    )


def test_households_with_no_data_are_left_out_of_the_map_unless_asked_for() -> None:
    # Given the simulated data plus as many households again with every product missing
    base, _ = load("factor_binary_small.csv")
    values, products = base.values, base.products
    n = len(values)
    padded = np.vstack([values, np.full_like(values, np.nan)])
    data = BinaryMatrix(values=padded, products=products)
    alone = fit(BinaryMatrix(values=values, products=products), MCAParams(), no_progress)
    # When MCA runs with its defaults
    result = fit(data, MCAParams(), no_progress)
    # Then the empty households are counted, said, and left out: the map is the one without them
    assert result.n_rows_empty == n and result.n_rows_mapped == n and result.n_obs == 2 * n
    assert result.eigenvalues == pytest.approx(alone.eigenvalues, rel=1e-12)
    assert "have no data" in result.provenance.warnings[0]
    rows = result.rows
    assert rows is not None and len(rows) == 2 * n
    assert rows["dim_1"].iloc[n:].isna().all() and rows["dim_1"].iloc[:n].notna().all()
    # And asked to keep them, they form a dimension of their own (half the inertia and more)
    kept = fit(data, MCAParams(include_empty=True), no_progress)
    assert kept.n_rows_empty == n and kept.percent_inertia[0] > 45
    assert "were kept" in kept.provenance.warnings[0]
