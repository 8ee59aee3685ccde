"""Dramatiq workers: `dramatiq workers` imports this package, which sets up the Redis broker
and registers the actors (workers.actors binds them to workers.broker explicitly)."""

import os

# One fit per worker process; N processes on N cores must not each start N BLAS threads.
# Operators can still raise these in the environment.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from workers.actors import fit_run, sample_run  # noqa: E402
from workers.broker import broker  # noqa: E402

__all__ = ["broker", "fit_run", "sample_run"]
