"""Load: read what the warehouse holds, stage a run's rows, publish them or record the run alone.

No Prefect here: `flows/tasks.py` wraps these in tasks. The order is the one STYLE.md asks
for: stage (compute the rows, write nothing) → validate (`flows/stages/gate.py`: Great
Expectations on the staged rows) → publish (one DuckLake transaction = one snapshot) or, on a
critical failure, publish nothing but the run's own record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from flows import progress
from flows.config import WirelakeConfig
from flows.health import check_snapshot_id, count_rejects, settle_status
from flows.records import Reject
from flows.run import Lake, record_run_only
from flows.run_records import (
    Outcome,
    RunSummary,
    articles_table,
    documents_table,
    extract_tables,
    rejects_table,
    signatures_table,
)
from flows.stages.clean import Cleaned
from flows.stages.dedup import ARTICLE_COLUMNS, DedupResult, PriorIndex
from flows.stages.extract import ExtractPrior, ExtractResult
from flows.stages.fetch import FetchResult, FetchState
from warehouse.store import StagedRun, kill_at, to_arrow

# A staged run, and the raw bodies of its new documents (stored just before it publishes).
Staged = tuple[StagedRun, dict[str, bytes]]


def read_fetch_state(lake: Lake) -> FetchState:
    """What fetch must know: validators and hashes per URL, and the stored documents' ids."""
    wh, con = lake.warehouse, lake.con
    stored_documents = wh.read_table(con, "documents", ["doc_id"]).column("doc_id").to_pylist()
    return FetchState.from_arrow(wh.read_table(con, "fetch_state"), stored_documents)


def read_dedup_prior(lake: Lake, config: WirelakeConfig, needed: bool = True) -> PriorIndex:
    """The stored articles' keys and MinHash signatures; not read when there is nothing to dedup."""
    if not needed:
        return PriorIndex.empty(config.dedup)
    wh, con = lake.warehouse, lake.con
    return PriorIndex.from_arrow(wh.read_table(con, "articles", list(ARTICLE_COLUMNS)),
                                 wh.read_table(con, "article_signatures"), config.dedup)


def read_extract_prior(lake: Lake, needed: bool = True) -> ExtractPrior:
    """What extraction links to (entities, events, stories); not read when no article is new."""
    if not needed:
        return ExtractPrior.empty()
    return ExtractPrior.from_arrow(extract_prior_tables(lake))


def extract_prior_tables(lake: Lake) -> dict[str, pa.Table]:
    """The stored tables an extraction prior is built from."""
    wh, con = lake.warehouse, lake.con
    tables = {name: wh.read_table(con, name) for name in
              ("entities", "events", "event_arguments", "event_mentions", "stories", "article_stories")}
    tables["articles"] = wh.read_table(con, "articles", ["article_id", "source", "published_at", "fetched_at",
                                                         "title"])
    return tables


def reprocess_prior_tables(lake: Lake) -> dict[str, pa.Table]:
    """The stored tables a reprocess prior is built from: the extract prior's, plus who mentions
    and quotes which entity (so entities only the reprocessed articles refer to can go)."""
    wh, con = lake.warehouse, lake.con
    tables = extract_prior_tables(lake)
    tables["entity_mentions"] = wh.read_table(con, "entity_mentions", ["article_id", "entity_id"])
    tables["quotes"] = wh.read_table(con, "quotes", ["article_id", "speaker_entity_id"])
    return tables


@dataclass
class RunRows:
    """What an ingest run stages: each stage's result, as the flow passed them along."""

    fetched: FetchResult
    cleaned: Cleaned
    deduped: DedupResult
    extracted: ExtractResult | None

    @property
    def rejects(self) -> list[Reject]:
        extracted = self.extracted.rejects if self.extracted is not None else []
        return [*self.fetched.rejects, *self.cleaned.rejects, *extracted]


