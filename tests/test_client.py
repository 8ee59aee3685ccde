"""The typed Python client (clients/python, market_structure_client) against the session's
real stack: a whole analysis, a submit whose answer is lost (retried with the same
Idempotency-Key: one run), a progress stream cut mid-run (resumed by Last-Event-ID: every
event once), a 503 retried, the async client, and refusals as the API's sentence."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from market_structure_client import ApiError, AsyncClient, Client, Progress, Retry

from tests.support.data import simulate_lca
from tests.support.runs import read_events

FAST = {"n_classes": 3, "n_init": 2, "replicate": 1, "stability_samples": 0}


class Flaky(httpx.HTTPTransport):
    """The real transport, but the first `POST /runs` reaches the server and its answer is
    lost; the first progress stream is cut after `cut_after` lines; the first GET of a run
    answers 503."""

    def __init__(self, cut_after: int = 12) -> None:
        super().__init__()
        self.lost_submit = self.cut_stream = self.refused_get = False
        self.cut_after = cut_after
        self.submits: list[str] = []
        self.resumed_from: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == "/api/v1/runs":
            self.submits.append(request.headers["Idempotency-Key"])
            if not self.lost_submit:
                self.lost_submit = True
                super().handle_request(request).read()  # the run is created…
                raise httpx.ReadError("connection reset", request=request)  # …the answer lost
        if request.method == "GET" and path.startswith("/api/v1/runs/") and not self.refused_get:
            self.refused_get = True
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"})
        if path.endswith("/stream"):
            self.resumed_from.append(request.headers.get("Last-Event-ID"))
            response = super().handle_request(request)
            if not self.cut_stream:
                self.cut_stream = True
                response.stream = Cut(response.stream, self.cut_after)
            return response
        return super().handle_request(request)


class Cut(httpx.SyncByteStream):
    """A response body that breaks after `lines` lines, as a dropped connection does."""

    def __init__(self, stream: Any, lines: int) -> None:
        self.stream, self.lines = stream, lines

    def __iter__(self) -> Any:
        seen = 0
        for chunk in self.stream:
            yield chunk
            seen += chunk.count(b"\n")
            if seen >= self.lines:
                raise httpx.ReadError("connection dropped")

    def close(self) -> None:
        self.stream.close()


def test_a_whole_analysis_with_the_client(live_stack: str) -> None:
    sim = simulate_lca(n=600, seed=21)
    with Client(live_stack) as api:
        # Given an uploaded dataset
        dataset = api.upload(sim.csv(), filename="households.csv", id_column="household_id")
        assert dataset.n_rows == 600 and set(sim.products) <= set(dataset.binary_columns)
        # When a fit is submitted and waited for
        run = api.submit("lca", FAST, dataset_id=dataset.id, id_column="household_id")
        seen: list[Progress] = []
        run = api.wait(run.id, on_progress=seen.append, timeout=300)
        # Then it completed, its progress came in order, and its outputs read as DataFrames
        assert run.status == "completed", run.error
        assert seen[-1].phase == "completed" and seen[-1].progress == 1.0
        assert [p.progress for p in seen] == sorted(p.progress for p in seen)
        assert len(api.results(run.id)["class_sizes"]) == 3
        members = api.assignments(run.id)
        assert list(members["household_id"]) == list(sim.frame["household_id"])
        tables = api.tables(run.id)
        assert "class_profile" in tables and len(tables["class_profile"]) > 0
        # And the names given to its segments come back and are used in its outputs
        named = api.set_labels(run.id, {"Class 1": "Busy families"})
        assert named.labels == {"Class 1": "Busy families"}
        assert "Busy families" in api.report(run.id)
        archive = zipfile.ZipFile(io.BytesIO(api.export(run.id)))
        assert "labels.json" in archive.namelist()
        assert run.id in [r.id for r in api.runs(status="completed").items]
        # And a refusal is the API's sentence
        with pytest.raises(ApiError) as refused:
            api.submit("lca", {"n_classes": 3}, dataset_id=dataset.id, product_columns=["nope"])
        assert refused.value.status == 422 and "nope" in refused.value.detail
        api.delete(run.id)
        with pytest.raises(ApiError) as gone:
            api.run(run.id)
        assert gone.value.status == 404


def test_a_lost_submit_answer_and_a_cut_stream_cost_nothing(live_stack: str) -> None:
    sim = simulate_lca(n=1500, seed=22)
    transport = Flaky()
    with Client(live_stack, transport=transport, retry=Retry(backoff=0.05)) as api:
        dataset = api.upload(sim.csv())
        name = f"retried {id(transport)}"
        # When the answer to a submit is lost, the client retries with the same key
        run = api.submit("lca", {**FAST, "n_init": 8}, dataset_id=dataset.id, name=name)
        assert len(transport.submits) == 2 and len(set(transport.submits)) == 1
        # Then exactly one run exists for it
        assert [r.id for r in api.runs(limit=50).items if r.name == name] == [run.id]
        # And a 503 is waited out and asked again
        assert api.run(run.id).id == run.id and transport.refused_get
        # And a stream cut mid-run resumes from the last event received: every event once
        streamed = [p.event_id for p in api.stream(run.id)]
        assert transport.resumed_from[0] is None and transport.resumed_from[1] is not None
    everything = [e.id for e in read_events(live_stack, run.id) if e.event == "message"]
    assert streamed == everything


def test_the_async_client_follows_a_run(live_stack: str) -> None:
    sim = simulate_lca(n=500, seed=23)

    async def scenario() -> tuple[list[Progress], str]:
        async with AsyncClient(live_stack) as api:
            dataset = await api.upload(sim.csv())
            run = await api.submit("lca", FAST, dataset_id=dataset.id)
            seen = [p async for p in api.stream(run.id)]
            finished = await api.run(run.id)
            assert len(await api.assignments(run.id)) == 500
            return seen, finished.status

    seen, status = asyncio.run(scenario())
    assert status == "completed" and seen[-1].phase == "completed"
    assert all(p.event_id for p in seen)


def test_the_readme_python_example_runs_as_written(
    live_stack: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the README's client example and a purchases.csv in the working directory
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    after = readme.index("The same from Python with the typed client")
    start = readme.index("```python\n", after) + len("```python\n")
    code = readme[start : readme.index("```", start)]
    (tmp_path / "purchases.csv").write_bytes(simulate_lca(n=400, seed=24).csv())
    monkeypatch.chdir(tmp_path)
    printed: list[str] = []
    # When it runs against the live API
    namespace = {"print": lambda *args: printed.append(" ".join(map(str, args)))}
    exec(compile(code.replace("http://127.0.0.1:8000", live_stack), "README.md", "exec"), namespace)
    # Then it followed the run to its end and wrote the report and the ZIP
    assert printed[-2].startswith("100% ") and len(printed[-1].strip("[]").split(",")) == 4
    assert (tmp_path / "report.html").read_text().startswith("<!")
    assert zipfile.is_zipfile(tmp_path / "run.zip")
