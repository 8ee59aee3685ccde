"""NUTS for PyMC models with live progress and cancel: nutpie (default) or PyMC's own sampler.

Progress: compile time is reported first (`phase="loading"`, `details.stage="compiling"`), then
one message per draw for PyMC and a few a second for nutpie (the reporter throttles), each with
chain, draw, total draws, draws per second, divergences so far and warm-up state. Cancel: the
reporter raises `RunCancelled`; PyMC's callback runs in the sampling loop, and nutpie samples in
Rust threads while this thread polls every 0.25 s, so sampling stops within a second.

Compile cache: PyTensor keeps compiled C and Numba code on disk (its `compiledir`, per user,
shared by every worker process of that user); nutpie's compiled models are also kept in memory
per worker process, keyed by the model's structure and shapes, and reused with new data.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pymc as pm

from backend.schemas.bayesian import NUTSParams
from workers.models.base import Progress
from workers.models.progress import Span

log = logging.getLogger(__name__)

# Libraries whose versions a Bayesian result records.
LIBRARIES = ("pymc", "pytensor", "nutpie", "arviz", "numpy", "numba")
POLL_SECONDS = 0.25
COMPILE_CACHE_SIZE = 4


@dataclass
class SamplingOutcome:
    idata: az.InferenceData
    sampler: str
    compile_seconds: float
    sampling_seconds: float
    chains: int
    draws: int
    tune: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class NUTSSettings:
    draws: int
    tune: int
    chains: int
    target_accept: float
    sampler: str
    seed: int

    @classmethod
    def from_params(cls, params: NUTSParams, seed: int) -> NUTSSettings:
        return cls(
            draws=params.draws,
            tune=params.tune,
            chains=params.chains,
            target_accept=params.target_accept,
            sampler=params.sampler,
            seed=seed,
        )

    @property
    def cores(self) -> int:
        """Processes (PyMC) or threads (nutpie) to sample with: one per chain, up to the CPUs."""
        return max(1, min(self.chains, os.cpu_count() or 1))

    def outcome(
        self,
        idata: az.InferenceData,
        sampler: str,
        compile_seconds: float,
        sampling_seconds: float,
        extra: dict[str, Any] | None = None,
    ) -> SamplingOutcome:
        """What sampling with these settings gave."""
        return SamplingOutcome(
            idata=idata,
            sampler=sampler,
            compile_seconds=compile_seconds,
            sampling_seconds=sampling_seconds,
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            extra=extra or {},
        )


def _report_compiling(progress: Progress, span: Span, sampler: str, message: str) -> None:
    """The first event of sampling, before compiling the model (which may take a while)."""
    progress(
        span.start,
        message,
        phase="loading",
        force=True,
        details={"stage": "compiling", "sampler": sampler},
    )


def sample_nuts(
    model: pm.Model,
    settings: NUTSSettings,
    progress: Progress,
    *,
    span: Span,
    cache_key: Hashable | None = None,
    data: dict[str, np.ndarray] | None = None,
    var_names: list[str] | None = None,
) -> SamplingOutcome:
    """Sample `model` with NUTS; `data` names its `pm.Data` containers (reused compiled models
    get the current values)."""
    if settings.sampler == "nutpie":
        return _sample_nutpie(model, settings, progress, span, cache_key, data or {}, var_names)
    return _sample_pymc(model, settings, progress, span, var_names)


# ---------------------------------------------------------------------------------------------
# nutpie


class _CompiledModels:
    """A small per-process LRU of nutpie compiled models (compiling costs seconds)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compile(self, key: Hashable | None, build: Callable[[], Any]) -> tuple[Any, bool]:
        if key is None:
            return build(), False
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key], True
        compiled = build()
        with self._lock:
            self._items[key] = compiled
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return compiled, False

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


COMPILED = _CompiledModels(COMPILE_CACHE_SIZE)

