"""Great Expectations validation: committed suites, domain checks, quarantine and Data Docs.

Frames are built the way the warehouse builds them: rows inserted into real DuckDB tables made
from warehouse/schema/*.sql, read back with `.df()`. GX runs for real (its import costs seconds
once per session).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from flows.config import ValidateConfig
from flows.stages.validate import DEFAULT_SUITES_DIR, split_quarantine, validate_tables
from flows.stages.validation import rules

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO / "warehouse" / "schema"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "validate"
RAA = "expect_reciprocal_access_agreements_to_name_both_signatories"
SIGNED = "expect_signed_agreements_to_have_two_signatories"


def load_batch() -> dict:
    return json.loads((FIXTURES / "clean_batch.json").read_text(encoding="utf-8"))


def ddl_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


# The suites' logical type for each DuckDB column type the DDL files use.
LOGICAL_TYPES = {"VARCHAR": "string", "INTEGER": "integer", "BIGINT": "integer", "DOUBLE": "float",
                 "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP WITH TIME ZONE": "timestamp",
                 "VARCHAR[]": "string_list"}


def ddl_logical_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Column → logical type, read from the table's DDL (the one schema source)."""
    return {name: LOGICAL_TYPES[ddl_type] for name, ddl_type, *_ in con.execute(f"DESCRIBE {table}").fetchall()}


def frames_from_rows(tables: dict[str, list[dict]]) -> dict[str, pd.DataFrame]:
    """Insert fixture rows into DuckDB tables made from the DDL files and read them back."""
    con = duckdb.connect()
    frames = {}
    for table, rows in tables.items():
        ddl = SCHEMA_DIR / f"{table}.sql"
        assert ddl.exists(), f"fixture table {table} has no DDL file"
        con.execute(ddl.read_text(encoding="utf-8"))
        columns = ddl_columns(con, table)  # table names come from the DDL file list above
        if rows:
            placeholders = ", ".join("?" for _ in columns)
            con.executemany(
                f"INSERT INTO {table} VALUES ({placeholders})",
                [[row.get(c) for c in columns] for row in rows],
            )
        frames[table] = con.execute(f"SELECT * FROM {table}").df()
    return frames


def reference_of(frames: dict[str, pd.DataFrame]) -> dict[str, set[str]]:
    return {
        "article_id": set(frames["articles"]["article_id"].dropna()),
        "entity_id": set(frames["entities"]["entity_id"].dropna()),
        "event_id": set(frames["events"]["event_id"].dropna()),
        "story_id": set(frames["stories"]["story_id"].dropna()),
    }


def validate(batch: dict, frames: dict[str, pd.DataFrame], cfg: ValidateConfig | None = None, **kwargs):
    cfg = cfg or ValidateConfig()
    return validate_tables(frames, reference_of(frames), batch["stage_counts"], batch["run_id"], cfg, **kwargs)


def suite_expectation_count() -> int:
    return sum(
        len(json.loads(p.read_text(encoding="utf-8"))["expectations"])
        for p in DEFAULT_SUITES_DIR.glob("*.json")
    )


def failed(outcome, suite: str) -> set[str]:
    return {r["expectation"] for r in outcome.results if r["suite"] == suite and not r["success"]}


def event_row(batch: dict, name_contains: str) -> dict:
    return next(e for e in batch["tables"]["events"] if name_contains in (e["name"] or ""))


# ---------------------------------------------------------------- pure rules (no GX)


@pytest.mark.unit
def test_party_key_resolves_aliases_and_codes():
    assert rules.party_key("UK") == rules.party_key("Britain") == rules.party_key("United Kingdom") == "GBR"
    assert rules.party_key("the Philippines") == "PHL"
    assert rules.party_key("JPN") == "JPN"
    assert rules.party_key("European Union").startswith("name:")


@pytest.mark.unit
def test_raa_name_pairs():
    assert rules.raa_named_pair("UK–Japan Reciprocal Access Agreement") == ("UK", "Japan")
    assert rules.raa_named_pair("New Zealand-Philippines RAA") == ("New Zealand", "Philippines")
    assert rules.raa_named_pair("Reciprocal Access Agreement between Japan and Australia") is None
    assert rules.is_reciprocal_access_agreement("a reciprocal ACCESS agreement", None)
    assert rules.is_reciprocal_access_agreement("Visiting forces deal", "raa")
    assert not rules.is_reciprocal_access_agreement("Visiting forces deal", "VFA")


