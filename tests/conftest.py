"""Shared test setup: an isolated Prefect home, one Prefect test harness per session, paths."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Prefect: tests never touch the user's ~/.prefect or send telemetry.
_PREFECT_HOME = tempfile.mkdtemp(prefix="wirelake-prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("WIRELAKE_WAREHOUSE", None)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: this test reads the shared corpora at run time")
    return SHARED


@pytest.fixture(scope="session")
def prefect_harness():
    """A real temporary Prefect API server and database, started once per test session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="module")
def server():
    """A real threaded HTTP server on 127.0.0.1, one per test module."""
    from pytest_httpserver import HTTPServer

    # Threaded: feeds' item pages are fetched concurrently, and a slow response
    # must not hold up other requests.
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.fixture
def http(server) -> Iterator:
    """The module's server with its expectations and request log cleared around each test."""
    server.clear()
    yield server
    server.clear()
