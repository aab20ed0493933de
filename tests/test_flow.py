"""The ingestion flow end to end on real parts: Prefect harness, DuckLake in tmp_path, loopback HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.config import WirelakeConfig
from flows.records import Source
from warehouse.store import Warehouse

FLOW_FIXTURES = Path(__file__).parent / "fixtures" / "flow"
DATA_TABLES = ("documents", "articles", "article_signatures", "entities", "entity_mentions", "events",
               "event_arguments", "event_mentions", "quotes", "stories", "article_stories")

pytestmark = [pytest.mark.integration]


def _run(tmp_path: Path, sources: list[Source], **cfg) -> dict:
    from flows.ingest import run_ingest

    config = WirelakeConfig(warehouse=tmp_path / "wh", **cfg)
    return run_ingest(config, sources)


def _counts(tmp_path: Path) -> dict[str, int]:
    with Warehouse(tmp_path / "wh").reader() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DATA_TABLES}


def _query(tmp_path: Path, sql: str, params=None) -> list[tuple]:
    with Warehouse(tmp_path / "wh").reader() as con:
        return con.execute(sql, params or []).fetchall()


def test_flow_defines_the_stage_tasks():
    """Smoke: the flow imports and its module defines one task per stage, in DAG order."""
    from prefect import Flow

    from flows import ingest, tasks

    assert isinstance(ingest.ingest, Flow)
    names = [t.name for t in (tasks.fetch_state_task, tasks.fetch_task, tasks.clean_task,
                              tasks.dedup_prior_task, tasks.dedup_task, tasks.extract_prior_task,
                              tasks.extract_task, tasks.stage_task, tasks.validate_task, tasks.publish_task)]
    assert names == ["read-fetch-state", "fetch", "clean", "read-dedup-prior", "dedup", "read-extract-prior",
                     "extract", "stage", "validate", "publish"]


def test_examples_run_is_idempotent(tmp_path, prefect_harness, repo_root):
    from flows.sources import read_sources_file

    sources = read_sources_file(repo_root / "examples" / "sources.toml")
    first = _run(tmp_path, sources)
    assert first["status"] == "published", first
    counts = _counts(tmp_path)
    assert counts["articles"] >= 10
    assert counts["documents"] >= counts["articles"] // 2
    # The planted exact duplicate and near duplicate are marked, not dropped.
    marked = _query(tmp_path, "SELECT count(*) FILTER (duplicate_of IS NOT NULL), "
                              "count(*) FILTER (near_duplicate_of IS NOT NULL) FROM articles")[0]
    assert marked[0] >= 1 and marked[1] >= 1
    # The non-UTF-8 file decodes to real accented text, never to replacement characters.
    assert _query(tmp_path, "SELECT count(*) FROM articles WHERE text LIKE '%\ufffd%'")[0][0] == 0

    second = _run(tmp_path, sources)
    assert second["status"] == "no_new_data", second
    assert second["new"] == 0
    assert _counts(tmp_path) == counts
    runs = _query(tmp_path, "SELECT status FROM runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["published", "no_new_data"]


def test_feed_pages_and_broken_inputs_over_http(tmp_path, prefect_harness, httpserver):
    base = httpserver.url_for("").rstrip("/")
    feed = (FLOW_FIXTURES / "feed.xml").read_text().replace("{base}", base)
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow:\n")
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    httpserver.expect_request("/broken.xml").respond_with_data(
        (FLOW_FIXTURES / "broken-feed.xml").read_bytes(), content_type="application/rss+xml")
    for name in ("fisheries-pact", "hydrogen-tugs"):
        section = "world" if name == "fisheries-pact" else "business"
        httpserver.expect_request(f"/{section}/{name}.html").respond_with_data(
            (FLOW_FIXTURES / "pages" / f"{name}.html").read_bytes(), content_type="text/html; charset=utf-8")
    httpserver.expect_request("/world/gone.html").respond_with_data("not here", status=404)
    httpserver.expect_request("/broken-page.html").respond_with_data(b"\x00\x01\x02" * 10,
                                                                      content_type="application/octet-stream")

    summary = _run(tmp_path, [
        Source("courier", f"{base}/feed.xml", "feed"),
        Source("broken-feed", f"{base}/broken.xml", "feed"),
        Source("broken-page", f"{base}/broken-page.html", "page"),
    ])
    # Every input of broken-feed and broken-page failed: the run is degraded (exit 3), and still
    # publishes what courier gave.
    assert summary["status"] == "degraded" and summary["exit_code"] == 3, summary
    failed = {h["source"] for h in summary["source_health"] if h["status"] == "failed"}
    assert failed == {"broken-feed", "broken-page"}
    rows = _query(tmp_path, "SELECT title, url, author, text FROM articles ORDER BY title")
    titles = [r[0] for r in rows]
    assert titles == ["Norway and Iceland agree fisheries data pact", "Port of Rotterdam trials hydrogen tugboats"]
    assert rows[0][1] == f"{base}/world/fisheries-pact.html"
    assert rows[0][2] == "Ingrid Solberg"
    assert "Sign up to our weekly newsletter" not in rows[0][3]
    assert "Follow us on Twitter" not in rows[1][3]
    rejects = _query(tmp_path, "SELECT source, input, stage, error FROM rejects")
    by_input = {r[1]: r for r in rejects}
    assert f"{base}/broken.xml" in by_input and by_input[f"{base}/broken.xml"][2] == "fetch"
    assert f"{base}/broken-page.html" in by_input
    assert f"{base}/world/gone.html" in by_input and "404" in by_input[f"{base}/world/gone.html"][3]
    for r in rejects:
        assert r[1] in r[3] or r[1].rsplit("/", 1)[-1] in r[3], f"error does not name its input: {r}"
    # Raw bytes are kept, content-addressed, for reprocessing.
    wh = Warehouse(tmp_path / "wh")
    for sha, size in _query(tmp_path, "SELECT sha256, bytes FROM documents"):
        assert len(wh.read_raw(sha)) == size


def test_duplicates_caught_across_runs(tmp_path, prefect_harness):
    first = _run(tmp_path, [Source("harbour-news", str(FLOW_FIXTURES / "run1"), "local")])
    assert first["new"] == 1
    second = _run(tmp_path, [Source("coast-news", str(FLOW_FIXTURES / "run2"), "local")])
    assert second["new"] == 2 and second["duplicates"] == 2, second
    rows = _query(tmp_path, "SELECT a.title, a.duplicate_of, a.near_duplicate_of, a.similarity, a.source "
                            "FROM articles a ORDER BY a.run_id, a.title")
    original_id = _query(tmp_path, "SELECT article_id FROM articles WHERE source = 'harbour-news'")[0][0]
    copies = {r[0]: r for r in rows if r[4] == "coast-news"}
    exact = copies["Storm damage closes historic lighthouse for the summer"]
    assert exact[1] == original_id
    near = copies["Lighthouse shut until autumn after gales crack its stairs"]
    assert near[1] is None and near[2] == original_id and 0.5 <= near[3] < 1.0


def test_reader_process_queries_during_a_run(tmp_path, prefect_harness, repo_root):
    from flows.sources import read_sources_file

    # Create the warehouse first so the reader has a catalog to open.
    _run(tmp_path, [Source("harbour-news", str(FLOW_FIXTURES / "run1"), "local")])
    reader_script = (
        "import sys, time, json\n"
        "from warehouse.store import Warehouse\n"
        "wh = Warehouse(sys.argv[1]); seen = []; t_end = time.time() + float(sys.argv[2])\n"
        "while time.time() < t_end:\n"
        "    with wh.reader() as con:\n"
        "        seen.append(con.execute('SELECT count(*) FROM articles').fetchone()[0])\n"
        "    time.sleep(0.05)\n"
        "print(json.dumps(seen))\n"
    )
    reader = subprocess.Popen([sys.executable, "-c", reader_script, str(tmp_path / "wh"), "25"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=repo_root,
                              env={**os.environ, "PYTHONPATH": str(repo_root)})
    time.sleep(2)
    summary = _run(tmp_path, read_sources_file(repo_root / "examples" / "sources.toml"))
    stdout, stderr = reader.communicate(timeout=120)
    assert reader.returncode == 0, stderr
    seen = json.loads(stdout)
    assert summary["status"] == "published"
    final = _counts(tmp_path)["articles"]
    # The reader never failed, and only ever saw whole snapshots: before (1) or after (final).
    assert len(seen) > 10
    assert set(seen) <= {1, final}, sorted(set(seen))


def test_second_run_over_unchanged_feed_is_conditional_and_extracts_nothing(tmp_path, prefect_harness, httpserver):
    from werkzeug import Response

    base = httpserver.url_for("").rstrip("/")
    pages = {"/world/fisheries-pact.html": "fisheries-pact", "/business/hydrogen-tugs.html": "hydrogen-tugs"}
    feed = (FLOW_FIXTURES / "feed.xml").read_text().replace("{base}", base)

    def conditional(body: bytes, content_type: str, etag: str):
        def handler(request):
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
            return Response(body, content_type=content_type, headers={"ETag": etag})
        return handler

    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow:\n")
    httpserver.expect_request("/feed.xml").respond_with_handler(
        conditional(feed.encode(), "application/rss+xml", '"feed-v1"'))
    for path, name in pages.items():
        httpserver.expect_request(path).respond_with_handler(
            conditional((FLOW_FIXTURES / "pages" / f"{name}.html").read_bytes(), "text/html", f'"{name}-v1"'))
    httpserver.expect_request("/world/gone.html").respond_with_data("not here", status=404)

    first = _run(tmp_path, [Source("courier", f"{base}/feed.xml", "feed")])
    assert first["status"] == "published" and first["new"] == 2, first
    counts = _counts(tmp_path)
    httpserver.clear_log()
    second = _run(tmp_path, [Source("courier", f"{base}/feed.xml", "feed")])
    assert second["status"] == "no_new_data", second
    assert second["stages"]["fetch"]["not_modified"] >= 1
    assert second["stages"]["extract"]["in"] == 0
    feed_requests = [r for r, _ in httpserver.log if r.path == "/feed.xml"]
    assert feed_requests and all(r.headers.get("If-None-Match") == '"feed-v1"' for r in feed_requests)
    # Stored pages are not fetched again.
    assert not [r for r, _ in httpserver.log if r.path in pages]
    assert _counts(tmp_path) == counts


def _content(tmp_path: Path) -> dict[str, list[tuple]]:
    """Warehouse content without run-specific columns (run ids, fetch times)."""
    queries = {
        "articles": "SELECT article_id, source, title, text, content_hash, duplicate_of, near_duplicate_of, "
                    "similarity FROM articles ORDER BY article_id",
        "entities": "SELECT entity_id, name, type, country_code FROM entities ORDER BY entity_id",
        "entity_mentions": "SELECT article_id, entity_id, start_char, end_char FROM entity_mentions ORDER BY ALL",
        "events": "SELECT event_id, event_type, name, status, signatories, signers, article_count, source_count "
                  "FROM events ORDER BY event_id",
        "quotes": "SELECT article_id, speaker_entity_id, start_char FROM quotes ORDER BY ALL",
        "article_stories": "SELECT article_id, story_id FROM article_stories ORDER BY ALL",
    }
    return {name: _query(tmp_path, sql) for name, sql in queries.items()}


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_warehouse(tmp_path, prefect_harness, repo_root):
    from flows.sources import read_sources_file

    sources = read_sources_file(repo_root / "examples" / "sources.toml")
    threads = _run(tmp_path / "threads", sources)
    dask = _run(tmp_path / "dask", sources, task_runner="dask", dask_workers=2)
    assert threads["status"] == dask["status"] == "published"
    assert {k: v["out"] for k, v in dask["stages"].items()} == {k: v["out"] for k, v in threads["stages"].items()}
    left, right = _content(tmp_path / "threads"), _content(tmp_path / "dask")
    assert left["articles"] and left["events"]
    assert left == right