@pytest.mark.unit
def test_stage_count_equations_check_skip_and_reject_bad_syntax():
    counts = {"fetch": {"in": 5, "out": 5}, "clean": {"in": 5, "out": 3, "rejected": 1}}
    outcome = rules.stage_count_reconciliation(
        counts, ["fetch.out == clean.in", "clean.in == clean.out + clean.rejected", "dedup.in == clean.out"]
    )
    assert not outcome.success
    assert outcome.sample == ["clean.in == clean.out + clean.rejected: 5 != 4"]
    assert outcome.observed["skipped"] == ["dedup.in == clean.out"]
    with pytest.raises(ValueError, match="not <stage>.<count>"):
        rules.stage_count_reconciliation(counts, ["fetch.out == 3"])


@pytest.mark.unit
def test_iso_codes_accept_lists_and_scalars():
    series = pd.Series(["GBR", None, np.array(["JPN", "UK"], dtype=object), ["XKX"], "usa"])
    outcome = rules.iso_alpha3_failures(series)
    assert outcome.failing_rows == [2, 3, 4]
    assert set(outcome.sample) == {"UK", "XKX", "usa"}


# ---------------------------------------------------------------- suites


@pytest.mark.unit
def test_suites_match_ddl_and_carry_severity():
    con = duckdb.connect()
    suite_files = {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in DEFAULT_SUITES_DIR.glob("*.json")
    }
    for table in ["articles", "entities", "entity_mentions", "events", "event_arguments", "event_mentions",
                  "quotes", "stories", "documents", "rejects", "article_stories"]:
        assert table in suite_files, f"no suite for {table}"
        con.execute((SCHEMA_DIR / f"{table}.sql").read_text(encoding="utf-8"))
        types = [e for e in suite_files[table]["expectations"]
                 if e["type"] == "expect_table_columns_to_have_logical_types"]
        assert len(types) == 1
        assert list(types[0]["kwargs"]["column_types"]) == ddl_columns(con, table)
        # Not hand-kept: every column's type in the suite is the one its DDL declares.
        assert types[0]["kwargs"]["column_types"] == ddl_logical_types(con, table), table
    for name, suite in suite_files.items():
        for item in suite["expectations"]:
            assert item["meta"]["severity"] in ("critical", "warning"), (name, item["type"])


@pytest.mark.unit
def test_clean_batch_passes_every_suite_with_one_row_per_expectation():
    batch = load_batch()
    frames = frames_from_rows(batch["tables"])
    outcome = validate(batch, frames)

    failures = [(r["suite"], r["expectation"], r["unexpected_sample"])
                for r in outcome.results if not r["success"]]
    assert failures == []
    assert not outcome.critical_failed
    assert outcome.failing_rows == {}
    assert len(outcome.results) == suite_expectation_count()
    keys = {(r["suite"], r["expectation"]) for r in outcome.results}
    assert len(keys) == len(outcome.results)
    assert {r["suite"] for r in outcome.results} >= {"articles", "events", "stories", "stage_counts"}

    # The rows fit the validation_results table as they are.
    con = duckdb.connect()
    con.execute((SCHEMA_DIR / "validation_results.sql").read_text(encoding="utf-8"))
    columns = ddl_columns(con, "validation_results")
    assert set(outcome.results[0]) == set(columns)
    con.executemany(
        f"INSERT INTO validation_results VALUES ({', '.join('?' for _ in columns)})",
        [[row[c] for c in columns] for row in outcome.results],
    )
    assert con.execute("SELECT count(*) FROM validation_results").fetchone()[0] == len(outcome.results)
    for row in outcome.results:
        assert len(json.loads(row["unexpected_sample"])) <= 20
        json.loads(row["observed_value"])


