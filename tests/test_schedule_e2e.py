"""Schedules that fire, end to end: a real `prefect server start` on a free loopback port, a real
`wirelake serve --interval`, and runs the server's scheduler creates, that complete and publish.

This is what caught sqlalchemy 2.1 (requirements.lock's header): with it the scheduler raised
"Can't evaluate bulk DML statement" every loop and no scheduled run was ever created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.store import Warehouse


SCHEDULE_INTERVAL_SECONDS = 10
# Bounds on every wait: the server's first start is ~17 s on 2 cores, a served run ~15-25 s.
SERVER_START_SECONDS = 150
RUNS_DONE_SECONDS = 240


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process this test started, and its children (its own session), SIGTERM then SIGKILL."""
    import signal

    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for(what: str, check, seconds: float, procs: dict[str, subprocess.Popen], logs: Path):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                pytest.fail(f"{name} exited {proc.returncode} while waiting for {what}:\n"
                            + (logs / f"{name}.log").read_text()[-3000:])
        got = check()
        if got:
            return got
        time.sleep(1)
    tails = "\n".join(f"--- {n}\n" + (logs / f"{n}.log").read_text()[-2000:] for n in procs)
    pytest.fail(f"timed out after {seconds} s waiting for {what}\n{tails}")


@pytest.mark.integration
@pytest.mark.slow
def test_scheduler_creates_runs_that_complete_and_publish(tmp_path, repo_root):
    """A real `prefect server start` and `wirelake serve --interval`: the server's scheduler (not
    this test) creates the runs, the served process runs them, and each leaves its warehouse record."""
    import time

    import httpx

    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": api,
           "PREFECT_UI_API_URL": api, "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_LOGGING_LEVEL": "INFO",
           # The scheduler looks for deployments to schedule every 60 s by default (5 s for ones just
           # updated), the runner polls for due runs every 10 s: both every second here.
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
           "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
           "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    env.pop("WIRELAKE_WAREHOUSE", None)
    bindir = Path(sys.executable).parent
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: dict[str, subprocess.Popen] = {}
    started = time.monotonic()

    def spawn(name: str, argv: list[str]) -> None:
        with open(logs / f"{name}.log", "wb") as log:
            procs[name] = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                                           start_new_session=True)

    def api_post(path: str, body: dict) -> list[dict]:
        response = httpx.post(f"{api}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    try:
        spawn("server", [str(bindir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port),
                         "--no-ui"])

        def healthy() -> bool:
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for("the Prefect server", healthy, SERVER_START_SECONDS, procs, logs)
        server_up = time.monotonic() - started
        spawn("serve", [str(bindir / "wirelake"), "serve", "--interval", str(SCHEDULE_INTERVAL_SECONDS),
                        "--name", "e2e", "--source", str(repo_root / "tests" / "fixtures" / "flow" / "run1"),
                        "--warehouse", str(tmp_path / "wh")])

        def completed_scheduled_runs() -> list[dict]:
            runs = api_post("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
                                                  "deployments": {"name": {"any_": ["e2e"]}}})
            scheduled = [r for r in runs if r["auto_scheduled"]]
            return scheduled if len(scheduled) >= 2 else []

        runs = _wait_for("two completed scheduled runs", completed_scheduled_runs, RUNS_DONE_SECONDS, procs, logs)
        elapsed = time.monotonic() - started
        print(f"schedule e2e: server up in {server_up:.1f} s, two scheduled runs completed after {elapsed:.1f} s")
        # Created by the scheduler: auto_scheduled, and each began in a Scheduled state at its slot.
        assert all(r["auto_scheduled"] and r["deployment_id"] for r in runs)
        assert len({r["expected_start_time"] for r in runs}) == len(runs)
        logged = api_post("/logs/filter", {"logs": {"flow_run_id": {"any_": [runs[0]["id"]]}}})
        messages = [entry["message"] for entry in logged]
        assert any("stage publish finished" in m for m in messages), messages  # the UI's Logs tab has them
    finally:
        for name in ("serve", "server"):
            if name in procs:
                _stop(procs[name])
    with Warehouse(tmp_path / "wh").reader() as con:
        rows = con.execute("SELECT status, snapshot_id FROM runs WHERE kind = 'ingest' ORDER BY started_at").fetchall()
    assert len(rows) >= len(runs), rows
    assert rows[0][0] == "published" and rows[0][1] is not None
    assert all(status in ("published", "no_new_data") for status, _ in rows), rows
