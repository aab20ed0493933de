"""`wirelake reprocess` end to end on real parts: Prefect harness, DuckLake in tmp_path, loopback HTTP.

What a reprocess promises: it reads the raw store and never the network, keeps every
article's identity, applies today's cleaning and extraction, leaves the data a clean run
would leave, changes nothing when run twice, and is recorded (and validated) as its own run.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.config import CleanConfig, WirelakeConfig
from flows.records import Source
from warehouse.store import Warehouse

pytestmark = [pytest.mark.integration]

FIXTURES = Path(__file__).parent / "fixtures"
FLOW_FIXTURES = FIXTURES / "flow"
REPEATED = FIXTURES / "reprocess" / "repeated"
# Every table that holds data (not run bookkeeping); a reprocess may rewrite all but documents.
DATA_TABLES = ("documents", "articles", "article_signatures", "entities", "entity_mentions", "events",
               "event_arguments", "event_mentions", "quotes", "stories", "article_stories", "fetch_state")
REPEATED_PARAGRAPH = "The harbour is the reason this town exists"


def _ingest(warehouse: Path, sources: list[Source], **cfg) -> dict:
    from flows.ingest import run_ingest

    return run_ingest(WirelakeConfig(warehouse=warehouse, **cfg), sources)


def _reprocess(warehouse: Path, since: datetime | None = None, **cfg) -> dict:
    from flows.reprocess import run_reprocess

    return run_reprocess(WirelakeConfig(warehouse=warehouse, **cfg), since)


def _query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with Warehouse(warehouse).reader() as con:
        return con.execute(sql, params or []).fetchall()


def _tables(warehouse: Path) -> dict[str, list[str]]:
    """Every data table as a sorted list of its rows (row order in storage is not data)."""
    with Warehouse(warehouse).reader() as con:
        return {table: sorted(repr(row) for row in con.execute(f"SELECT * FROM {table}").fetchall())
                for table in DATA_TABLES}


def _different(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return [t for t in DATA_TABLES if before[t] != after[t]]


def test_reprocess_of_the_examples_equals_the_ingest_and_is_idempotent(tmp_path, prefect_harness, repo_root):
    from flows.cli import app
    from flows.sources import read_sources_file

    warehouse = tmp_path / "wh"
    ingest = _ingest(warehouse, read_sources_file(repo_root / "examples" / "sources.toml"))
    assert ingest["status"] == "published", ingest
    ingested = _tables(warehouse)
    article_ids = _query(warehouse, "SELECT article_id FROM articles ORDER BY article_id")

    first = _reprocess(warehouse)
    assert first["status"] == "published", first
    stages = first["stages"]
    # Every stored article (text, HTML, JSONL lines, feed entries) was rebuilt, cleaned and extracted.
    assert stages["replay"]["in"] == stages["replay"]["out"] == len(article_ids) >= 10
    assert stages["replay"]["documents"] == ingest["fetched"]
    assert stages["clean"]["out"] == stages["extract"]["in"] == len(article_ids)
    assert stages["stage"]["articles_rewritten"] == len(article_ids)
    assert first["new"] == 0 and first["failed_expectations"] == 0
    # No code change: the data is exactly what the ingest wrote (same ids, texts, events, counts).
    assert _different(ingested, _tables(warehouse)) == []
    assert _query(warehouse, "SELECT article_id FROM articles ORDER BY article_id") == article_ids

    second = _reprocess(warehouse)
    assert second["status"] == "published", second
    assert _different(ingested, _tables(warehouse)) == []

    # The CLI: --since in the future selects nothing, which is a success with nothing written.
    result = CliRunner().invoke(app, ["reprocess", "--since", "2999-01-01", "--warehouse", str(warehouse),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    assert "no_new_data" in result.output
    assert _different(ingested, _tables(warehouse)) == []

    runs = _query(warehouse, "SELECT kind, status, fetched, new FROM runs ORDER BY started_at")
    assert runs == [("ingest", "published", ingest["fetched"], len(article_ids)),
                    ("reprocess", "published", ingest["fetched"], 0),
                    ("reprocess", "published", ingest["fetched"], 0),
                    ("reprocess", "no_new_data", 0, 0)]
    results = _query(warehouse, "SELECT count(*) FROM validation_results WHERE run_id = ?", [first["run_id"]])
    assert results[0][0] == first["expectations"] > 0  # validated by GX like any run


def test_reprocess_applies_a_changed_cleaning_rule_and_keeps_the_article_id(tmp_path, prefect_harness):
    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    source = [Source("saltmere-echo", str(REPEATED), "local")]
    # Ingest with a rule that lets the repeated paragraph through (no paragraph is long enough to check).
    lenient = _ingest(kept, source, clean=CleanConfig(min_repeated_paragraph_chars=100_000))
    assert lenient["status"] == "published", lenient
    [(article_id, old_text, old_words, old_hash)] = _query(
        kept, "SELECT article_id, text, word_count, content_hash FROM articles")
    assert old_text.count(REPEATED_PARAGRAPH) == 2
    old_mentions = _query(kept, "SELECT count(*) FROM entity_mentions")[0][0]

    summary = _reprocess(kept)  # today's (default) rule drops the second copy
    assert summary["status"] == "published", summary
    [(same_id, text, words, content_hash)] = _query(kept, "SELECT article_id, text, word_count, content_hash "
                                                          "FROM articles")
    assert same_id == article_id
    assert text.count(REPEATED_PARAGRAPH) == 1
    assert words < old_words and content_hash != old_hash

    # The result is what a clean ingest under today's rule gives, but under the stored article_id:
    # the entity mentions were replaced, not added to.
    assert _ingest(fresh, source)["status"] == "published"
    [(fresh_id, fresh_text, fresh_hash)] = _query(fresh,
                                                  "SELECT article_id, text, content_hash FROM articles")
    assert fresh_id != article_id and (text, content_hash) == (fresh_text, fresh_hash)
    mention_sql = "SELECT entity_id, mention, label, start_char, end_char FROM entity_mentions ORDER BY ALL"
    assert _query(kept, mention_sql) == _query(fresh, mention_sql)
    assert len(_query(kept, mention_sql)) < old_mentions
    story_sql = "SELECT count(*), max(article_count) FROM stories"
    assert _query(kept, story_sql) == _query(fresh, story_sql) == [(1, 1)]


def test_since_selects_later_documents_and_a_missing_raw_file_is_a_reject(tmp_path, prefect_harness):
    warehouse = tmp_path / "wh"
    assert _ingest(warehouse, [Source("harbour-news", str(FLOW_FIXTURES / "run1"), "local")])["new"] == 1
    second = _ingest(warehouse, [Source("coast-news", str(FLOW_FIXTURES / "run2"), "local")])
    assert second["new"] == 2 and second["duplicates"] == 2, second
    before = _tables(warehouse)
    [(second_started,)] = _query(warehouse, "SELECT started_at FROM runs WHERE run_id = ?",
                                 [second["run_id"]])
    lost_doc, lost_sha, lost_uri = _query(
        warehouse, "SELECT doc_id, sha256, uri FROM documents WHERE uri LIKE '%lighthouse-reedited.txt'")[0]
    raw = Warehouse(warehouse).raw_dir / lost_sha[:2] / lost_sha
    raw.unlink()

    summary = _reprocess(warehouse, since=second_started)
    assert summary["status"] == "published", summary
    # Only the second run's two articles were selected; the one whose bytes are gone is a reject.
    assert summary["stages"]["replay"] == {**summary["stages"]["replay"], "in": 2, "out": 1, "rejected": 1}
    rejects = _query(warehouse, "SELECT stage, input, error FROM rejects WHERE run_id = ?",
                     [summary["run_id"]])
    assert len(rejects) == 1
    stage, where, error = rejects[0]
    assert stage == "reprocess" and where.endswith("lighthouse-reedited.txt")
    assert lost_doc in error and lost_sha in error and "missing" in error
    # The other (an exact copy of run 1's article) was rewritten to the same rows; nothing else moved.
    assert _different(before, _tables(warehouse)) == []
    assert raw.exists() is False  # a reprocess never writes raw bytes


def test_feed_and_pages_reprocess_without_the_network(tmp_path, prefect_harness, httpserver):
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow:\n")
    httpserver.expect_request("/feed.xml").respond_with_data(
        (FLOW_FIXTURES / "feed.xml").read_text().replace("{base}", base), content_type="application/rss+xml")
    for section, name in (("world", "fisheries-pact"), ("business", "hydrogen-tugs")):
        httpserver.expect_request(f"/{section}/{name}.html").respond_with_data(
            (FLOW_FIXTURES / "pages" / f"{name}.html").read_bytes(), content_type="text/html; charset=utf-8")
    httpserver.expect_request("/world/gone.html").respond_with_data("not here", status=404)
    warehouse = tmp_path / "wh"
    assert _ingest(warehouse, [Source("courier", f"{base}/feed.xml", "feed")])["new"] == 2
    before = _tables(warehouse)
    # The feed gave these titles and the author; the pages alone say otherwise.
    titles = _query(warehouse, "SELECT title, author FROM articles ORDER BY title")

    httpserver.clear()  # any request now fails the test's expectations
    summary = _reprocess(warehouse)
    assert summary["status"] == "published", summary
    assert httpserver.log == []
    assert summary["stages"]["replay"]["out"] == 2
    assert _different(before, _tables(warehouse)) == []
    assert _query(warehouse, "SELECT title, author FROM articles ORDER BY title") == titles