@pytest.mark.unit
def test_raa_naming_one_party_fails_and_is_quarantined_with_its_children():
    batch = load_batch()
    raa = event_row(batch, "UK–Japan")
    raa["signatories"], raa["signatory_codes"] = ["United Kingdom"], ["GBR"]
    frames = frames_from_rows(batch["tables"])
    outcome = validate(batch, frames)

    assert outcome.critical_failed
    assert outcome.quarantinable
    assert failed(outcome, "events") == {RAA, SIGNED}
    position = frames["events"].index[frames["events"]["event_id"] == raa["event_id"]][0]
    assert set(outcome.failing_rows["events"]) == {position}
    assert set(outcome.failing_rows["events"][position]) == {RAA, SIGNED}
    raa_row = next(r for r in outcome.results if r["expectation"] == RAA)
    assert "UK–Japan" in raa_row["unexpected_sample"] and "Japan" in raa_row["unexpected_sample"]

    passing, quarantined = split_quarantine(frames, outcome)
    assert raa["event_id"] not in set(passing["events"]["event_id"])
    assert len(passing["events"]) == len(frames["events"]) - 1
    held = {(q["table_name"], q["expectation"]) for q in quarantined}
    assert ("events", RAA) in held
    # Its arguments and mentions would dangle, so they are held back too; other events' rows publish.
    assert raa["event_id"] not in set(passing["event_arguments"]["event_id"])
    assert raa["event_id"] not in set(passing["event_mentions"]["event_id"])
    assert ("event_arguments", "cascade:event_id") in held
    assert len(passing["articles"]) == len(frames["articles"])
    con = duckdb.connect()
    con.execute((SCHEMA_DIR / "quarantine.sql").read_text(encoding="utf-8"))
    con.executemany(
        "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?)",
        [[q["run_id"], q["table_name"], q["row_key"], q["expectation"], q["row_json"]] for q in quarantined],
    )
    row_key, row_json = con.execute(
        "SELECT row_key, row_json FROM quarantine WHERE table_name = 'events' AND expectation = ?", [RAA]
    ).fetchone()
    assert row_key == raa["event_id"]
    assert json.loads(row_json)["signatories"] == ["United Kingdom"]


@pytest.mark.unit
def test_uk_japan_raa_signed_by_uk_and_china_fails_only_the_raa_check():
    batch = load_batch()
    raa = event_row(batch, "UK–Japan")
    raa["signatories"], raa["signatory_codes"] = ["United Kingdom", "China"], ["GBR", "CHN"]
    frames = frames_from_rows(batch["tables"])
    outcome = validate(batch, frames)

    assert failed(outcome, "events") == {RAA}  # two parties, so the signed-agreement rule holds
    sample = json.loads(next(r for r in outcome.results if r["expectation"] == RAA)["unexpected_sample"])
    assert sample[0]["event_id"] == raa["event_id"]
    assert "lack Japan" in sample[0]["reason"]


def break_share(frames: dict[str, pd.DataFrame], share: float, seed: int = 7) -> dict[str, set[int]]:
    """Break `share` of the rows of the mention tables in different ways; returns broken positions."""
    rng = np.random.default_rng(seed)
    broken: dict[str, set[int]] = {}
    mentions = frames["entity_mentions"]
    chosen = rng.choice(len(mentions), size=round(share * len(mentions)), replace=False)
    for n, position in enumerate(sorted(chosen)):
        if n % 3 == 0:
            mentions.loc[position, "entity_id"] = None
        elif n % 3 == 1:
            mentions.loc[position, "label"] = "COUNTRY"
        else:
            mentions.loc[position, "article_id"] = "no-such-article"
    broken["entity_mentions"] = {int(p) for p in chosen}
    event_mentions = frames["event_mentions"]
    chosen = rng.choice(len(event_mentions), size=round(share * len(event_mentions)), replace=False)
    event_mentions.loc[chosen, "confidence"] = 1.7
    broken["event_mentions"] = {int(p) for p in chosen}
    return broken


def scaled_batch(copies: int) -> dict:
    """The clean fixture repeated `copies` times under fresh keys, all still consistent."""
    batch = load_batch()
    tables = {name: [] for name in batch["tables"]}
    key_columns = {"article_id", "entity_id", "event_id", "story_id", "doc_id", "duplicate_of",
                   "near_duplicate_of", "speaker_entity_id"}
    for copy_no in range(copies):
        for name, rows in batch["tables"].items():
            for row in rows:
                row = copy.deepcopy(row)
                for column in key_columns & set(row):
                    if row[column] is not None:
                        row[column] = f"{row[column]}-{copy_no}"
                tables[name].append(row)
    counts = {stage: {k: v * copies for k, v in c.items()} for stage, c in batch["stage_counts"].items()}
    return {"run_id": batch["run_id"], "tables": tables, "stage_counts": counts}


@pytest.mark.unit
def test_batch_with_forty_percent_broken_rows_fails_the_critical_suite():
    batch = scaled_batch(5)
    frames = frames_from_rows(batch["tables"])
    broken = break_share(frames, 0.4)
    outcome = validate(batch, frames)

    assert outcome.critical_failed
    assert failed(outcome, "entity_mentions") >= {
        "expect_column_values_to_not_be_null(entity_id)",
        "expect_column_values_to_be_in_set(label)",
        "expect_column_values_to_exist_in_reference_keys(article_id)",
    }
    assert "expect_column_values_to_be_between(confidence)" in failed(outcome, "event_mentions")
    # Exactly the broken rows are blamed, none of the clean ones.
    assert set(outcome.failing_rows["entity_mentions"]) == broken["entity_mentions"]
    assert set(outcome.failing_rows["event_mentions"]) == broken["event_mentions"]
    confidence = next(
        r for r in outcome.results if r["expectation"] == "expect_column_values_to_be_between(confidence)"
    )
    assert confidence["unexpected_count"] == len(broken["event_mentions"])
    assert json.loads(confidence["unexpected_sample"])[0] == 1.7
    assert failed(outcome, "articles") == set()


