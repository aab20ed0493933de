"""What an operator expects of the CLI: --version, doctor, `runs` at 80 columns, --config everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from warehouse.store import StagedRun, Warehouse, to_arrow

runner = CliRunner()
EXE = Path(sys.executable).parent / "wirelake"


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "80", **(env or {})})


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A warehouse holding three runs with long messages and sources: published, degraded, not published."""
    wh = Warehouse(tmp_path / "wh")
    wh.init()
    health = [{"source": "harbour-news-wire", "status": "ok", "items": 4, "unchanged": 0, "fetch_rejects": 0},
              {"source": "dead-feed-of-a-long-name", "status": "failed", "items": 0, "unchanged": 0,
               "fetch_rejects": 1, "error": "connection refused"}]
    rows = []
    for i, status in enumerate(("published", "degraded", "not_published")):
        at = datetime(2026, 12, 5, 9 + i, 30, tzinfo=UTC)
        rows.append({"run_id": f"20261205T0{9 + i}3000-{i}bcdef12"[-24:], "kind": "ingest", "started_at": at,
                     "finished_at": at, "status": status, "config_hash": "abc", "fetched": 12345, "rejected": 3,
                     "new": 1234, "duplicates": 7, "snapshot_id": 10 + i, "source_health": json.dumps(health),
                     "message": "critical expectations failed: " + "x" * 200, "stage_counts": "{}"})
    con = wh.connect()
    try:
        wh.publish(con, StagedRun(tables={"runs": to_arrow("runs", rows)}))
    finally:
        con.close()
    return tmp_path / "wh"


@pytest.mark.unit
def test_version():
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == "wirelake 0.1.0"


@pytest.mark.unit
def test_runs_fits_80_columns_and_shows_snapshot_and_health(history):
    proc = _cli("runs", "--warehouse", str(history))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, proc.stdout
    body = "\n".join(lines)
    for cell in ("0bcdef12", "degraded", "not_published", "12-05 11:30", "1234", " 12", "dead-feed-of-a-long-name"):
        assert cell in body, (cell, body)
    assert "…" not in body  # nothing is cut: long cells wrap instead
    data = json.loads(_cli("runs", "--warehouse", str(history), "--format", "json").stdout)
    assert [r["snapshot_id"] for r in data] == [12, 11, 10]
    assert json.loads(data[0]["source_health"])[1]["status"] == "failed"


@pytest.mark.unit
def test_every_reading_command_takes_config(history, tmp_path):
    config = tmp_path / "wirelake.toml"
    config.write_text(f'warehouse = "{history}"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["runs", "--format", "json"], ["sql", "SELECT count(*) AS n FROM runs", "--format", "json"]):
        by_flag = runner.invoke(app, [*args, "--config", str(config)])
        assert by_flag.exit_code == 0, by_flag.output
        by_env = _cli(*args, env={"WIRELAKE_CONFIG": str(config)})
        assert by_env.returncode == 0, by_env.stderr
        assert json.loads(by_flag.stdout) == json.loads(by_env.stdout) and json.loads(by_env.stdout)
    report = runner.invoke(app, ["report", "--config", str(config), "--output", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert "dead-feed-of-a-long-name" in (tmp_path / "r.html").read_text() or "degraded" in (tmp_path / "r.html").read_text()
    missing = runner.invoke(app, ["runs", "--config", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 1 and "nope.toml" in missing.output


@pytest.mark.integration
def test_doctor_passes_here_and_fails_on_an_unreachable_prefect_api(history, tmp_path):
    ok = _cli("doctor", "--warehouse", str(history), env={"PREFECT_HOME": str(tmp_path / "ph")}, timeout=180)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    names = [line.split()[1] for line in ok.stdout.splitlines() if line.strip()]
    assert names == ["python", "pins", "duckdb", "catalog", "model", "prefect", "disk"]
    assert "3 runs, snapshot" in ok.stdout
    bad = _cli("doctor", "--warehouse", str(history), timeout=180,
               env={"PREFECT_HOME": str(tmp_path / "ph"), "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert bad.returncode == 1
    failing = [line for line in bad.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "prefect" in failing[0] and "127.0.0.1:9" in failing[0], bad.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_quiet_run_on_dask_prints_no_log_lines(tmp_path):
    """--quiet leaves the console to the summary: no Prefect log lines and no Dask chatter (without
    it, the LocalCluster's nanny warns on shutdown)."""
    run1 = Path(__file__).parent / "fixtures" / "flow" / "run1"
    proc = _cli("run", "--quiet", "--task-runner", "dask", "--source", str(run1), "--warehouse",
                str(tmp_path / "wh"), env={"PREFECT_HOME": str(tmp_path / "ph")}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "published" in proc.stdout
    noisy = [line for line in proc.stderr.splitlines() if line.strip()]
    assert noisy == [], noisy