def run_tables(rows: RunRows, run_id: str, config: WirelakeConfig) -> dict[str, pa.Table]:
    """The run's rows per table, before the warehouse filters out what it holds."""
    tables: dict[str, pa.Table] = {"documents": documents_table(rows.fetched.documents, run_id),
                                   # Same transaction as the articles: a rolled-back run must not
                                   # mark its pages as stored.
                                   "fetch_state": to_arrow("fetch_state", rows.fetched.fetch_state),
                                   "articles": articles_table(rows.deduped.articles_to_store(), run_id)}
    knobs = config.dedup
    tables["article_signatures"] = signatures_table(rows.deduped.signatures, knobs.num_perm, knobs.seed,
                                                    knobs.shingle_size)
    if rows.extracted is not None:
        tables.update(extract_tables(rows.extracted))
    tables["rejects"] = rejects_table(rows.rejects, run_id)
    return tables


def stage_run(lake: Lake, rows: RunRows, summary: RunSummary, config: WirelakeConfig) -> Staged:
    """Stage the run's rows (nothing is written) and keep the raw bodies of new documents."""
    progress.stage_started("stage")
    with summary.stage("stage") as count:
        tables = run_tables(rows, summary.run_id, config)
        staged = lake.warehouse.stage(lake.con, tables)
        new_docs = set(staged.tables["documents"].column("doc_id").to_pylist()) if "documents" in staged.tables else set()
        bodies = {d.sha256: d.body for d in rows.fetched.documents if d.doc_id in new_docs}
    count.rows_in = sum(t.num_rows for t in tables.values())
    count.rows_out = sum(t.num_rows for t in staged.tables.values())
    count.extra.update({f"skipped_{k}": v for k, v in staged.skipped.items() if v})
    summary.rejected = staged.rows("rejects")
    progress.stage_finished("stage", count.rows_out)
    return staged, bodies


def publish_run(lake: Lake, staged_and_bodies: Staged, outcome: Outcome,
                summary: RunSummary, config: WirelakeConfig) -> RunSummary:
    """Commit the run as one snapshot, or (critical failure) record only the run and its results."""
    staged, bodies = staged_and_bodies
    progress.stage_started("publish")
    rejects = staged.tables.get("rejects")
    count_rejects(summary.source_health, rejects.column("source").to_pylist() if rejects is not None else [])
    with summary.stage("publish") as count:
        # Counted before the run's record is built: that record (stage_counts) is part of the commit.
        count.rows_in = sum(t.num_rows for t in staged.tables.values())
        count.rows_out = 0 if outcome.critical_failed else count.rows_in
        if outcome.critical_failed:
            summary.status = "not_published"
            failed = sorted({r["expectation"] for r in outcome.results if not r["success"]
                             and r["severity"] == "critical"})
            summary.message = "critical expectations failed: " + ", ".join(failed)
            record_run_only(lake, summary, outcome.results, staged.tables.get("rejects"))
        else:
            for sha, body in bodies.items():  # raw bytes first: a crash leaves only orphans
                lake.warehouse.store_raw(sha, body)
            # A reprocess adds no articles; it publishes when it rewrote some.
            wrote = summary.new or (summary.kind == "reprocess" and staged.rows("articles"))
            summary.status = settle_status(summary, bool(wrote))
            summary.finished_at = datetime.now(UTC)
            summary.snapshot_id = lake.warehouse.next_snapshot_id(lake.con)
            tables = dict(staged.tables)
            tables["validation_results"] = to_arrow("validation_results", outcome.results)
            tables["quarantine"] = to_arrow("quarantine", outcome.quarantine)
            tables["runs"] = to_arrow("runs", [summary.runs_row()])
            lake.warehouse.publish(lake.con, StagedRun(tables=tables, rules=staged.rules, scopes=staged.scopes),
                                   fault_hook=kill_at(config.fault_point))
            check_snapshot_id(summary, lake.warehouse.snapshot_id(lake.con))
    progress.stage_finished("publish", count.rows_out)
    return summary
