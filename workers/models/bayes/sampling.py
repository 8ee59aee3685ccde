"""NUTS for PyMC models with live progress and cancel: nutpie (default) or PyMC's own sampler.

Progress: compile time is reported first (`phase="loading"`, `details.stage="compiling"`), then
one message per draw for PyMC and a few a second for nutpie (the reporter throttles), each with
chain, draw, total draws, draws per second, divergences so far and warm-up state. Cancel: the
reporter raises `RunCancelled`; PyMC's callback runs in the sampling loop, and nutpie samples in
Rust threads while this thread polls every 0.25 s, so sampling stops within a second.

Compile cache: PyTensor keeps compiled C and Numba code on disk (its `compiledir`, per user,
shared by every worker process of that user); nutpie's compiled models are also kept in memory
per worker process, keyed by the model's structure and shapes, and reused with new data.

Per-household draws (the variables named in `household`: factor scores, random effects) are
what grows with the data; they come back as `HouseholdDraws` (bayes/household_draws.py), the
posterior keeping the global parameters only. Up to NUTS_DRAWS_MEMORY_MB they are kept whole,
as the sampler returns them; past it nutpie writes its trace to a temporary directory (a zarr
store) that is read back a block of draws at a time, and PyMC's sampler hands each draw to the
callback, so memory holds a thinned copy and running moments instead.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from backend.schemas.bayesian import NUTSParams
from backend.settings import get_settings
from workers.models.base import Progress
from workers.models.bayes.household_draws import HouseholdDraws, draws_mb, thinning
from workers.models.progress import Span

log = logging.getLogger(__name__)

# Libraries whose versions a Bayesian result records.
LIBRARIES = ("pymc", "pytensor", "nutpie", "arviz", "numpy", "numba")
POLL_SECONDS = 0.25
COMPILE_CACHE_SIZE = 4
# Draws read back from nutpie's on-disk trace at once, per chain (a multiple of its chunks).
DISK_READ_DRAWS = 256
# Peak memory of a trace kept in memory, in multiples of its per-household draws (warm-up
# included): measured 4× (2,000 households × 2 factors, 2 chains × 1,000 + 1,000 draws: 128 MB
# of draws, the process 512 MB above its size before sampling).
IN_MEMORY_COPIES = 4
HOUSEHOLD_DIM = "household"


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
    # The per-household variables, by name (not in `idata`'s posterior).
    household: dict[str, HouseholdDraws] = field(default_factory=dict)

    def described(self) -> dict[str, Any]:
        """What the run was and how long it took, in SamplingDiagnostics' fields (same names)."""
        run = {name: getattr(self, name) for name in ("sampler", "chains", "draws", "tune")}
        seconds = ("compile_seconds", "sampling_seconds")
        return run | {name: round(getattr(self, name), 3) for name in seconds}


_FROM_PARAMS = {"draws", "tune", "chains", "target_accept", "sampler", "mass_matrix"}


@dataclass
class NUTSSettings:
    draws: int
    tune: int
    chains: int
    target_accept: float
    sampler: str
    seed: int
    # nutpie's mass-matrix adaptation: "low_rank" or "diagonal" (PyMC's sampler: diagonal).
    mass_matrix: str = "low_rank"
    # Further nutpie sampler settings by name (benchmarks try them; fits use the defaults).
    nutpie_options: dict[str, Any] = field(default_factory=dict)
    # Memory the per-household draws may take before they go to disk (NUTS_DRAWS_MEMORY_MB).
    draws_memory_mb: float = 256.0

    @classmethod
    def from_params(cls, params: NUTSParams, seed: int) -> NUTSSettings:
        # The sampler fields of the params carry the same names here.
        taken = params.model_dump(include=_FROM_PARAMS)
        return cls(**taken, seed=seed, draws_memory_mb=get_settings().nuts_draws_memory_mb)

    @property
    def cores(self) -> int:
        """Processes (PyMC) or threads (nutpie) to sample with: one per chain, up to the CPUs."""
        return max(1, min(self.chains, os.cpu_count() or 1))

    def pymc_arguments(self) -> dict[str, Any]:
        """What `pm.sample` is told of these settings (nutpie's: `nutpie_settings`): four of
        them under the same names."""
        same = {name: getattr(self, name) for name in ("draws", "tune", "chains", "target_accept")}
        return same | {"cores": self.cores, "random_seed": self.seed}


