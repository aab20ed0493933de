"""The validation gate: a critical failure publishes nothing; quarantine mode holds back only bad rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.config import WirelakeConfig
from flows.records import Source
from flows.run_records import RunSummary
from flows.run import Lake
from flows.stages import gate, load
from warehouse.store import StagedRun, Warehouse, to_arrow

GATE = Path(__file__).parent / "fixtures" / "gate"
DATA_TABLES = ("documents", "articles", "entities", "entity_mentions", "events", "event_arguments",
               "event_mentions", "quotes", "stories", "article_stories")


def _counts(wh: Warehouse) -> dict[str, int]:
    with wh.reader() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DATA_TABLES}


def _article_row(i: int, broken: bool) -> dict:
    now = datetime(2024, 3, 8, 12, tzinfo=UTC)
    return {
        "article_id": None if broken and i % 2 == 0 else f"a{i:03d}",
        "doc_id": f"d{i:03d}", "run_id": "r-broken", "source": "fixture",
        "url": None, "title": f"Article {i}", "author": None, "published_at": now,
        "language": "en", "dateline": None, "text": "Some words here. " * 10,
        "word_count": -5 if broken else 30, "content_hash": f"h{i:03d}", "fetched_at": now,
    }


@pytest.mark.integration
def test_batch_with_40_percent_broken_rows_leaves_warehouse_unchanged(tmp_path):
    config = WirelakeConfig(warehouse=tmp_path / "wh")
    wh = Warehouse(config.warehouse)
    wh.init()
    good = to_arrow("articles", [_article_row(i, broken=False) for i in range(100, 106)])
    con = wh.connect()
    try:
        wh.publish(con, StagedRun(tables={"articles": good}))
        before_counts, before_snapshot = _counts(wh), wh.snapshot_id(con)
        summary = RunSummary(run_id="r-broken", kind="ingest", started_at=datetime.now(UTC),
                             config_hash=config.config_hash(), config_json="{}")
        rows = [_article_row(i, broken=i % 5 < 2) for i in range(20)]  # 8 of 20 broken: 40 %
        staged = StagedRun(tables={"articles": to_arrow("articles", rows)})
        lake = Lake(wh, con)
        outcome = gate.validate_staged(lake, (staged, {}), summary, config)
        assert outcome.critical_failed
        load.publish_run(lake, (staged, {}), outcome, summary, config)
        after_snapshot = wh.snapshot_id(con)
    finally:
        con.close()
    assert summary.status == "not_published" and summary.exit_code == 2
    assert _counts(wh) == before_counts
    with wh.reader() as reader:
        status, message = reader.execute("SELECT status, message FROM runs WHERE run_id = 'r-broken'").fetchone()
        failed = reader.execute("SELECT count(*) FROM validation_results WHERE run_id = 'r-broken' "
                                "AND NOT success AND severity = 'critical'").fetchone()[0]
        per_expectation = reader.execute(
            "SELECT count(*), count(DISTINCT suite || '/' || expectation) FROM validation_results "
            "WHERE run_id = 'r-broken'").fetchone()
    assert status == "not_published" and "critical expectations failed" in message
    assert failed >= 2
    assert per_expectation[0] == per_expectation[1] > 0  # one row per expectation per run
    # Only the run's own record was committed on top of the previous snapshot.
    assert after_snapshot == before_snapshot + 1


def _run(tmp_path: Path, mode: str) -> dict:
    from flows.ingest import run_ingest

    config = WirelakeConfig(warehouse=tmp_path / mode, validate={"mode": mode})
    return run_ingest(config, [Source("gate-wire", str(GATE), "local")])


@pytest.mark.integration
def test_raa_naming_one_party_fails_the_run_in_fail_mode(tmp_path, prefect_harness):
    summary = _run(tmp_path, "fail")
    assert summary["status"] == "not_published" and summary["exit_code"] == 2, summary
    assert any("both_signatories" in f["expectation"] or "raa" in f["expectation"].lower()
               for f in summary["failures"]), summary["failures"]
    counts = _counts(Warehouse(tmp_path / "fail"))
    assert counts["articles"] == 0 and counts["events"] == 0


@pytest.mark.integration
def test_raa_naming_one_party_is_quarantined_in_quarantine_mode(tmp_path, prefect_harness):
    summary = _run(tmp_path, "quarantine")
    assert summary["status"] == "published", summary
    wh = Warehouse(tmp_path / "quarantine")
    with wh.reader() as con:
        held = con.execute("SELECT table_name, expectation, row_json FROM quarantine").fetchall()
        raa_events = con.execute("SELECT count(*) FROM events WHERE name ILIKE '%reciprocal access%' "
                                 "OR short_name = 'RAA'").fetchone()[0]
        ferry = con.execute("SELECT count(*) FROM articles WHERE title LIKE 'Island ferry%'").fetchone()[0]
    assert any(t == "events" and "Reciprocal Access" in row for t, _, row in held), held
    assert raa_events == 0
    assert ferry == 1  # the rest of the run published
