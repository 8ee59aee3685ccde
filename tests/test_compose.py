"""The container deployment files, checked without Docker.

docker-compose.yml must wire the services as docs/deployment.md describes (healthchecks,
start order, one-shot migrations, a scalable worker) and pass only settings that
`backend.settings.Settings` knows, with values it accepts; the Dockerfile must build a
multi-stage, non-root image without compilers in its final stage.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.families import QUICK_QUEUE, SAMPLING_QUEUE
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

SERVICES = ("postgres", "redis", "migrate", "api", "worker", "ui")
# The Dask cluster of the `distributed` profile (DASK_SCHEDULER_ADDRESS).
DASK_SERVICES = ("dask-scheduler", "dask-worker")
# Services whose processes read backend.settings.Settings from their environment.
SETTINGS_SERVICES = ("migrate", "api", "worker", "worker-sampling")
# What a deployment cannot do without, per service.
REQUIRED_ENV = {
    "migrate": {"DATABASE_URL"},
    "api": {"DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "JOB_TIMEOUT_SECONDS", "AUTO_MIGRATE"},
    "worker": {
        "DATABASE_URL",
        "REDIS_URL",
        "REDIS_PREFIX",
        "JOB_TIMEOUT_SECONDS",
        "WORKER_CONCURRENCY",
        "AUTO_MIGRATE",
    },
    "ui": {"API_URL"},
}
REQUIRED_ENV["worker-sampling"] = REQUIRED_ENV["worker"]

# Compilers and their kin, which have no place in the runtime image.
BUILD_TOOLS = re.compile(r"(?<![\w.-])(build-essential|gcc|g\+\+|clang|make|cmake)(?![\w.+-])")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a literal $.
INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# -- helpers ----------------------------------------------------------------------------------


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution, enough for this file: `env` stands for `.env`."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = env.get(name)
        if op in (":-", "-") and (value is None or (op == ":-" and value == "")):
            return arg
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise LookupError(f"{name}: {arg}")
        return value or ""

    return INTERPOLATION.sub(substitute, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, in either of compose's forms, as name -> raw value."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {name: value for name, value in pairs}
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """A service's `depends_on` as dependency -> condition (the short form means started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command") or ""
    return command if isinstance(command, str) else " ".join(command)


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (INSTRUCTION, arguments), grouped by build stage."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, args.strip()))
    return stages


@pytest.fixture(scope="module")
def raw_compose() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(raw_compose: str) -> dict[str, Any]:
    return yaml.safe_load(raw_compose)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


# -- services and their order -----------------------------------------------------------------


def test_every_service_is_defined(services: dict[str, dict[str, Any]]) -> None:
    assert set(SERVICES) <= set(services), f"missing: {set(SERVICES) - set(services)}"


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("postgres", "pg_isready"),
        ("redis", "redis-cli ping"),
        ("api", "/ready"),
        ("ui", "/_stcore/health"),
    ],
)
def test_long_running_services_have_a_healthcheck(
    services: dict[str, dict[str, Any]], name: str, probe: str
) -> None:
    assert "healthcheck" in services[name], f"{name} has no healthcheck"
    assert probe in healthcheck_text(services[name])


def test_app_healthchecks_need_no_curl(services: dict[str, dict[str, Any]]) -> None:
    # python:3.11-slim has no curl or wget: the probes use the interpreter that is there.
    for name in ("api", "ui"):
        text = healthcheck_text(services[name])
        assert "curl" not in text and "wget" not in text
        assert "urllib" in text


@pytest.mark.parametrize("name", ["api", "worker", "worker-sampling"])
def test_app_waits_for_healthy_stores_and_finished_migrations(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    assert depends_on(services[name]) == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "migrate": "service_completed_successfully",
    }


