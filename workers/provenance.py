"""Library versions recorded with every run and result."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version


def library_versions(*packages: str) -> dict[str, str]:
    found = {"python": platform.python_version(), "market-structure": _version("market-structure")}
    for package in packages:
        found[package] = _version(package)
    return found


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