@dataclass
class _Job:
    """One call of `sample_nuts`, as both samplers need it."""

    model: pm.Model
    settings: NUTSSettings
    progress: Progress
    span: Span
    var_names: list[str] | None
    plan: HouseholdPlan

    def parts(
        self,
    ) -> tuple[pm.Model, NUTSSettings, Progress, Span, list[str] | None, HouseholdPlan]:
        """The job's fields in order, as the samplers name them."""
        return self.model, self.settings, self.progress, self.span, self.var_names, self.plan

    def outcome(
        self,
        idata: az.InferenceData,
        sampler: str,
        seconds: tuple[float, float],
        extra: dict[str, Any],
        household: dict[str, HouseholdDraws],
    ) -> SamplingOutcome:
        """What sampling gave; `seconds` are those of compiling and of sampling."""
        s = self.settings
        return SamplingOutcome(
            idata, sampler, *seconds, s.chains, s.draws, s.tune, extra, household
        )


# What the first progress event says, by sampler.
COMPILING = {
    "nutpie": "Compiling the model (nutpie, Numba); the first run of a model shape takes longest.",
    "pymc": "Compiling the model (PyTensor C code; cached on disk after the first run).",
}


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
    household: Sequence[str] = (),
) -> SamplingOutcome:
    """Sample `model` with NUTS; `data` names its `pm.Data` containers (reused compiled models
    get the current values); the variables in `household` come back as `HouseholdDraws`, kept
    whole up to the settings' memory budget and thinned past it."""
    plan = HouseholdPlan.of(model, settings, household)
    job = _Job(model, settings, progress, span, var_names, plan)
    if settings.sampler == "nutpie":
        return _sample_nutpie(job, cache_key, data or {})
    return _sample_pymc(job)


@dataclass
class HouseholdPlan:
    """The per-household variables of a model, their dimensions, whether all their draws fit
    the memory budget (then the sampler keeps them in memory), and every how many draws is
    kept otherwise."""

    names: list[str]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, np.ndarray]
    in_memory: bool
    thin: int

    @classmethod
    def of(cls, model: pm.Model, settings: NUTSSettings, names: Sequence[str]) -> HouseholdPlan:
        dims = {n: tuple(model.named_vars_to_dims[n]) for n in names}
        coords = {d: np.asarray(model.coords[d]) for ds in dims.values() for d in ds}
        per_draw = sum(int(np.prod([coords[d].size for d in ds])) for ds in dims.values())
        budget = settings.draws_memory_mb
        # A trace in memory holds the warm-up draws too, and turning it into InferenceData
        # copies it: measured about IN_MEMORY_COPIES times the draws at its peak.
        held = IN_MEMORY_COPIES * draws_mb(
            settings.chains, settings.tune + settings.draws, per_draw
        )
        fits = held <= budget
        thin = 1 if fits else thinning(settings.chains, settings.draws, per_draw, budget)
        return cls(list(names), dims, coords, fits, thin)

    def empty(self, settings: NUTSSettings) -> dict[str, HouseholdDraws]:
        """Accumulators for draws handed over block by block."""
        return {
            n: HouseholdDraws(
                n,
                settings.chains,
                settings.draws,
                self.dims[n],
                self.coords,
                shape=[self.coords[d].size for d in self.dims[n]],
                thin=self.thin,
            )
            for n in self.names
        }

    def take(self, idata: az.InferenceData) -> dict[str, HouseholdDraws]:
        """Move the household variables out of an in-memory posterior (and drop any other
        per-household variable there, e.g. the non-centred offsets behind a random effect)."""
        posterior = idata["posterior"]
        taken = {n: HouseholdDraws.of(posterior[n]) for n in self.names}
        drop = [str(v) for v in posterior.data_vars if HOUSEHOLD_DIM in posterior[v].dims]
        setattr(idata, "posterior", posterior.drop_vars(drop))  # noqa: B010 (dynamic group)
        return taken


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
    compiled: Any,
    nuts: Any,
    cores: int,
    on_progress: Callable[[str], None],
    directory: str | None = None,
) -> Any:
    """nutpie's background sampler with our own progress callback (nutpie only offers its
    terminal/notebook displays through `nutpie.sample`); the trace in memory (Arrow), or in a
    zarr store in `directory`."""
    from nutpie import _lib
    from nutpie.sample import _BackgroundSampler

    class _ReportingSampler(_BackgroundSampler):
        def __init__(self) -> None:
            self._settings = nuts
            self._compiled_model = compiled
            self._save_warmup = False
            self._return_raw_trace = False
            self._html = None
            self._store = (
                _lib.PyStorage.arrow()
                if directory is None
                else _lib.PyStorage.zarr(_lib.store.LocalStore(directory))
            )
            progress_type = _lib.ProgressType.template_callback(
                200, _NUTPIE_TEMPLATE, cores, on_progress
            )
            self._sampler = compiled._make_sampler(
                nuts, np.zeros(compiled.n_dim), cores, progress_type, self._store
            )

    return _ReportingSampler()