def test_migrations_run_once_per_deploy(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert command_text(migrate).split() == ["market-structure", "migrate"]
    assert str(migrate.get("restart", "no")) == "no", "a one-shot service must not restart"
    assert depends_on(migrate) == {"postgres": "service_healthy"}
    for name in ("api", "worker", "worker-sampling"):
        # The processes that start after `migrate` must not race to migrate again.
        assert environment(services[name])["AUTO_MIGRATE"].lower() == "false"


@pytest.mark.parametrize("name", ["worker", "worker-sampling"])
def test_worker_can_be_scaled(services: dict[str, dict[str, Any]], name: str) -> None:
    worker = services[name]
    assert "container_name" not in worker
    assert not worker.get("ports")
    command = command_text(worker)
    assert "dramatiq workers" in command or "market-structure worker" in command
    assert "WORKER_CONCURRENCY" in command, "worker processes must follow WORKER_CONCURRENCY"


def test_default_workers_serve_every_queue(services: dict[str, dict[str, Any]]) -> None:
    queues = command_text(services["worker"]).split("--queues", 1)[1].split("--", 1)[0]
    assert set(interpolate(queues, {}).split()) == {QUICK_QUEUE, SAMPLING_QUEUE}


def test_sampling_workers_are_opt_in(services: dict[str, dict[str, Any]]) -> None:
    sampling = services["worker-sampling"]
    assert sampling.get("profiles") == ["sampling"]
    queues = command_text(sampling).split("--queues", 1)[1].split("--", 1)[0]
    assert queues.split() == [SAMPLING_QUEUE]


def test_the_distributed_profile_runs_a_dask_scheduler_and_scalable_workers(
    services: dict[str, dict[str, Any]],
) -> None:
    scheduler, worker = (services[name] for name in DASK_SERVICES)
    assert scheduler.get("profiles") == worker.get("profiles") == ["distributed"]
    assert command_text(scheduler).split()[:2] == ["dask", "scheduler"]
    assert "--port 8786" in command_text(scheduler)
    assert "8786" in healthcheck_text(scheduler)
    # Workers find the scheduler by its service name, wait for it, and scale (no fixed name
    # or published port); their memory limit is where spilling to disk starts.
    command = command_text(worker)
    assert "dask worker tcp://dask-scheduler:8786" in command
    assert "--memory-limit" in command and "DASK_WORKER_MEMORY" in command
    assert depends_on(worker) == {"dask-scheduler": "service_healthy"}
    assert "container_name" not in worker and not worker.get("ports")
    # They need no database or Redis, and the Dramatiq workers are told where the cluster is.
    assert not {"DATABASE_URL", "REDIS_URL"} & set(environment(worker))
    assert "DASK_SCHEDULER_ADDRESS" in environment(services["worker"])
    assert interpolate(environment(services["worker"])["DASK_SCHEDULER_ADDRESS"], {}) == ""
    # The image has Dask: a runtime dependency, which the builder's `uv sync --no-dev` installs.
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("dask[distributed]") for d in runtime)


def test_long_running_services_restart(services: dict[str, dict[str, Any]]) -> None:
    # Dramatiq's master exits when one of its processes is killed: something must restart it.
    for name in ("postgres", "redis", "api", "worker", "worker-sampling", "ui"):
        assert services[name].get("restart") in ("always", "unless-stopped", "on-failure")


def test_app_services_share_one_image(services: dict[str, dict[str, Any]]) -> None:
    app = [name for name, service in services.items() if "build" in service]
    assert set(app) == {*SETTINGS_SERVICES, "ui", *DASK_SERVICES}, (
        "a new app service needs its checks here"
    )
    assert len({services[name]["image"] for name in app}) == 1
    for name in app:
        build = services[name]["build"]
        context = build if isinstance(build, str) else build["context"]
        assert (ROOT / context / "Dockerfile").is_file()


