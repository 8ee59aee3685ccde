"""End to end through HTTP with a real Redis, a real database and a real Dramatiq worker."""

from __future__ import annotations

import base64
import io
import threading
import zipfile

import httpx
import numpy as np
import pandas as pd

from tests.support.data import match_classes, simulate_lca
from tests.support.runs import read_events, submit_lca, upload, wait_for


def test_upload_submit_stream_and_recover_known_classes(
    client: httpx.Client, live_stack: str
) -> None:
    # Given data simulated from a known 3-class model
    sim = simulate_lca(n=3000, seed=11)
    dataset = upload(client, sim.csv(), "households.csv").json()
    assert dataset["n_rows"] == 3000
    profile = {c["name"]: c for c in dataset["columns"]}
    assert profile["prod_1"]["is_binary"] and not profile["household_id"]["is_binary"]
    assert abs(profile["prod_1"]["prevalence"] - sim.frame["prod_1"].mean()) < 1e-12

    # When an LCA is submitted and its progress streamed over SSE
    run = submit_lca(client, dataset["id"], n_init=5, id_column="household_id")
    assert run["status"] == "queued"
    assert run["product_columns"] == sim.products  # every 0/1 column but the ID
    events = read_events(live_stack, run["id"])

    # Then the stream carries ids, moves through the phases and closes after completion
    progress = [e for e in events if e.event == "message"]
    assert all(e.id for e in progress)
    phases = [e.data["phase"] for e in progress]
    assert phases[-1] == "completed" and "fitting" in phases
    assert events[-1].event == "close"
    fractions = [e.data["progress"] for e in progress]
    assert fractions == sorted(fractions)
    assert any(e.data.get("iteration") for e in progress)

    finished = client.get(f"/runs/{run['id']}").json()
    assert finished["status"] == "completed"
    assert finished["data_hash"] and finished["library_versions"]["numpy"]
    assert finished["fit_summary"]["bic"] > 0 and finished["duration_seconds"] > 0

    # And the classes of the simulating model are recovered
    result = client.get(f"/runs/{run['id']}/results").json()
    probs = np.asarray(result["item_probabilities"])
    perm = match_classes(probs, sim.probs)
    assert np.abs(np.asarray(result["class_sizes"])[perm] - sim.sizes).max() < 0.03
    assert np.abs(probs[perm] - sim.probs).max() < 0.05
    assert result["npar"] == 2 + 3 * 8
    assert np.isclose(result["bic"], -2 * result["loglik"] + result["npar"] * np.log(3000))

    # And per-household assignments download as CSV and Parquet, keyed by the ID column
    csv = pd.read_csv(io.StringIO(client.get(f"/runs/{run['id']}/assignments").text))
    assert list(csv["household_id"]) == list(sim.frame["household_id"])
    assert np.allclose(csv.filter(like="p_class_").sum(axis=1), 1.0)
    parquet = client.get(f"/runs/{run['id']}/assignments", params={"format": "parquet"})
    assert pd.read_parquet(io.BytesIO(parquet.content)).shape == csv.shape
    agreement = (
        csv["modal_class"].to_numpy() - 1 == np.asarray(perm).argsort()[sim.classes]
    ).mean()
    assert agreement > 0.8


def test_original_request_shape_with_inline_csv(client: httpx.Client) -> None:
    sim = simulate_lca(n=800, seed=3, id_column=None)
    body = {
        "model_type": "lca",
        "name": "inline",
        "description": "sent the way the original backend took it",
        "params": {"n_classes": 3, "max_iter": 100, "n_init": 10},
        "data": {"csv_base64": base64.b64encode(sim.csv()).decode()},
        "product_columns": sim.products,
    }
    response = client.post("/runs", json=body)
    assert response.status_code == 202, response.text
    run = wait_for(client, response.json()["id"])
    assert run["status"] == "completed", run["error"]
    assert run["description"] == body["description"]
    assert run["progress"] == 1.0 and run["progress_message"]
    listed = client.get("/runs", params={"limit": 5}).json()
    assert listed["total"] >= 1 and listed["items"][0]["id"] == run["id"]
    assert (
        client.get("/runs", params={"status": "completed", "model_type": "lca"}).json()["total"]
        >= 1
    )

    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/runs/{run['id']}/export").content))
    assert {"results.json", "run.json", "memberships.csv", "class_profile.csv"} <= set(
        archive.namelist()
    )

    artifacts = client.get(f"/runs/{run['id']}/artifacts").json()
    assert [a["name"] for a in artifacts] == ["assignments"]
    download = client.get(f"/runs/{run['id']}/artifacts/assignments")
    assert download.headers["content-disposition"].endswith('.parquet"')
    assert len(pd.read_parquet(io.BytesIO(download.content))) == 800

    clusters = client.post(
        f"/runs/{run['id']}/clustering", json={"method": "hierarchical", "max_k": 4}
    )
    assert clusters.status_code == 200, clusters.text
    assert set(clusters.json()["labels"]) == set(sim.products)
    assert -1 <= clusters.json()["silhouette_score"] <= 1


def test_sse_resume_with_last_event_id(client: httpx.Client, live_stack: str) -> None:
    sim = simulate_lca(n=2000, seed=5)
    dataset = upload(client, sim.csv()).json()
    run = submit_lca(client, dataset["id"], n_init=20, tol=1e-10)
    first = read_events(live_stack, run["id"], limit=2)
    assert len(first) == 2
    rest = read_events(live_stack, run["id"], last_event_id=first[-1].id)
    everything = read_events(live_stack, run["id"])
    # The reconnecting client gets exactly what it missed: no gap, no repeat
    assert [e.id for e in first] + [e.id for e in rest if e.event == "message"] == [
        e.id for e in everything if e.event == "message"
    ]
    assert rest[-1].event == "close"


def test_concurrent_stream_readers_see_the_same_events(
    client: httpx.Client, live_stack: str
) -> None:
    dataset = upload(client, simulate_lca(n=1500, seed=9).csv()).json()
    run = submit_lca(client, dataset["id"], n_init=10)
    seen: list[list[str | None]] = [[], []]

    def reader(slot: int) -> None:
        seen[slot] = [e.id for e in read_events(live_stack, run["id"]) if e.event == "message"]

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert seen[0] and seen[0] == seen[1]
