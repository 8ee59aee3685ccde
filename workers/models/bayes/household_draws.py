"""Per-household draws (factor scores, random intercepts, latent scores) held within a memory
budget.

A NUTS trace holds chains × draws × households × terms float64 values: 8,403 households with
2 factors, 4 chains × 5,000 draws is 2.7 GB before anything is computed from it, and its
summaries used to make several copies more. Up to the budget (NUTS_DRAWS_MEMORY_MB) the draws
stay in memory as the sampler returns them; past it the sampler writes them to disk (nutpie)
or hands them over draw by draw (PyMC's sampler), and a `HouseholdDraws` keeps

- every `thin`-th draw (float64, at most the budget): the 94% intervals, R-hat, the posterior
  predictive check and the NetCDF artifact are computed from these;
- per chain, the running mean and sum of squared deviations over *every* draw (Chan et al.'s
  pairwise update), so posterior means and sds are those of all draws.

Summaries are computed a block of households at a time, so they need no copy of the whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from workers.models.bayes import summary as bs

MB = 1024 * 1024
# Households × terms × kept draws summarised at once (16 MB of float64).
SUMMARY_BLOCK_VALUES = 2_000_000


# Kept draws per chain, whatever the budget: enough for 94% intervals and R-hat.
MIN_KEPT_DRAWS = 100


def draws_mb(chains: int, draws: int, values_per_draw: int) -> float:
    """Memory of every draw as float64."""
    return chains * draws * values_per_draw * 8 / MB


def thinning(chains: int, draws: int, values_per_draw: int, budget_mb: float) -> int:
    """Keep every `thinning`-th draw so the kept draws fit the budget (1: all of them), but at
    least MIN_KEPT_DRAWS per chain."""
    thin = max(1, math.ceil(draws_mb(chains, draws, values_per_draw) / budget_mb))
    return max(1, min(thin, draws // MIN_KEPT_DRAWS))


class HouseholdDraws:
    """Draws of one per-household variable: (chain, draw, household, *terms), every `thin`-th
    of them kept."""

    def __init__(
        self,
        name: str,
        chains: int,
        draws: int,
        dims: Sequence[str],
        coords: Mapping[str, np.ndarray],
        *,
        shape: Sequence[int] | None = None,
        thin: int = 1,
        kept: np.ndarray | None = None,
    ) -> None:
        self.name, self.chains, self.draws, self.thin = name, chains, draws, thin
        self.dims = tuple(dims)
        self.coords = {d: np.asarray(coords[d]) for d in self.dims if d in coords}
        if kept is not None:  # every draw, as the sampler returned them
            self.kept = kept
            self.shape = tuple(kept.shape[2:])
            self._seen = np.full(chains, draws, dtype=np.int64)
        else:
            assert shape is not None
            self.shape = tuple(shape)
            self.kept = np.empty((chains, math.ceil(draws / thin), *self.shape))
            self._seen = np.zeros(chains, dtype=np.int64)
        self._mean = np.zeros((chains, *self.shape)) if thin > 1 else np.empty(0)
        self._m2 = np.zeros((chains, *self.shape)) if thin > 1 else np.empty(0)

    @classmethod
    def of(cls, variable: xr.DataArray) -> HouseholdDraws:
        """Every draw of a variable the sampler returned in memory (no copy, no thinning)."""
        values = np.asarray(variable.values, dtype=np.float64)
        dims = [str(d) for d in variable.dims[2:]]
        coords = {d: variable[d].values for d in dims if d in variable.coords}
        chains, draws = (int(x) for x in values.shape[:2])
        return cls(str(variable.name), chains, draws, dims, coords, kept=values)

    @property
    def complete(self) -> bool:
        """Whether every draw is kept (then the moments are those of `kept`)."""
        return self.thin == 1

    @property
    def kept_draws(self) -> int:
        return int(self.kept.shape[1])

    def add(self, chain: int, start: int, block: np.ndarray) -> None:
        """Draws start … start + len(block) − 1 of `chain` (in order, after warm-up)."""
        block = np.asarray(block, dtype=np.float64)
        m = block.shape[0]
        if not self.complete:
            n = int(self._seen[chain])
            block_mean = block.mean(axis=0)
            delta = block_mean - self._mean[chain]
            total = n + m
            self._mean[chain] += delta * (m / total)
            self._m2[chain] += ((block - block_mean) ** 2).sum(axis=0) + delta**2 * (n * m / total)
        self._seen[chain] += m
        index = np.arange(start, start + m)
        take = index % self.thin == 0
        self.kept[chain, index[take] // self.thin] = block[take]

    def flip(self, chain: int, term: int) -> None:
        """Change the sign of one term (a factor) in one chain: sign alignment of chains."""
        self.kept[chain, ..., term] *= -1
        if not self.complete:
            self._mean[chain, ..., term] *= -1

    def rotate(self, rotations: np.ndarray) -> None:
        """Rotate the terms of every kept draw by its own matrix (rotations: chain × draw ×
        K × K, one per draw, kept or not). Past the budget the running moments of every draw
        cannot follow per-draw rotations; they are replaced by those of the kept draws."""
        index = np.arange(self.kept_draws) * self.thin
        self.kept[...] = np.einsum("cd...k,cdkl->cd...l", self.kept, rotations[:, index])
        if not self.complete:
            self._seen[:] = self.kept_draws
            self._mean = self.kept.mean(axis=1)
            self._m2 = ((self.kept - self._mean[:, None]) ** 2).sum(axis=1)

    def mean_sd(self) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and sd over every draw of every chain."""
        if self.complete:
            return self._blockwise(lambda x: x.mean(axis=(0, 1))), self._blockwise(
                lambda x: x.std(axis=(0, 1), ddof=1)
            )
        seen = self._seen.reshape(-1, *([1] * len(self.shape))).astype(np.float64)
        total = float(self._seen.sum())
        mean = (seen * self._mean).sum(axis=0) / total
        m2 = self._m2.sum(axis=0) + (seen * (self._mean - mean) ** 2).sum(axis=0)
        return mean, np.sqrt(m2 / max(total - 1, 1))

    def summary(self, diagnostics: bool = True) -> bs.Summary:
        """Mean and sd (every draw), 94% HDI and, with `diagnostics`, R-hat (kept draws)."""
        mean, sd = self.mean_sd()
        hdi = self._blockwise(_hdi, trailing=(2,))
        r_hat = None
        if diagnostics and self.chains >= 2 and self.kept_draws >= 4:
            r_hat = self._blockwise(bs.summarise_rhat)
        return bs.Summary(mean, sd, hdi[..., 0], hdi[..., 1], r_hat, None, None)

    def draw(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """`size` kept draws picked at random: (size, households, *terms)."""
        flat = self.kept.reshape(-1, *self.shape)
        return flat[rng.integers(0, flat.shape[0], size=size)]

    def _blockwise(
        self, stat: Callable[[np.ndarray], np.ndarray], trailing: tuple[int, ...] = ()
    ) -> np.ndarray:
        """`stat` of the kept draws, households a block at a time: (households, *terms, ...)."""
        n = self.shape[0]
        per_household = max(1, self.chains * self.kept_draws * int(np.prod(self.shape[1:])))
        step = max(1, SUMMARY_BLOCK_VALUES // per_household)
        out = np.empty((*self.shape, *trailing))
        for start in range(0, n, step):
            out[start : start + step] = stat(self.kept[:, :, start : start + step])
        return out


def _hdi(draws: np.ndarray) -> np.ndarray:
    summary = bs.summarise(draws, diagnostics=False)
    return np.stack([summary.hdi_low, summary.hdi_high], axis=-1)


def attach(
    idata: object,
    household: dict[str, HouseholdDraws],
    limit: int = bs.HOUSEHOLD_VALUES_LIMIT,
) -> None:
    """Put the per-household draws back beside the global parameters for the NetCDF artifact:
    in `posterior` (float64) when every draw is kept and each has at most `limit` values, else
    in a `household_draws` group, thinned to at most `limit` values each and stored as float32
    (`thinned_every` in its attrs: one kept draw per that many)."""
    if not household:
        return
    every = all(h.complete for h in household.values())
    if every and max(h.kept.size for h in household.values()) <= limit:
        posterior = idata["posterior"]  # type: ignore[index]
        for h in household.values():
            posterior[h.name] = xr.DataArray(
                h.kept, dims=("chain", "draw", *h.dims), coords=h.coords
            )
        return
    step = max(1, math.ceil(max(h.kept.size for h in household.values()) / limit))
    thin = max(h.thin for h in household.values())
    group = xr.Dataset(
        {
            h.name: xr.DataArray(
                h.kept[:, ::step].astype(np.float32),
                dims=("chain", "thinned_draw", *h.dims),
                coords=h.coords,
            )
            for h in household.values()
        }
    )
    group.attrs["thinned_every"] = thin * step
    idata.add_groups({"household_draws": group})  # type: ignore[attr-defined]