# -- environment ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REQUIRED_ENV))
def test_each_service_gets_the_settings_it_needs(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    missing = REQUIRED_ENV[name] - set(environment(services[name]))
    assert not missing, f"{name} lacks {sorted(missing)}"


def test_ui_reaches_the_api_by_its_service_name(services: dict[str, dict[str, Any]]) -> None:
    assert environment(services["ui"])["API_URL"] == "http://api:8000"


def test_ui_gets_no_database_or_redis_credentials(services: dict[str, dict[str, Any]]) -> None:
    # The UI talks to the API over HTTP only; it has no use for the stores' passwords.
    leaked = {"DATABASE_URL", "REDIS_URL", "REDIS_PASSWORD"} & set(environment(services["ui"]))
    assert not leaked


@pytest.mark.parametrize("name", SETTINGS_SERVICES)
def test_every_variable_is_a_setting(services: dict[str, dict[str, Any]], name: str) -> None:
    fields = {field.lower() for field in Settings.model_fields}
    unknown = sorted(var for var in environment(services[name]) if var.lower() not in fields)
    assert not unknown, f"{name}: {unknown} are not fields of backend.settings.Settings (typo?)"


@pytest.mark.parametrize("name", SETTINGS_SERVICES)
def test_values_are_accepted_by_settings(services: dict[str, dict[str, Any]], name: str) -> None:
    dotenv = {"POSTGRES_PASSWORD": "pg-secret", "REDIS_PASSWORD": "redis-secret"}
    values = {
        var.lower(): interpolate(raw, dotenv) for var, raw in environment(services[name]).items()
    }
    settings = Settings(_env_file=None, **values)
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in settings.resolved_database_url
    assert settings.resolved_redis_url == "redis://:redis-secret@redis:6379/0"
    assert settings.environment == "production"


def test_secrets_have_no_defaults(raw_compose: str) -> None:
    # ${X:?message} stops compose with the message when X is missing; ${X:-default} would not.
    secrets = [
        match
        for match in INTERPOLATION.finditer(raw_compose)
        if match.group("name") and match.group("name").endswith("PASSWORD")
    ]
    assert {m.group("name") for m in secrets} >= {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    for match in secrets:
        assert match.group("op") == ":?", f"{match.group(0)} must be required (use :?)"
        assert match.group("name") in match.group("arg"), "the message should name the variable"


def test_missing_secret_stops_compose(services: dict[str, dict[str, Any]]) -> None:
    raw = environment(services["api"])["DATABASE_URL"]
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        interpolate(raw, {"REDIS_PASSWORD": "x"})


def test_stores_keep_their_data_in_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    for name, target in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        mounts = [str(m).split(":") for m in services[name].get("volumes", [])]
        assert any(m[0] in volumes and m[1] == target for m in mounts), name
    assert "--appendonly" in command_text(services["redis"])


def test_every_process_that_reads_datasets_mounts_the_storage_volume(
    compose: dict[str, Any],
) -> None:
    # Datasets' rows and artifacts live under DATA_DIR/storage unless STORAGE_URL is a bucket.
    services = compose["services"]
    assert "storage-data" in (compose.get("volumes") or {})
    for name in ("migrate", "api", "worker", "worker-sampling"):
        assert "storage-data:/app/data/storage" in services[name].get("volumes", []), name
    assert "volumes" not in services["ui"]  # the app knows the backend only by its URL


# -- what the commands refer to exists --------------------------------------------------------


def test_commands_refer_to_code_in_the_repository(services: dict[str, dict[str, Any]]) -> None:
    assert "ui/app.py" in command_text(services["ui"])
    assert (ROOT / "ui" / "app.py").is_file()
    api_command = command_text(services["api"])
    assert "backend.app:create_app" in api_command and "--factory" in api_command
    assert callable(importlib.import_module("backend.app").create_app)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["market-structure"] == "backend.cli:main"


# -- Dockerfile -------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage() -> None:
    assert len(dockerfile_stages()) >= 2


def test_builder_installs_the_locked_runtime_dependencies_with_uv() -> None:
    builder = " ".join(args for _, args in dockerfile_stages()[0])
    assert "pip install" in builder and "uv==" in builder
    assert "uv sync --frozen --no-dev" in builder


def test_final_stage_runs_as_a_non_root_user() -> None:
    users = [args for instruction, args in dockerfile_stages()[-1] if instruction == "USER"]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_final_stage_has_no_build_tools() -> None:
    final = " ".join(f"{instruction} {args}" for instruction, args in dockerfile_stages()[-1])
    found = BUILD_TOOLS.findall(final)
    assert not found, f"final stage installs build tools: {found}"


def test_final_stage_has_the_venv_and_the_source() -> None:
    final = dockerfile_stages()[-1]
    env = " ".join(args for instruction, args in final if instruction == "ENV")
    assert "PATH=/app/.venv/bin:$PATH" in env
    assert "OMP_NUM_THREADS=1" in env
    copies = " ".join(args for instruction, args in final if instruction == "COPY")
    for path in ("/app/.venv", "backend", "workers", "ui", ".streamlit", "pyproject.toml"):
        assert path in copies, f"final stage does not copy {path}"
    exposed = {p for instruction, args in final if instruction == "EXPOSE" for p in args.split()}
    assert {"8000", "8501"} <= exposed
    assert any(instruction == "CMD" and "uvicorn" in args for instruction, args in final)


def test_final_stage_has_the_chromium_that_prints_the_report_as_pdf() -> None:
    # /runs/{id}/report?format=pdf runs CHROMIUM_PATH (default /usr/bin/chromium, Debian's).
    final = " ".join(args for instruction, args in dockerfile_stages()[-1] if instruction == "RUN")
    assert "apt-get install" in final and " chromium " in f"{final} "
    assert Settings.model_fields["chromium_path"].default == "/usr/bin/chromium"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", ".git", "data"} <= patterns


def test_production_override_requires_the_api_token_for_api_and_ui() -> None:
    override = yaml.safe_load((ROOT / "docker-compose.prod.yml").read_text())
    for service in ("api", "ui"):
        token = override["services"][service]["environment"]["API_TOKEN"]
        assert token.startswith("${API_TOKEN:?"), token
    assert "api_token" in Settings.model_fields
