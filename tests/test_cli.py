"""The wirelake console script: help, read-only SQL, output formats, run history."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.records import RawDocument
from flows.run_records import documents_table
from warehouse.store import StagedRun, Warehouse, to_arrow

runner = CliRunner()


@pytest.fixture
def small_warehouse(tmp_path: Path) -> Path:
    wh = Warehouse(tmp_path / "wh")
    wh.init()
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    docs = [RawDocument(doc_id=f"d{i}", source="s", uri=f"/tmp/{i}.txt", fetched_at=now, http_status=None,
                        content_type="text/plain", sha256="0" * 64, bytes=10 + i) for i in range(3)]
    run_row = {"run_id": "r1", "kind": "ingest", "started_at": now, "finished_at": now, "status": "published",
               "config_hash": "abc", "fetched": 3, "rejected": 0, "new": 0, "duplicates": 0}
    con = wh.connect()
    try:
        wh.publish(con, StagedRun(tables={"documents": documents_table(docs, "r1"),
                                          "runs": to_arrow("runs", [run_row])}))
    finally:
        con.close()
    return tmp_path / "wh"


@pytest.mark.unit
@pytest.mark.parametrize("command", [[], ["run"], ["sql"], ["runs"], ["report"], ["serve"], ["reprocess"]])
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    if command == ["run"]:
        assert "Exit codes" in result.output


@pytest.mark.unit
def test_sql_formats(small_warehouse):
    result = runner.invoke(app, ["sql", "SELECT doc_id, bytes FROM documents ORDER BY doc_id",
                                 "--warehouse", str(small_warehouse), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"doc_id": "d0", "bytes": 10}, {"doc_id": "d1", "bytes": 11},
                                         {"doc_id": "d2", "bytes": 12}]
    result = runner.invoke(app, ["sql", "SELECT doc_id FROM documents ORDER BY doc_id",
                                 "--warehouse", str(small_warehouse), "--format", "csv"])
    assert result.stdout.split() == ["doc_id", "d0", "d1", "d2"]


@pytest.mark.unit
@pytest.mark.parametrize("query", [
    "DELETE FROM documents",
    "INSERT INTO documents (doc_id) VALUES ('x')",
    "DROP TABLE documents",
    "SELECT * FROM read_csv('/etc/passwd', sep=':')",
    "ATTACH '/tmp/wirelake-evil.db' AS evil",
    "COPY documents TO '/tmp/wirelake-leak.csv'",
    "SET enable_external_access = true",
])
def test_sql_refuses_writes_and_file_access(small_warehouse, query):
    result = runner.invoke(app, ["sql", query, "--warehouse", str(small_warehouse)])
    assert result.exit_code == 1
    assert "error" in result.output.lower()
    assert not Path("/tmp/wirelake-evil.db").exists() and not Path("/tmp/wirelake-leak.csv").exists()
    check = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM documents", "--warehouse", str(small_warehouse),
                                "--format", "json"])
    assert json.loads(check.stdout) == [{"n": 3}]


@pytest.mark.unit
def test_sql_on_missing_warehouse_names_it(tmp_path):
    result = runner.invoke(app, ["sql", "SELECT 1", "--warehouse", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "nope" in result.output and "wirelake run" in result.output


@pytest.mark.unit
def test_runs_lists_history(small_warehouse):
    result = runner.invoke(app, ["runs", "--warehouse", str(small_warehouse), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["run_id"] for r in rows] == ["r1"] and rows[0]["status"] == "published"


@pytest.mark.unit
def test_run_without_sources_is_an_error(tmp_path):
    result = runner.invoke(app, ["run", "--warehouse", str(tmp_path / "wh")])
    assert result.exit_code == 1
    assert "no sources" in result.output


@pytest.mark.unit
def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "wirelake"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "sql" in proc.stdout


@pytest.mark.unit
def test_report_writes_html_and_prints_its_path(small_warehouse):
    result = runner.invoke(app, ["report", "--warehouse", str(small_warehouse)])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path == small_warehouse.resolve() / "reports" / "index.html"
    html = path.read_text(encoding="utf-8")
    assert "<html" in html.lower() and "r1" in html
