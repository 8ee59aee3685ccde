"""The typing tool of a latent class model: the run that makes it, and its exports built from
the stored points (docs/scoring.md, "Typing tool"): a scoring sheet (CSV), one portable SQL
query assigning the segment from a warehouse table's product columns, and a small Python
function. All three add the same integer points and break ties the same way (the first
segment), so they give exactly the tool's classification."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from backend.auth import ANONYMOUS
from backend.errors import Conflict, InvalidInput
from backend.families import family
from backend.orm import Run
from backend.presentation.names import units
from backend.schemas.scoring import TypingCreate
from backend.services import runs as run_service
from backend.services.ingest import to_csv


def submit_typing(
    session: Session, source: Run, body: TypingCreate, client: str = ANONYMOUS
) -> Run:
    run_service.require_completed(source)
    assert source.result is not None
    result = source.result.result
    if source.kind != "fit" or "item_probabilities" not in result or result.get("terms"):
        raise InvalidInput(
            f"Run {source.id} is not a latent class model without household features (lca): "
            "the typing tool assigns segments from product answers alone."
        )
    return run_service.queue_derived_run(
        session,
        source,
        kind="typing",
        name=body.name or f"Typing tool of {source.name}",
        params=body.model_dump(exclude={"name"}),
        dataset_id=source.dataset_id,
        product_columns=list(source.product_columns),
        covariate_columns=[],
        id_column=source.id_column,
        client=client,
    )


def typing_result(run: Run, k: int | None) -> tuple[dict[str, Any], int]:
    """The stored typing tool and the number of products asked (its suggestion by default)."""
    run_service.require_completed(run)
    assert run.result is not None
    result = run.result.result
    if run.kind != "typing":
        raise Conflict(
            f"Run {run.id} is not a typing tool; make one with POST /runs/{{id}}/typing."
        )
    most = len(result["order"])
    chosen = result["suggested_k"] if k is None else k
    if not 1 <= chosen <= most:
        raise InvalidInput(f"k={chosen}: this typing tool has 1 to {most} products.")
    return result, chosen


def segment_names(run: Run, result: dict[str, Any]) -> list[str]:
    spec = family(run.model_type)
    return units(spec, {spec.units_field: result["segments"]}, run.labels).names


def sheet(run: Run, result: dict[str, Any], k: int) -> str:
    """The scoring sheet: the starting points, then per question and answer the points each
    segment gets; add them up and take the segment with the most (the first on a tie)."""
    names = segment_names(run, result)
    rows: list[dict[str, Any]] = [
        {
            "question": "(every household starts with)",
            "answer": "",
            **dict(zip(names, result["constant"], strict=True)),
        }
    ]
    for item in result["points"][:k]:
        for answer, key in (("bought", "bought"), ("did not buy", "not_bought")):
            rows.append(
                {
                    "question": item["product"],
                    "answer": answer,
                    **dict(zip(names, item[key], strict=True)),
                }
            )
    return to_csv(pd.DataFrame(rows))


def quote_name(name: str) -> str:
    """A standard SQL identifier: in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_table(name: str) -> str:
    """A table name, schema-qualified or not (`crm.households`): each part quoted."""
    return ".".join(quote_name(part) for part in name.split("."))


def quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql(run: Run, result: dict[str, Any], k: int, table: str, id_column: str) -> str:
    """One portable SQL query (SQLite, PostgreSQL, and any database with CASE): the segment of
    every row of `table` from its 0/1 product columns; a NULL answer gives no points."""
    names = segment_names(run, result)
    n = len(names)
    key = quote_name(id_column)
    sums = []
    for c in range(n):
        terms = [str(result["constant"][c])]
        for item in result["points"][:k]:
            terms.append(
                f"CASE {quote_name(item['product'])} WHEN 1 THEN {item['bought'][c]} "
                f"WHEN 0 THEN {item['not_bought'][c]} ELSE 0 END"
            )
        sums.append("    " + "\n      + ".join(terms) + f" AS s{c + 1}")
    pick = []
    for c in range(n - 1):
        beats = " AND ".join(f"s{c + 1} >= s{d + 1}" for d in range(c + 1, n))
        pick.append(f"WHEN {beats} THEN {c + 1}")
    segment = f"CASE {' '.join(pick)} ELSE {n} END" if n > 1 else "1"
    label = " ".join(f"WHEN {c + 1} THEN {quote_text(names[c])}" for c in range(n))
    products = ", ".join(item["product"] for item in result["points"][:k])
    return (
        f"-- Typing tool of run {result['source_run_id']}: {k} product(s) ({products}).\n"
        f"-- Replace {quote_table(table)} and {key} with your table and its household ID.\n"
        f"SELECT {key}, segment, CASE segment {label} END AS segment_name\n"
        f"FROM (\n"
        f"  SELECT {key}, {segment} AS segment\n"
        f"  FROM (\n"
        f"    SELECT {key},\n" + ",\n".join(sums) + "\n"
        f"    FROM {quote_table(table)}\n"
        f"  ) AS points\n"
        f") AS typed;\n"
    )


def python_function(run: Run, result: dict[str, Any], k: int) -> str:
    names = segment_names(run, result)
    points = {
        item["product"]: (tuple(item["not_bought"]), tuple(item["bought"]))
        for item in result["points"][:k]
    }
    lines = ",\n".join(f"    {product!r}: {pair!r}" for product, pair in points.items())
    return f'''"""Typing tool of run {result["source_run_id"]}: assign a household to its segment
from {k} product answer(s) (1 = bought, 0 = not, None = unknown)."""

SEGMENTS = {tuple(names)!r}
START = {tuple(result["constant"])!r}
# product: (points per segment if not bought, points per segment if bought)
POINTS = {{
{lines},
}}


def assign_segment(answers: dict) -> int:
    """The segment number (1 = {names[0]!r}, …) with the most points; the first on a tie."""
    totals = list(START)
    for product, (not_bought, bought) in POINTS.items():
        answer = answers.get(product)
        if answer is None:
            continue
        if answer not in (0, 1):
            raise ValueError(f"{{product}}: answer 0 or 1, not {{answer!r}}")
        for segment, extra in enumerate(bought if answer == 1 else not_bought):
            totals[segment] += extra
    return 1 + max(range(len(totals)), key=totals.__getitem__)
'''
