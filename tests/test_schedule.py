"""Scheduling: the served deployment carries the cron schedule and runs one at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.config import WirelakeConfig
from flows.records import Source


def _wirelake(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "wirelake"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.unit
def test_serve_refuses_without_an_api_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    proc = _wirelake("serve", "--source", str(tmp_path), env=env)
    assert proc.returncode == 1
    assert "prefect server start" in proc.stderr and "PREFECT_API_URL" in proc.stderr


@pytest.mark.unit
def test_serve_refuses_a_bad_cron(tmp_path):
    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api", "PREFECT_HOME": str(tmp_path / "ph")}
    proc = _wirelake("serve", "--cron", "every tuesday", "--source", str(tmp_path), env=env)
    assert proc.returncode == 1
    assert "every tuesday" in proc.stderr


@pytest.mark.integration
def test_deployment_carries_cron_schedule_and_a_limit_of_one(tmp_path, prefect_harness):
    from prefect.client.orchestration import get_client

    from flows.ingest import ingest_deployment

    deployment = ingest_deployment(WirelakeConfig(warehouse=tmp_path / "wh"),
                                   [Source("local", str(tmp_path), "local")], cron="*/15 * * * *",
                                   name="test-schedule")
    deployment_id = deployment.apply()
    with get_client(sync_client=True) as client:
        stored = client.read_deployment(deployment_id)
    crons = [s.schedule.cron for s in stored.schedules]
    assert crons == ["*/15 * * * *"]
    assert stored.global_concurrency_limit is not None and stored.global_concurrency_limit.limit == 1
    assert stored.parameters["sources"][0]["location"] == str(tmp_path)
    assert Path(stored.parameters["config"]["warehouse"]) == tmp_path / "wh"

