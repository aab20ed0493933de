"""The HTML run dashboard, built from a real in-memory DuckDB made from the DDL files."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from flows.config import ValidateConfig
from flows.report import build_report
from flows.stages.validate import validate_tables

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO / "warehouse" / "schema"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "validate"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def warehouse_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for ddl in sorted(SCHEMA_DIR.glob("*.sql")):
        con.execute(ddl.read_text(encoding="utf-8"))
    return con


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    assert (SCHEMA_DIR / f"{table}.sql").exists(), table  # table names only from the DDL files
    columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
    if rows:
        con.executemany(
            f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})",
            [[row.get(c) for c in columns] for row in rows],
        )


def load_fixture(con: duckdb.DuckDBPyConnection) -> dict:
    batch = json.loads((FIXTURES / "clean_batch.json").read_text(encoding="utf-8"))
    for table, rows in batch["tables"].items():
        insert(con, table, rows)
    return batch


def run_rows(count: int) -> list[dict]:
    start = dt.datetime(2025, 3, 1, 6, 0, tzinfo=dt.UTC)
    rows = []
    for n in range(count):
        fetched = 10 + 3 * n
        counts = {
            "fetch": {"in": fetched, "out": fetched, "rejected": 0, "seconds": 1.5},
            "clean": {"in": fetched, "out": fetched - 2, "rejected": 2, "seconds": 0.4},
            "dedup": {"in": fetched - 2, "out": fetched - 2, "rejected": 0, "seconds": 0.2},
            "extract": {"in": fetched - 2, "out": fetched - 2, "rejected": 0, "seconds": 4.1},
            "stage": {"in": 900 + n, "out": 880 + n, "rejected": 0, "seconds": 0.3},
            "validate": {"in": 880 + n, "out": 124, "rejected": 0, "seconds": 2.0},
            "publish": {"in": 880 + n, "out": 880 + n, "rejected": 0, "seconds": 0.2},
        }
        rows.append({
            "run_id": f"run-{n:03d}", "kind": "ingest", "started_at": start + dt.timedelta(hours=n),
            "finished_at": start + dt.timedelta(hours=n, seconds=40), "config_hash": "c0ffee",
            "status": "published" if n != 1 else "not_published", "fetched": fetched, "rejected": 2,
            "new": fetched - 4, "duplicates": 2, "stage_counts": json.dumps(counts),
            "message": "critical expectation failed" if n == 1 else None,
        })
    return rows


def result_rows(run_ids: list[str], failing: dict[str, set[str]]) -> list[dict]:
    """Three expectations per suite per run; `failing` names run → suites with one failure."""
    rows = []
    for n, run_id in enumerate(run_ids):
        at = dt.datetime(2025, 3, 1, 6, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n)
        for suite in ("articles", "events", "entity_mentions"):
            for k in range(3):
                success = not (k == 0 and suite in failing.get(run_id, set()))
                rows.append({
                    "run_id": run_id, "suite": suite, "expectation": f"expect_check_{k}(col)",
                    "severity": "critical" if k == 0 else "warning", "success": success,
                    "unexpected_count": 0 if success else 3,
                    "unexpected_sample": json.dumps([] if success else ["bad-1", "bad-2", "<b>x</b>"]),
                    "observed_value": "null", "validated_at": at,
                })
    return rows


@pytest.mark.unit
def test_report_shows_runs_stages_entities_events_and_pass_rates(tmp_path):
    con = warehouse_con()
    load_fixture(con)
    runs = run_rows(4)
    insert(con, "runs", runs)
    insert(con, "validation_results", result_rows([r["run_id"] for r in runs], {"run-001": {"events"}}))
    insert(con, "entities", [{"entity_id": "evil", "name": "<script>alert(1)</script>", "type": "ORG"}])
    article_id = con.execute("SELECT min(article_id) FROM articles").fetchone()[0]
    insert(con, "entity_mentions", [{"article_id": article_id, "entity_id": "evil", "mention": "evil",
                                     "label": "ORG", "sentence_index": 0, "start_char": 0, "end_char": 4}])

    out = build_report(con, tmp_path / "report.html", None)
    page = out.read_text(encoding="utf-8")

    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page.split("<main>")[0]  # no CDN in the head
    for run in runs:
        assert run["run_id"] in page
    # Pass-rate chart: one point per suite per run; run-001's events point is 2 of 3.
    point = r'<circle class="point"[^>]*data-series="([^"]+)" data-x="([^"]+)" data-y="([^"]+)"'
    points = re.findall(point, page)
    pass_points = {(s, x): float(y) for s, x, y in points if s in ("articles", "events", "entity_mentions")}
    assert len(pass_points) == 12
    assert pass_points[("events", "run-001")] == pytest.approx(2 / 3)
    assert pass_points[("articles", "run-001")] == 1.0
    # Stage bars come from the latest run's stage_counts JSON.
    bars = re.findall(r'<rect class="bar"[^>]*data-series="([^"]+)" data-x="([^"]+)" data-y="([^"]+)"', page)
    latest = json.loads(runs[-1]["stage_counts"])
    assert ("rejected", "clean", f"{latest['clean']['rejected']:g}") in bars
    assert ("out", "fetch", f"{latest['fetch']['out']:g}") in bars
    # One unit per chart: articles (clean, dedup, extract) and table rows (stage, publish) never share one.
    charts = re.findall(r'<h3 class="stage-chart">([^<]+)</h3><figure>(.*?)</figure>', page, re.S)
    stages_in = {title: set(re.findall(r'data-x="([^"]+)"', svg)) for title, svg in charts}
    assert len(stages_in) == 2, stages_in.keys()
    articles, rows = stages_in.values()
    assert {"clean", "extract"} <= articles and not {"stage", "publish", "validate"} & articles
    assert {"stage", "publish"} <= rows and not {"clean", "dedup", "extract"} & rows
    # Entities by mentions: Japan is mentioned in two fixture articles.
    assert ("mentions", "Japan (GPE)", "2") in bars
    # Events with signatories, and the failure list with its escaped sample.
    assert "UK–Japan Reciprocal Access Agreement" in page and "United Kingdom, Japan" in page
    assert "expect_check_0(col)" in page and "&lt;b&gt;x&lt;/b&gt;" in page


@pytest.mark.unit
def test_report_on_an_empty_warehouse(tmp_path):
    out = build_report(warehouse_con(), tmp_path / "nested" / "report.html", None)
    page = out.read_text(encoding="utf-8")
    assert "No runs recorded yet." in page and "No data yet." in page


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.browser
@pytest.mark.slow
def test_report_renders_in_headless_chromium_with_links_into_data_docs(tmp_path):
    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not installed (looked for /usr/bin/chromium); "
                    "install it with: apt-get install chromium")
    con = warehouse_con()
    batch = load_fixture(con)
    runs = run_rows(3)
    insert(con, "runs", runs)
    # Table names come from the fixture, each checked against a DDL file by insert().
    frames = {t: con.execute(f"SELECT * FROM {t}").df() for t in batch["tables"]}
    reference = {
        "article_id": set(frames["articles"]["article_id"]),
        "entity_id": set(frames["entities"]["entity_id"]),
        "event_id": set(frames["events"]["event_id"]),
        "story_id": set(frames["stories"]["story_id"]),
    }
    docs = tmp_path / "reports" / "data_docs"
    outcome = None
    for n, run in enumerate(runs):
        staged = dict(frames)
        if n == 1:  # this run's RAA names one party only
            events = frames["events"].copy()
            events.at[0, "signatories"] = ["United Kingdom"]
            events.at[0, "signatory_codes"] = ["GBR"]
            staged["events"] = events
        outcome = validate_tables(staged, reference, batch["stage_counts"], run["run_id"],
                                  ValidateConfig(), docs_dir=docs)
        insert(con, "validation_results", outcome.results)
    out = build_report(con, tmp_path / "reports" / "report.html", outcome.docs_index)
    page = out.read_text(encoding="utf-8")
    link = re.search(r'<a href="(data_docs/validations/events/run-001/[^"]+\.html)">Data Docs</a>', page)
    assert link, "the RAA failure should link to its Data Docs page"
    assert (out.parent / link.group(1)).exists()

    screenshot = tmp_path / "report.png"
    shot = chromium(binary, tmp_path, f"--screenshot={screenshot}", "--window-size=1280,2000", out.as_uri())
    assert screenshot.exists(), shot.stderr[-2000:]
    assert screenshot.stat().st_size > 10_000
    dom = chromium(binary, tmp_path, "--dump-dom", out.as_uri()).stdout
    events_point = r'<circle class="point"[^>]*data-series="events" data-x="([^"]+)" data-y="([^"]+)"'
    points = re.findall(events_point, dom)
    assert len(points) == 3
    events_rate = dict(points)
    assert float(events_rate["run-001"]) < float(events_rate["run-000"]) == 1.0
    assert len(re.findall(r'<rect class="bar"', dom)) >= 8
