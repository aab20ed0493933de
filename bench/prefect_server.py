"""One Prefect API server for a whole bench run.

Without `PREFECT_API_URL`, every `wirelake run` starts Prefect's temporary server,
which costs 10–20 s per run here; that fixed cost would swamp the ratios (the
re-run target is 5% of a first run). So the bench starts one server on loopback,
with its own PREFECT_HOME in the bench's temp dir, points every run at it, and
always stops it. The server is not a child of any run, so its memory stays out of
the runs' peak RSS.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

STARTUP_TIMEOUT_SECONDS = 120.0
HEALTH_POLL_SECONDS = 0.5
HEALTH_REQUEST_TIMEOUT_SECONDS = 2.0
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefect_env(prefect_home: Path, api_url: str | None = None) -> dict[str, str]:
    """The environment for the server and the runs: no telemetry, a private home, quiet logs."""
    env = dict(os.environ)
    env.update({
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    })
    # A warehouse from the caller's shell must not leak into the bench's runs.
    env.pop("WIRELAKE_WAREHOUSE", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    else:
        env.pop("PREFECT_API_URL", None)
    return env


def _healthy(api_url: str) -> bool:
    try:
        # S310: the URL is built in this module from 127.0.0.1 and a port, never from input.
        with urllib.request.urlopen(f"{api_url}/health",  # noqa: S310
                                    timeout=HEALTH_REQUEST_TIMEOUT_SECONDS) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def prefect_server(workdir: Path) -> Iterator[str]:
    """Start `prefect server start` on 127.0.0.1 and a free port; yield its API URL; always stop it."""
    home = workdir / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    log_path = workdir / "prefect-server.log"
    # The scheduler and late-run services poll the database and have nothing to do for one-off
    # runs; the UI is not needed. The services that record task and flow runs stay on.
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
           "--no-ui", "--analytics-off", "--no-scheduler", "--no-late-runs"]
    with open(log_path, "wb") as log:
        # Its own session, so stopping it also stops the uvicorn workers it starts.
        server = subprocess.Popen(cmd,  # noqa: S603 - our own interpreter, fixed arguments
                                  env=prefect_env(home), stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _healthy(api_url):
            if server.poll() is not None:
                raise RuntimeError(f"prefect server exited with code {server.returncode} before it was "
                                   f"healthy; see {log_path}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server on {api_url} not healthy after "
                                   f"{STARTUP_TIMEOUT_SECONDS:.0f} s; see {log_path}:\n{_tail(log_path)}")
            time.sleep(HEALTH_POLL_SECONDS)
        yield api_url
    finally:
        _stop(server)


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
