"""The stored product map (workers/product_map.py) as export tables: cosine similarity of every
pair, each product's closest competitors and a dendrogram-ready tree (SciPy's linkage rows: the
two merged nodes, their distance, the size)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def product_map_tables(product_map: dict[str, Any]) -> dict[str, pd.DataFrame]:
    products = product_map["products"]
    tables: dict[str, pd.DataFrame] = {}
    if product_map.get("similarity") is not None:
        tables["product_similarity"] = (
            pd.DataFrame(product_map["similarity"], index=products, columns=products)
            .rename_axis("product")
            .reset_index()
        )
    tables["closest_competitors"] = pd.DataFrame(
        [
            {
                "product": product,
                "rank": rank + 1,
                "competitor": c["product"],
                "similarity": c["similarity"],
            }
            for product, competitors in product_map["closest_competitors"].items()
            for rank, c in enumerate(competitors)
        ]
    )
    if product_map.get("dendrogram"):
        tree = np.asarray(product_map["dendrogram"], dtype=float)
        tables["dendrogram"] = pd.DataFrame(
            {
                "node": np.arange(len(products), len(products) + len(tree)),
                "left": tree[:, 0].astype(int),
                "right": tree[:, 1].astype(int),
                "distance": tree[:, 2],
                "size": tree[:, 3].astype(int),
            }
        )
        tables["dendrogram_leaves"] = pd.DataFrame(
            {"node": range(len(products)), "product": products}
        )
    return tables
