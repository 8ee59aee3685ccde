"""From a model's parameter JSON Schema (served at GET /models) to plain widget specs.

Pure: no Streamlit here, so the mapping is unit-tested alone and a new model type gets its
form without UI code. `ui.components.param_inputs` draws the specs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "choice", "text"]

# The headline parameter of each family is shown up front; everything else is "advanced".
PRIMARY = ("n_classes", "n_factors", "n_components", "n_topics")

def in_form_words(text: str) -> str:
    """A message in the form's words for settings: "Increase n_init." → "Increase “Random
    starts”."; "max_iter=1000" → "“Maximum iterations per start” (1000)"."""

    def put(match: re.Match[str]) -> str:
        name = f"“{LABELS[match.group(1)]}”"
        return f"{name} ({match.group(3)})" if match.group(3) else name

    names = "|".join(sorted(LABELS, key=len, reverse=True))
    return re.sub(rf"\b({names})\b(=(\S+?))?(?=[\s;,.)]|$)", put, text)


def settings_rows(params: dict[str, Any]) -> list[dict[str, str]]:
    """A run's settings as rows a person reads (the form's names, plain values), not JSON."""

    def plain(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None:
            return "automatic"
        if isinstance(value, list):
            return ", ".join(plain(v) for v in value)
        return f"{value:g}" if isinstance(value, float) else str(value)

    return [
        {"Setting": LABELS.get(k, k.replace("_", " ").capitalize()), "Value": plain(v)}
        for k, v in params.items()
    ]


# Plain words for the parameter names shared by every model (DESIGN.md).
LABELS = {
    "n_classes": "Number of segments",
    "n_factors": "Number of dimensions",
    "n_components": "Number of components",
    "n_topics": "Number of shopping missions",
    "n_init": "Random starts",
    "max_iter": "Maximum iterations per start",
    "tol": "Convergence tolerance",
    "random_state": "Random seed",
    "rotation": "Rotation",
    "draws": "Draws per chain",
    "tune": "Tuning draws per chain",
    "chains": "Chains",
    "target_accept": "Target acceptance rate",
    "sampler": "Sampler",
    "n_final": "Starts carried to the end",
    "stage1_iter": "First-stage iterations",
    "bootstrap_lrt": "Bootstrap samples (likelihood-ratio test)",
    "bootstrap_l2": "Bootstrap samples (p-value of L²)",
    "reference_class": "Reference segment",
    "standardize": "Standardise numeric features",
    "extraction": "Extraction method",
    "correct": "Continuity correction",
    "smooth": "Smooth to positive definite",
    "scores": "Household scores",
    "n_parallel": "Parallel-analysis permutations",
    "init": "Starting point",
    "solver": "Solver",
    "beta_loss": "Loss",
    "alpha_W": "Regularisation of household weights",
    "alpha_H": "Regularisation of components",
    "l1_ratio": "Sparsity (L1 share)",
    "doc_topic_prior": "Household mix prior",
    "topic_word_prior": "Mission profile prior",
    "learning_method": "Learning method",
    "measure": "Link measure",
    "threshold": "Link threshold",
    "min_co_purchases": "Minimum households buying both",
    "community": "Community detection",
    "resolution": "Resolution (more, smaller groups above 1)",
    "link": "Link function",
    "method": "Method",
    "learning_rate": "Learning rate",
    "batch_size": "Households per minibatch",
    "random_intercepts": "Household random intercepts",
    "n_latent": "Latent taste dimensions",
    "max_categories": "Most levels per text feature",
}

HELP = {
    "n_classes": "How many groups of households to look for. Try a few values and compare.",
    "n_init": "The fit is restarted this many times from random points; the best one is kept. "
    "More starts are safer but slower.",
    "random_state": "Leave empty for a fresh seed (it is recorded with the results). "
    "Set it to reproduce a run exactly.",
}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    label: str
    kind: Kind
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    nullable: bool = False
    choices: tuple[Any, ...] = ()
    help: str | None = None
    advanced: bool = True

    @property
    def step(self) -> float | int | None:
        if self.kind == "int":
            return 1
        if self.kind == "float":
            base = self.default if isinstance(self.default, int | float) and self.default else None
            if base is None:
                return None
            return float(10 ** math.floor(math.log10(abs(base))))
        return None

    @property
    def number_format(self) -> str | None:
        if self.kind != "float":
            return None
        step = self.step
        return "%.1e" if step is not None and step < 1e-3 else "%g"


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        merged = dict(defs.get(ref.removeprefix("#/$defs/"), {}))
        merged.update({k: v for k, v in prop.items() if k != "$ref"})
        return merged
    return prop


def _variant(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The first usable alternative of an anyOf, and whether null is allowed."""
    options = prop.get("anyOf") or prop.get("oneOf")
    if not options:
        return _resolve(prop, defs), False
    nullable = any(o.get("type") == "null" for o in options)
    kinds = [_resolve(o, defs) for o in options if o.get("type") != "null"]
    usable = [o for o in kinds if _kind(o) is not None]
    chosen = dict(usable[0] if usable else (kinds[0] if kinds else {}))
    for key in ("default", "description", "title"):
        if key in prop:
            chosen[key] = prop[key]
    return chosen, nullable


def _kind(prop: dict[str, Any]) -> Kind | None:
    if "enum" in prop:
        return "choice"
    return {"integer": "int", "number": "float", "boolean": "bool", "string": "text"}.get(
        str(prop.get("type"))
    )  # type: ignore[return-value]


def specs_from_schema(schema: dict[str, Any]) -> list[ParamSpec]:
    """One spec per property the UI can draw, primary parameters first, in schema order."""
    defs = schema.get("$defs", {})
    specs: list[ParamSpec] = []
    for name, raw in schema.get("properties", {}).items():
        prop, nullable = _variant(raw, defs)
        kind = _kind(prop)
        if kind is None:
            continue  # e.g. a list-valued sweep: not in this form yet
        minimum = prop.get("minimum", prop.get("exclusiveMinimum"))
        title = prop.get("title") or name.replace("_", " ").capitalize()
        specs.append(
            ParamSpec(
                name=name,
                label=LABELS.get(name, title),
                kind=kind,
                default=prop.get("default"),
                minimum=minimum,
                maximum=prop.get("maximum", prop.get("exclusiveMaximum")),
                exclusive_minimum="exclusiveMinimum" in prop and "minimum" not in prop,
                nullable=nullable,
                choices=tuple(prop.get("enum", ())),
                help=HELP.get(name) or prop.get("description"),
                advanced=name not in PRIMARY,
            )
        )
    specs.sort(key=lambda s: s.advanced)  # stable: primary first, schema order kept
    return specs


def sweepable(model: dict[str, Any], spec: ParamSpec) -> bool:
    """Whether the parameter takes several values in one request: the model's `sweep_param`
    (one run per value), or a headline parameter whose schema also accepts a list."""
    if model.get("sweep_param") == spec.name:
        return True
    if spec.advanced:
        return False
    raw = model.get("params_schema", {}).get("properties", {}).get(spec.name, {})
    options = raw.get("anyOf") or raw.get("oneOf") or [raw]
    return any(o.get("type") == "array" for o in options if isinstance(o, dict))


def sweep_value(model: dict[str, Any], spec: ParamSpec, low: int, high: int) -> Any:
    """The request value for a range: "2-6" for a sweep parameter, else the list of values."""
    if low == high:
        return low
    if model.get("sweep_param") == spec.name:
        return f"{low}-{high}"
    return list(range(low, high + 1))


def validate(spec: ParamSpec, value: Any) -> str | None:
    """A sentence if `value` is outside the spec's range, else None (the API checks again)."""
    if value is None:
        return None if spec.nullable else f"{spec.label} is required."
    if isinstance(value, str | list) and spec.kind == "int":
        return None  # a sweep's range: checked by the API
    if spec.kind in ("int", "float"):
        if spec.minimum is not None:
            low = float(spec.minimum)
            if (spec.exclusive_minimum and value <= low) or value < low:
                word = "above" if spec.exclusive_minimum else "at least"
                return f"{spec.label} must be {word} {spec.minimum:g}."
        if spec.maximum is not None and value > float(spec.maximum):
            return f"{spec.label} must be at most {spec.maximum:g}."
    return None
