"""The gate between stage and publish: validate a staged run, and hold back quarantined rows.

No Prefect here: `flows/tasks.py` wraps `validate_staged` in a task. Great Expectations (a
multi-second import) is imported only when there is something to validate.
"""

from __future__ import annotations

from flows import progress
from flows.config import WirelakeConfig
from flows.run import Lake
from flows.run_records import Outcome, RunSummary
from warehouse.store import StagedRun

# Bookkeeping tables have no suite: they describe the run rather than the news.
UNVALIDATED = ("article_signatures", "fetch_state", "runs", "validation_results", "quarantine")
# Keys that referential checks resolve against stored ∪ staged rows: key -> (table, column).
REFERENCE_KEYS = {"article_id": ("articles", "article_id"), "entity_id": ("entities", "entity_id"),
                  "event_id": ("events", "event_id"), "story_id": ("stories", "story_id"),
                  "doc_id": ("documents", "doc_id")}


def validate_staged(lake: Lake, staged_and_bodies: tuple[StagedRun, dict[str, bytes]], summary: RunSummary,
                    config: WirelakeConfig) -> Outcome:
    """Great Expectations over the staged rows; referential checks see stored ∪ staged keys.

    In quarantine mode, rows failing a critical expectation (and rows that point at them) are
    moved from the staged tables into quarantine rows, and the rest publishes. A failure that no
    row can be blamed for (e.g. stage counts that do not reconcile) still stops the run.
    """
    from flows.stages.validate import split_quarantine, validate_tables, without_quarantined

    staged, _ = staged_and_bodies
    progress.stage_started("validate")
    if not any(t.num_rows for name, t in staged.tables.items() if name not in UNVALIDATED):
        # Reliability plan case 22 allows either: the suites do handle 0 rows (tested), but a run
        # that stages nothing publishes no data, so it skips GX (and its ~4 s import) and says so.
        with summary.stage("validate") as count:
            count.extra["skipped"] = "nothing staged to validate"
        progress.stage_finished("validate", 0)
        return Outcome()
    with summary.stage("validate") as count:
        frames = {name: t.to_pandas() for name, t in staged.tables.items() if name not in UNVALIDATED}
        stage_counts = {k: v.as_dict() for k, v in summary.stages.items()}
        result = validate_tables(frames, reference_keys(lake, staged), stage_counts, summary.run_id,
                                 config.validate_, docs_dir=lake.warehouse.reports_dir / "data_docs")
        outcome = Outcome(results=result.results, critical_failed=result.critical_failed,
                          docs_index=result.docs_index)
        if result.critical_failed and config.validate_.mode == "quarantine" and result.quarantinable:
            _, outcome.quarantine = split_quarantine(frames, result)
            staged.tables.update(without_quarantined(staged.tables, frames, result))
            outcome.critical_failed = False
    count.rows_in = sum(t.num_rows for t in staged.tables.values())
    count.rows_out = len(outcome.results)
    count.extra["failed_expectations"] = sum(1 for r in outcome.results if not r["success"])
    count.extra["quarantined_rows"] = len({(q["table_name"], q["row_key"]) for q in outcome.quarantine})
    summary.validation = outcome.results
    progress.stage_finished("validate", count.rows_out)
    return outcome


def reference_keys(lake: Lake, staged: StagedRun) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key, (table, column) in REFERENCE_KEYS.items():
        stored = lake.warehouse.read_table(lake.con, table, [column]).column(column).to_pylist()
        new = staged.tables[table].column(column).to_pylist() if table in staged.tables else []
        out[key] = set(stored) | set(new)
    return out