def nutpie_settings(settings: NUTSSettings) -> Any:
    """nutpie's sampler settings: the low-rank modified mass matrix (Seyboldt et al., nutpie's
    `low_rank_modified_mass_matrix=True`) or the diagonal one, both adapted from draws and
    gradients, with our draws, warm-up, chains and target acceptance."""
    from nutpie import _lib

    make = (
        _lib.PyNutsSettings.LowRank
        if settings.mass_matrix == "low_rank"
        else _lib.PyNutsSettings.Diag
    )
    nuts = make(settings.seed)
    nuts.num_tune = settings.tune
    nuts.num_draws = settings.draws
    nuts.num_chains = settings.chains
    nuts.target_accept = settings.target_accept
    for name, value in settings.nutpie_options.items():
        setattr(nuts, name, value)
    return nuts


def _sample_nutpie(
    job: _Job, cache_key: Hashable | None, data: dict[str, np.ndarray]
) -> SamplingOutcome:
    import nutpie

    model, settings, progress, span, var_names, plan = job.parts()
    _report_compiling(progress, span, "nutpie", COMPILING["nutpie"])
    started = time.monotonic()
    compiled, reused = COMPILED.get_or_compile(
        cache_key, lambda: nutpie.compile_pymc_model(model, var_names=var_names)
    )
    if reused and data:
        compiled = compiled.with_data(**data)
    compile_seconds = time.monotonic() - started

    nuts = nutpie_settings(settings)

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
    directory = None if plan.in_memory else tempfile.mkdtemp(prefix="ms-nuts-")
    try:
        sampler = _nutpie_sampler(compiled, nuts, settings.cores, on_progress, directory)
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
        sampling_seconds = time.monotonic() - started
        if directory is None:
            idata = sampler.wait()
            household = plan.take(idata)
        else:
            sampler._sampler.take_results()
            idata, household = _read_zarr_trace(directory, settings, plan)
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
    extra = {
        "compiled_model_reused": reused,
        "household_draws_thinned_every": plan.thin,
        "mass_matrix": settings.mass_matrix,
    }
    return job.outcome(idata, "nutpie", (compile_seconds, sampling_seconds), extra, household)


def _read_zarr_trace(
    directory: str, settings: NUTSSettings, plan: HouseholdPlan
) -> tuple[az.InferenceData, dict[str, HouseholdDraws]]:
    """nutpie's trace on disk: the global parameters and the scalar sampler statistics read
    whole, the household variables a block of draws at a time into thinned accumulators."""
    tree = xr.open_datatree(directory, engine="zarr", consolidated=False)
    posterior = tree["posterior"].to_dataset()
    stats = tree["sample_stats"].to_dataset()
    household = plan.empty(settings)
    for name, accumulator in household.items():
        variable = posterior[name]
        for chain in range(settings.chains):
            for start in range(0, settings.draws, DISK_READ_DRAWS):
                block = variable.isel(chain=chain, draw=slice(start, start + DISK_READ_DRAWS))
                accumulator.add(chain, start, block.values)
    globals_ = [str(v) for v in posterior.data_vars if HOUSEHOLD_DIM not in posterior[v].dims]
    scalar_stats = [str(v) for v in stats.data_vars if stats[v].dims == ("chain", "draw")]
    idata = az.InferenceData(
        posterior=posterior[globals_].load(), sample_stats=stats[scalar_stats].load()
    )
    tree.close()
    return idata, household


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


def _sample_pymc(job: _Job) -> SamplingOutcome:
    model, settings, progress, span, var_names, plan = job.parts()
    _report_compiling(progress, span, "pymc", COMPILING["pymc"])
    # Past the memory budget the household variables stay out of PyMC's trace: the callback
    # hands each draw after warm-up to thinned accumulators instead.
    household = {} if plan.in_memory else plan.empty(settings)
    if household:
        stored = var_names or [v.name for v in (*model.free_RVs, *model.deterministics)]
        var_names = [n for n in stored if n not in household]
        # The variables as functions of the sampler's values (not of the random variables,
        # which would draw from the prior).
        graphs = model.replace_rvs_by_values([model[n] for n in household])
        outputs = model.compile_fn(graphs, inputs=model.value_vars, on_unused_input="ignore")
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
        if household and not draw.tuning:
            values = outputs(draw.point)
            for accumulator, value in zip(household.values(), values, strict=True):
                accumulator.add(int(draw.chain), int(draw.draw_idx) - settings.tune, value[None])
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
            **settings.pymc_arguments(),
            progressbar=False,
            compute_convergence_checks=False,
            callback=callback,
            var_names=var_names,
        )
    ended = time.monotonic()
    first = clock["first"] or ended
    if plan.in_memory:
        household = plan.take(idata)
    # Compiling (and starting the chain processes) happens before the first draw arrives.
    extra = {"household_draws_thinned_every": plan.thin, "mass_matrix": "diagonal"}
    return job.outcome(idata, "pymc", (first - started, ended - first), extra, household)