@pytest.mark.unit
def test_empty_batch_is_a_success():
    outcome = validate_tables({}, {}, {}, "run-empty", ValidateConfig())
    assert not outcome.critical_failed
    assert all(r["success"] for r in outcome.results), [r for r in outcome.results if not r["success"]]
    assert len(outcome.results) == suite_expectation_count()

    empty = frames_from_rows({table: [] for table in load_batch()["tables"]})
    outcome = validate_tables(empty, {}, {}, "run-empty", ValidateConfig())
    assert not outcome.critical_failed


@pytest.mark.unit
def test_unreconciled_stage_counts_block_even_in_quarantine_mode():
    batch = load_batch()
    batch["stage_counts"]["clean"]["rejected"] = 0  # 4 in, 3 out, 0 rejected: one item vanished
    frames = frames_from_rows(batch["tables"])
    outcome = validate(batch, frames, ValidateConfig(mode="quarantine"))
    assert outcome.critical_failed
    assert outcome.batch_failures == ["stage_counts: expect_stage_counts_to_reconcile"]
    assert not outcome.quarantinable
    row = next(r for r in outcome.results if r["suite"] == "stage_counts" and not r["success"])
    assert "clean.in == clean.out + clean.rejected + clean.dropped: 4 != 3" in row["unexpected_sample"]


@pytest.mark.unit
def test_missing_reference_key_set_is_named():
    batch = load_batch()
    frames = frames_from_rows(batch["tables"])
    reference = reference_of(frames)
    del reference["story_id"]
    with pytest.raises(ValueError, match="story_id"):
        validate_tables(frames, reference, batch["stage_counts"], batch["run_id"], ValidateConfig())


@pytest.mark.slow
def test_data_docs_keep_only_the_last_runs(tmp_path):
    batch = load_batch()
    frames = frames_from_rows(batch["tables"])
    docs = tmp_path / "data_docs"
    cfg = ValidateConfig(data_docs_retention_runs=2)
    for run in ("run-a", "run-b", "run-c"):
        outcome = validate({**batch, "run_id": run}, frames, cfg, docs_dir=docs)
    assert outcome.docs_index == docs / "index.html"
    index = outcome.docs_index.read_text(encoding="utf-8")
    assert "run-c" in index and "run-b" in index and "run-a" not in index
    pages = {p.parts[-3] for p in (docs / "validations").rglob("*.html")}
    assert pages == {"run-b", "run-c"}
    assert not list((docs / "_results").rglob("*run-a*"))


@pytest.mark.slow
def test_articles_suite_on_100k_rows(capsys):
    rows = 100_000
    rng = np.random.default_rng(3)
    ids = [f"a{i:09d}" for i in range(rows)]
    fetched = pd.Timestamp("2025-03-01T12:00:00Z")
    articles = pd.DataFrame(
        {
            "article_id": ids,
            "doc_id": [f"d{i:09d}" for i in range(rows)],
            "run_id": "run-bench",
            "source": rng.choice(["wire-a", "wire-b", "daily-c"], rows),
            "url": [f"https://news.example.org/{i}" for i in range(rows)],
            "title": "A headline",
            "author": None,
            "published_at": fetched - pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
            "language": "en",
            "dateline": None,
            "text": "Body text of a synthetic article.",
            "word_count": rng.integers(20, 2_000, rows).astype("int32"),
            "content_hash": [hashlib.sha256(i.encode()).hexdigest() for i in ids],
            "duplicate_of": None,
            "near_duplicate_of": None,
            "similarity": np.nan,
            "fetched_at": fetched,
            "site_name": "Example",
            "canonical_url": None,
            "item_uri": None,
            "authors": None,
        }
    )
    planted = rng.choice(rows, size=10, replace=False)
    articles.loc[planted, "word_count"] = 0
    started = time.perf_counter()
    outcome = validate_tables(
        {"articles": articles}, {"article_id": set(ids)}, {}, "run-bench", ValidateConfig()
    )
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nvalidate 100k articles: {seconds:.2f} s (GX validation {outcome.seconds:.2f} s)")
    assert failed(outcome, "articles") == {"expect_column_values_to_be_between(word_count)"}
    assert set(outcome.failing_rows["articles"]) == {int(p) for p in planted}
