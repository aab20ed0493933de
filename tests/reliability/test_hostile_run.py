"""One real flow run over hostile HTTP sources, checked from the warehouse side.

RELIABILITY-PLAN.md cases 16 (retried fetches load once), 33 (every stored string valid
UTF-8 without NUL) and 38 (no written path derives from a title or URL), plus the local-source
symlink half of 38 and 27. One run serves all of them: a flow run costs seconds.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from flows.config import FetchConfig, WirelakeConfig
from flows.records import Source
from flows.stages.fetch import fetch_all
from warehouse.store import Warehouse

from .conftest import TABLE_KEYS, warehouse_state

STORY = ("The harbour board met on Tuesday evening to approve a new schedule for the northern ferry route, "
         "after months of complaints from commuters about cancelled crossings and long queues at the terminal. "
         "Officials said the change would take effect next month, and that two extra sailings would be added "
         "on Fridays so that hospital staff could reach their evening shifts on the mainland.")

HOSTILE_TITLES = ["../../etc/cron.d/x", "..\\..\\x", "%2e%2e%2f%2e%2e%2fx", "/abs/path", "C:\\x", "CON", "aux.txt",
                  "a:b", "nul\x00byte", "é" * 150, ". ", "..", "A/B", "A_B", "‥／etc／passwd"]
HOSTILE_SLUGS = ["..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fx", "CON", "a:b", "aux.txt", "x" * 240,
                 "..%5c..%5cx", "%00nul", "‥／x", "A%2FB"]


def _failing_twice(body: bytes, content_type: str, log: list[float], lock: threading.Lock):
    def handler(_request: Request) -> Response:
        with lock:
            log.append(time.monotonic())
            if len(log) <= 2:
                return Response("try later", status=500)
        return Response(body, content_type=content_type)
    return handler


def _feed(base: str, n0: int) -> str:
    items = []
    for n, (title, slug) in enumerate(zip(HOSTILE_TITLES, HOSTILE_SLUGS * 2, strict=False)):
        link = f"{base}/news/{slug}/{n0 + n}"
        items.append(f"<item><title><![CDATA[{title.replace(chr(0), '')} {n0 + n}]]></title><link>{link}</link>"
                     f"<guid>{link}</guid><description><![CDATA[<p>Report {n0 + n}. {STORY}</p>"
                     f"<p>Item {n0 + n} adds that {title.replace(chr(0), '')} was mentioned.</p>]]></description></item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>c</title>'
            f"<link>{base}/</link><description>d</description>{''.join(items)}</channel></rss>")


class HostileRun:
    pass


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, prefect_harness) -> HostileRun:
    run = HostileRun()
    run.root = tmp_path_factory.mktemp("hostile") / "wh"
    servers = [HTTPServer(host="127.0.0.1", port=0, threaded=True) for _ in range(2)]
    run.logs = [[], []]
    lock = threading.Lock()
    try:
        for n, server in enumerate(servers):
            server.start()
            base = server.url_for("").rstrip("/")
            server.expect_request("/robots.txt").respond_with_data("", status=404)
            text = _feed(base, n * 100)
            if n == 1:
                # charset lie: declared UTF-8, bytes windows-1252 (what cp1252 cannot hold becomes "?"),
                # with smart quotes and a C0 control in every item
                body = text.replace("Officials said", "Officials said “quietly”\x07 that").encode("cp1252", "replace")
            else:
                body = text.encode("utf-8")
            server.expect_request("/feed.xml").respond_with_handler(
                _failing_twice(body, "application/rss+xml", run.logs[n], lock))
        Warehouse(run.root).init()
        with Warehouse(run.root).reader() as con:
            run.snapshot_before = con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]
        from flows.ingest import run_ingest

        config = WirelakeConfig(warehouse=run.root, fetch={
            "max_retries": 3, "backoff_base_seconds": 0.4, "per_host_min_interval_seconds": 0.0,
            "fetch_item_pages": "never", "min_item_content_words": 20})
        run.summary = run_ingest(config, [Source(f"wire-{n}", s.url_for("/feed.xml"), "feed")
                                          for n, s in enumerate(servers)])
    finally:
        for server in servers:
            server.clear()
            server.stop()
    run.state = warehouse_state(run.root)
    return run


@pytest.mark.integration
def test_16_transient_errors_are_retried_with_growing_jittered_waits_and_loaded_once(hostile_run):
    assert hostile_run.summary["status"] == "published", hostile_run.summary
    gaps = []
    for log in hostile_run.logs:
        assert len(log) == 3  # 500, 500, 200: exactly three requests per feed
        first, second = log[1] - log[0], log[2] - log[1]
        assert 0.2 <= first and second >= first * 0.95, (first, second)
        gaps.append((first, second))
    assert gaps[0] != pytest.approx(gaps[1], abs=0.001)  # jitter: the two feeds did not retry in step
    # One publish: one snapshot on top of the schema, every item stored once.
    assert hostile_run.state["snapshot"] == hostile_run.snapshot_before + 1
    assert hostile_run.state["articles"][0] == 2 * len(HOSTILE_TITLES)
    for table in TABLE_KEYS:
        assert hostile_run.state[f"{table}.duplicates"] == 0


@pytest.mark.integration
def test_33_every_stored_string_is_valid_utf8_without_nul_or_controls(hostile_run):
    with Warehouse(hostile_run.root).reader() as con:
        columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE table_catalog = 'lake' AND data_type = 'VARCHAR'").fetchall()
        checked = 0
        for table, column in columns:
            # identifiers come from the catalog itself, not from data
            bad = con.execute(f'SELECT count(*) FROM {table} WHERE regexp_matches("{column}", '
                              "'[\\x00-\\x08\\x0b-\\x1f]')").fetchone()[0]
            assert bad == 0, f"{table}.{column}"
            checked += con.execute(f'SELECT count("{column}") FROM {table}').fetchone()[0]
        # clean may straighten typographic quotes; either way the word arrives intact, once per item
        quotes = con.execute("SELECT count(*) FROM articles WHERE regexp_matches(text, '[\"“]quietly[\"”] that')"
                             ).fetchone()[0]
        mojibake = con.execute("SELECT count(*) FROM articles WHERE text LIKE '%â€%' OR text LIKE '%Ã©%' "
                               "OR text LIKE '%\ufffd%' OR title LIKE '%â€%' OR title LIKE '%Ã©%'").fetchone()[0]
    assert checked > 100
    assert quotes == len(HOSTILE_TITLES) and mojibake == 0


_LAYOUT = [
    re.compile(r"catalog\.sqlite(-wal|-shm|-journal)?"),
    re.compile(r"\.write\.lock"),
    re.compile(r"\.ext/sqlite_scanner\.duckdb_extension"),
    re.compile(r"data/main/[a-z_]+/ducklake-[0-9a-f-]{36}\.parquet"),
    re.compile(r"raw/[0-9a-f]{2}/[0-9a-f]{64}"),
    re.compile(r"reports/data_docs/[A-Za-z0-9_./-]+"),
]


@pytest.mark.integration
def test_38_no_written_path_derives_from_a_title_or_url(hostile_run):
    root = hostile_run.root.resolve()
    files = [p for p in root.rglob("*") if p.is_file() or p.is_symlink()]
    assert any(p.parts[-3] == "raw" for p in files if len(p.parts) > 3)
    fragments = ("cron", "passwd", "CON", "aux", "a:b", "‥", "／", "%2e", "%2f", "..")
    for path in files:
        assert path.resolve().is_relative_to(root), path
        rel = path.relative_to(root).as_posix()
        assert any(rule.fullmatch(rel) for rule in _LAYOUT), f"unexpected file {rel}"
        for part in path.relative_to(root).parts:
            assert len(part.encode()) <= 255 and not any(ord(c) < 32 for c in part), part
            if not rel.startswith("reports/"):
                assert not any(f in part for f in fragments if f != ".."), part
    with Warehouse(root).reader() as con:
        titles = [r[0] for r in con.execute("SELECT title FROM articles").fetchall()]
    assert any("cron.d" in t for t in titles)  # the hostile titles are kept, as metadata only


@pytest.mark.unit
def test_38_local_symlinks_leaving_the_source_root_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret memo about the harbour\n\n" + STORY)
    root = tmp_path / "source"
    root.mkdir()
    (root / "ok.txt").write_text("Ferry timetable changes approved\n\n" + STORY)
    os.symlink("/etc", root / "etc-link")
    os.symlink(outside / "secret.txt", root / "secret-link.txt")
    os.symlink(root / "ok.txt", root / "inside-link.txt")
    result = fetch_all([Source("folder", str(root), "local")], FetchConfig())
    errors = {Path(r.input).name: r.error for r in result.rejects}
    assert set(errors) == {"etc-link", "secret-link.txt"}
    for name, error in errors.items():
        assert "outside the source root" in error and name in error and "\n" not in error
    assert all("Secret memo" not in i.content for i in result.items)
    assert sorted(Path(i.uri).name for i in result.items) == ["inside-link.txt", "ok.txt"]
