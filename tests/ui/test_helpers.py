"""Pure helpers of the UI: schema → widget specs, the small tables pages show, formatting."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.results_fixture import lca_result
from ui.formatting import format_duration, format_eta, run_label
from ui.params_form import specs_from_schema, validate
from ui.tables import (
    column_profile_frame,
    default_products,
    diagnostics_frame,
    fit_table,
    guess_id_column,
    sweep_frame,
)

# The shape pydantic gives LCAParams (GET /models publishes it): the contract the form reads.
LCA_SCHEMA: dict[str, Any] = {
    "additionalProperties": False,
    "properties": {
        "n_classes": {"default": 3, "description": "Number of latent classes (segments).",
                      "maximum": 30, "minimum": 1, "title": "N Classes", "type": "integer"},
        "n_init": {"default": 10, "description": "Random starts; the best log-likelihood wins.",
                   "maximum": 1000, "minimum": 1, "title": "N Init", "type": "integer"},
        "max_iter": {"default": 1000, "description": "EM iterations per start.",
                     "maximum": 100000, "minimum": 1, "title": "Max Iter", "type": "integer"},
        "tol": {"default": 1e-06, "description": "Stop a start when the average log-likelihood "
                "moves less.", "exclusiveMinimum": 0, "maximum": 1, "title": "Tol",
                "type": "number"},
        "random_state": {"anyOf": [{"maximum": 4294967295, "minimum": 0, "type": "integer"},
                                   {"type": "null"}],
                         "default": None, "description": "Seed; empty picks one and records it.",
                         "title": "Random State"},
    },
    "title": "LCAParams",
    "type": "object",
}


# -- schema → widget specs ---------------------------------------------------------------


def test_lca_schema_gives_the_number_of_segments_up_front_and_the_rest_advanced() -> None:
    specs = specs_from_schema(LCA_SCHEMA)
    assert [s.name for s in specs] == ["n_classes", "n_init", "max_iter", "tol", "random_state"]
    first = specs[0]
    assert (first.label, first.kind, first.default, first.minimum, first.maximum) == (
        "Number of segments", "int", 3, 1, 30,
    )
    assert not first.advanced
    assert all(s.advanced for s in specs[1:])


def test_tolerance_is_a_float_with_an_exclusive_minimum_and_a_small_step() -> None:
    tol = next(s for s in specs_from_schema(LCA_SCHEMA) if s.name == "tol")
    assert tol.kind == "float" and tol.exclusive_minimum and tol.minimum == 0
    assert tol.step == pytest.approx(1e-6)
    assert tol.number_format == "%.1e"
    assert validate(tol, 0.0) == "Convergence tolerance must be above 0."
    assert validate(tol, 1e-4) is None


def test_seed_is_an_optional_integer() -> None:
    seed = next(s for s in specs_from_schema(LCA_SCHEMA) if s.name == "random_state")
    assert seed.kind == "int" and seed.nullable and seed.default is None
    assert seed.label == "Random seed"
    assert validate(seed, None) is None
    assert validate(seed, -1) == "Random seed must be at least 0."


def test_a_sweepable_parameter_still_draws_as_a_number() -> None:
    # A later schema may let n_classes be an int, a list or a "1-8" range (sweeps).
    schema = {"properties": {"n_classes": {
        "anyOf": [{"type": "integer", "minimum": 1, "maximum": 30},
                  {"type": "array", "items": {"type": "integer"}}, {"type": "string"}],
        "default": 3, "title": "N Classes"}}}
    (spec,) = specs_from_schema(schema)
    assert (spec.kind, spec.default, spec.maximum, spec.nullable) == ("int", 3, 30, False)


def test_enums_booleans_and_refs_map_to_choices_checkboxes() -> None:
    schema = {
        "$defs": {"Rotation": {"enum": ["varimax", "oblimin"], "type": "string"}},
        "properties": {
            "rotation": {"$ref": "#/$defs/Rotation", "default": "varimax"},
            "standardize": {"type": "boolean", "default": True, "title": "Standardize"},
            "weights": {"type": "array", "items": {"type": "number"}},
        },
    }
    specs = {s.name: s for s in specs_from_schema(schema)}
    assert specs["rotation"].kind == "choice"
    assert specs["rotation"].choices == ("varimax", "oblimin")
    assert specs["rotation"].label == "Rotation"
    assert specs["standardize"].kind == "bool" and specs["standardize"].default is True
    assert "weights" not in specs  # no widget for lists yet


def test_range_checks_name_the_parameter() -> None:
    n = specs_from_schema(LCA_SCHEMA)[0]
    assert validate(n, 0) == "Number of segments must be at least 1."
    assert validate(n, 31) == "Number of segments must be at most 30."
    assert validate(n, None) == "Number of segments is required."


# -- data profile and column choices ------------------------------------------------------

COLUMNS = [
    {"name": "household_id", "kind": "categorical", "is_binary": False, "n_missing": 0,
     "n_unique": 5, "prevalence": None, "examples": ["A1", "A2"]},
    {"name": "milk", "kind": "binary", "is_binary": True, "n_missing": 1, "n_unique": 2,
     "prevalence": 0.25, "examples": []},
    {"name": "bread", "kind": "binary", "is_binary": True, "n_missing": 0, "n_unique": 2,
     "prevalence": 0.5, "examples": []},
    {"name": "spend", "kind": "numeric", "is_binary": False, "n_missing": 0, "n_unique": 4,
     "prevalence": None, "examples": [12.5, 3]},
]


def test_profile_table_speaks_plainly() -> None:
    frame = column_profile_frame(COLUMNS)
    assert list(frame["Type"]) == ["Text / category", "0/1 purchase", "0/1 purchase", "Number"]
    assert list(frame["Usable as product"]) == [False, True, True, False]
    assert frame.loc[1, "Penetration"] == pytest.approx(25.0)
    assert frame["Penetration"].isna().tolist() == [True, False, False, True]
    assert frame.loc[1, "Missing"] == 1
    assert frame.loc[3, "Other values"] == "12.5, 3"


def test_id_column_is_guessed_and_products_default_to_every_other_binary_column() -> None:
    assert guess_id_column(COLUMNS, n_rows=5) == "household_id"
    assert default_products(COLUMNS, "household_id") == ["milk", "bread"]
    assert guess_id_column([c for c in COLUMNS if c["name"] != "household_id"], 5) is None


def test_an_id_named_column_wins_over_other_unique_columns() -> None:
    columns = [
        {"name": "email", "kind": "categorical", "is_binary": False, "n_unique": 5, "n_missing": 0},
        {"name": "cust_id", "kind": "numeric", "is_binary": False, "n_unique": 5, "n_missing": 0},
    ]
    assert guess_id_column(columns, n_rows=5) == "cust_id"


# -- results tables -----------------------------------------------------------------------


def test_fit_statistics_are_named_plainly() -> None:
    table = fit_table(lca_result()).set_index("Statistic")["Value"]
    assert table["Log-likelihood"] == "-150.500"
    assert table["Entropy (1 = clear-cut segments)"] == "0.810"
    assert table["Converged"] == "yes"


def test_diagnostics_read_as_verdicts() -> None:
    result = {"diagnostics": {"method": "nuts", "sampler": "nutpie", "chains": 2, "draws": 500,
                              "divergences": 3, "max_r_hat": 1.002, "min_ess_bulk": 150.0},
              "vi": {"iterations": 200, "converged": True, "final_loss": 40.0}}
    table = diagnostics_frame(result).set_index("Diagnostic")
    assert table.loc["Divergent transitions", "Verdict"] == "raise target_accept"
    assert table.loc["Largest R-hat", "Verdict"] == "ok"
    assert table.loc["Smallest bulk ESS", "Verdict"] == "few effective draws"
    assert table.loc["VI iterations", "Verdict"] == "converged"
    # The same rule as the run's verdict: 100 effective draws per chain, 200 for two chains.
    result["diagnostics"]["min_ess_bulk"] = 250.0
    table = diagnostics_frame(result).set_index("Diagnostic")
    assert table.loc["Smallest bulk ESS", "Verdict"] == "ok"


def test_sweep_comparison_marks_the_recommended_count() -> None:
    sweep = {"param": "n_classes", "recommended": 3, "table": [
        {"n_classes": 2, "bic": 10.0, "status": "completed", "smallest_class_share": 0.3},
        {"n_classes": 3, "bic": 9.0, "status": "completed", "smallest_class_share": 0.2},
    ]}
    frame = sweep_frame(sweep)
    assert list(frame["Best"]) == [False, True]
    assert list(frame["Smallest segment %"]) == pytest.approx([30.0, 20.0])


# -- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0.2, "under a second"), (42, "42 s"), (60, "1 min"), (125, "2 min 05 s"),
     (3 * 3600 + 120, "3 h 02 min")],
)
def test_durations_read_naturally(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_eta_wording() -> None:
    assert format_eta(None) == "estimating time left…"
    assert format_eta(0.4) == "almost done"
    assert format_eta(90) == "about 1 min 30 s left"


def test_run_label_names_the_run_and_when() -> None:
    run = {"id": "abcdef123456", "name": "Spring", "created_at": "2026-03-01T09:05:00Z"}
    assert run_label(run) == "Spring · 2026-03-01 09:05"
    assert run_label({**run, "name": ""}).startswith("abcdef12 · ")