# nutpie renders this template with its progress state and hands us the text: JSON.
_NUTPIE_TEMPLATE = (
    '{"total": {{ total_draws }}, "done": {{ total_finished_draws }}, "chains": ['
    "{% for chain in chains %}"
    '{"done": {{ chain.finished_draws }}, "total": {{ chain.total_draws }}, '
    '"divergences": {{ chain.divergences }}, "tuning": "{{ chain.tuning }}", '
    '"step_size": "{{ chain.step_size }}"},'
    "{% endfor %}null]}"
)


def _nutpie_sampler(
    compiled: Any, nuts: Any, cores: int, on_progress: Callable[[str], None]
) -> Any:
    """nutpie's background sampler with our own progress callback (nutpie only offers its
    terminal/notebook displays through `nutpie.sample`)."""
    from nutpie import _lib
    from nutpie.sample import _BackgroundSampler

    class _ReportingSampler(_BackgroundSampler):
        def __init__(self) -> None:
            self._settings = nuts
            self._compiled_model = compiled
            self._save_warmup = False
            self._return_raw_trace = False
            self._html = None
            self._store = _lib.PyStorage.arrow()
            progress_type = _lib.ProgressType.template_callback(
                200, _NUTPIE_TEMPLATE, cores, on_progress
            )
            self._sampler = compiled._make_sampler(
                nuts, np.zeros(compiled.n_dim), cores, progress_type, self._store
            )

    return _ReportingSampler()


def _sample_nutpie(
    model: pm.Model,
    settings: NUTSSettings,
    progress: Progress,
    span: Span,
    cache_key: Hashable | None,
    data: dict[str, np.ndarray],
    var_names: list[str] | None,
) -> SamplingOutcome:
    import nutpie
    from nutpie import _lib

    _report_compiling(
        progress,
        span,
        "nutpie",
        "Compiling the model (nutpie, Numba); the first run of a model shape takes longest.",
    )
    started = time.monotonic()
    compiled, reused = COMPILED.get_or_compile(
        cache_key, lambda: nutpie.compile_pymc_model(model, var_names=var_names)
    )
    if reused and data:
        compiled = compiled.with_data(**data)
    compile_seconds = time.monotonic() - started

    nuts = _lib.PyNutsSettings.Diag(settings.seed)
    nuts.num_tune = settings.tune
    nuts.num_draws = settings.draws
    nuts.num_chains = settings.chains
    nuts.target_accept = settings.target_accept

    latest: dict[str, str | None] = {"text": None}

    def on_progress(text: str) -> None:  # called from a nutpie thread
        latest["text"] = text

    total = settings.chains * (settings.tune + settings.draws)
    progress(
        span.at(0.0),
        f"Compiled in {compile_seconds:.1f} s{' (cached)' if reused else ''}; sampling "
        f"{settings.chains} chains of {settings.tune} warm-up + {settings.draws} draws.",
        phase="sampling",
        force=True,
        draw=0,
        total_draws=total,
        details={"stage": "sampling", "sampler": "nutpie", "compile_seconds": compile_seconds},
    )
    started = time.monotonic()
    sampler = _nutpie_sampler(compiled, nuts, settings.cores, on_progress)
    try:
        while True:
            try:
                sampler._sampler.wait(POLL_SECONDS)
                break
            except TimeoutError:
                _report_nutpie(latest["text"], progress, span, started, total)
    except BaseException:
        sampler.cancel()
        raise
    idata = sampler.wait()
    sampling_seconds = time.monotonic() - started
    return settings.outcome(
        idata, "nutpie", compile_seconds, sampling_seconds, {"compiled_model_reused": reused}
    )


def _report_nutpie(
    text: str | None, progress: Progress, span: Span, started: float, total: int
) -> None:
    elapsed = time.monotonic() - started
    if text is None:
        progress(span.at(0.0), "Sampling started.", phase="sampling", draw=0, total_draws=total)
        return
    try:
        state = json.loads(text)
    except ValueError:
        log.debug("unreadable nutpie progress: %s", text)
        return
    chains = [c for c in state["chains"] if c]
    done = int(state["done"])
    divergences = sum(int(c["divergences"]) for c in chains)
    tuning = any(c["tuning"] == "true" for c in chains)
    slowest = min(range(len(chains)), key=lambda i: chains[i]["done"]) if chains else 0
    rate = done / elapsed if elapsed > 0 else None
    _publish(
        progress,
        span,
        done=done,
        total=total,
        rate=rate,
        divergences=divergences,
        tuning=tuning,
        chain=slowest,
        chain_draw=int(chains[slowest]["done"]) if chains else 0,
        per_chain=[
            {
                "chain": i,
                "draw": int(c["done"]),
                "total": int(c["total"]),
                "divergences": int(c["divergences"]),
                "tuning": c["tuning"] == "true",
                "step_size": c["step_size"],
            }
            for i, c in enumerate(chains)
        ],
        sampler="nutpie",
    )


def _publish(
    progress: Progress,
    span: Span,
    *,
    done: int,
    total: int,
    rate: float | None,
    divergences: int,
    tuning: bool,
    chain: int,
    chain_draw: int,
    per_chain: list[dict[str, Any]],
    sampler: str,
) -> None:
    stage = "warming up" if tuning else "sampling"
    speed = f", {rate:,.0f} draws/s" if rate else ""
    message = (
        f"NUTS ({sampler}) {stage}: {done:,} of {total:,} draws over {len(per_chain)} chains"
        f"{speed}, {divergences} divergence{'s' if divergences != 1 else ''}."
    )
    progress(
        span.at(done / total if total else 0.0),
        message,
        phase="sampling",
        chain=chain,
        draw=chain_draw,
        total_draws=total,
        samples_per_second=round(rate, 2) if rate else None,
        divergences=divergences,
        details={
            "stage": "warmup" if tuning else "sampling",
            "draws_done": done,
            "chains": per_chain,
            "sampler": sampler,
        },
    )


# ---------------------------------------------------------------------------------------------
# PyMC's NUTS


def _sample_pymc(
    model: pm.Model,
    settings: NUTSSettings,
    progress: Progress,
    span: Span,
    var_names: list[str] | None,
) -> SamplingOutcome:
    _report_compiling(
        progress,
        span,
        "pymc",
        "Compiling the model (PyTensor C code; cached on disk after the first run).",
    )
    total = settings.chains * (settings.tune + settings.draws)
    per_chain = [
        {
            "chain": c,
            "draw": 0,
            "total": settings.tune + settings.draws,
            "divergences": 0,
            "tuning": True,
        }
        for c in range(settings.chains)
    ]
    clock: dict[str, float] = {"start": time.monotonic(), "first": 0.0}
    counts = {"done": 0, "divergences": 0}

    def callback(trace: Any, draw: Any) -> None:
        now = time.monotonic()
        if counts["done"] == 0:
            clock["first"] = now
        counts["done"] += 1
        chain = per_chain[draw.chain]
        chain["draw"] = int(draw.draw_idx) + 1
        chain["tuning"] = bool(draw.tuning)
        stats = draw.stats[0] if isinstance(draw.stats, list) and draw.stats else draw.stats
        if not draw.tuning and isinstance(stats, dict) and stats.get("diverging"):
            chain["divergences"] += 1
            counts["divergences"] += 1
        elapsed = now - clock["first"]
        rate = counts["done"] / elapsed if elapsed > 0.05 else None
        _publish(
            progress,
            span,
            done=counts["done"],
            total=total,
            rate=rate,
            divergences=counts["divergences"],
            tuning=bool(draw.tuning),
            chain=int(draw.chain),
            chain_draw=chain["draw"],
            per_chain=per_chain,
            sampler="pymc",
        )

    started = time.monotonic()
    with model:
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.cores,
            target_accept=settings.target_accept,
            random_seed=settings.seed,
            progressbar=False,
            compute_convergence_checks=False,
            callback=callback,
            var_names=var_names,
        )
    ended = time.monotonic()
    first = clock["first"] or ended
    # Compiling (and starting the chain processes) happens before the first draw arrives.
    return settings.outcome(idata, "pymc", first - started, ended - first)
