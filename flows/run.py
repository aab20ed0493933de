"""The run scope both flows share: the write lock, crash reconciliation, the summary, failed runs.

`with run_scope(config, "ingest") as (lake, summary):` holds the warehouse's write lock for the
whole run (so two runs never interleave their reads and writes), opens the writer connection,
marks a run that died holding the lock as Crashed, and records this run as failed if anything
in the block raises. The stages between receive `lake` and fill `summary`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from flows.config import WirelakeConfig
from flows.health import check_snapshot_id
from flows.run_records import RunSummary, new_run_id
from warehouse.store import StagedRun, Warehouse, to_arrow

log = logging.getLogger("wirelake.run")


@dataclass
class Lake:
    """The open warehouse for one run: the store and its writer connection."""

    warehouse: Warehouse
    con: Any  # duckdb.DuckDBPyConnection; Any keeps Prefect from trying to validate it
    stale_holder: str = ""  # the lock file's text left by a run that died holding the lock


@contextlib.contextmanager
def run_scope(config: WirelakeConfig, kind: str) -> Iterator[tuple[Lake, RunSummary]]:
    """One run of kind `kind` ("ingest", "reprocess"): its open lake and its summary."""
    summary = RunSummary(run_id=new_run_id(), kind=kind, started_at=datetime.now(UTC),
                         config_hash=config.config_hash(), config_json=config.model_dump_json())
    with open_lake(config, summary, holder=lock_holder()) as lake:
        reconcile_crashed(lake.stale_holder)
        yield lake, summary


@contextlib.contextmanager
def open_lake(config: WirelakeConfig, summary: RunSummary, holder: str = "") -> Iterator[Lake]:
    """Hold the write lock, open the writer connection, and record a failed run on any error.

    `holder` names this run in the lock file; `Lake.stale_holder` is what a previous holder that
    died without releasing left there.
    """
    warehouse = Warehouse(config.warehouse, config.catalog_url, config.data_path)
    with warehouse.write_lock(config.lock_wait_seconds, holder=holder) as stale:
        con = warehouse.connect()
        try:
            warehouse.ensure_schema(con)
            removed = warehouse.delete_orphaned_files(con)
            if removed:
                log.warning("warehouse %s: removed %d data files left by an interrupted run", warehouse.root, removed)
            lake = Lake(warehouse, con, stale_holder=stale)
            try:
                yield lake
            except BaseException as exc:
                summary.status = "failed"
                summary.message = f"{type(exc).__name__}: {exc}"
                log.error("run %s failed:\n%s", summary.run_id, traceback.format_exc())
                with contextlib.suppress(Exception):
                    record_run_only(lake, summary, [], None)
                raise
        finally:
            con.close()


def record_run_only(lake: Lake, summary: RunSummary, results: list[dict], rejects: pa.Table | None) -> None:
    """A run that publishes no data still leaves its record, its validation results and rejects."""
    summary.finished_at = datetime.now(UTC)
    summary.snapshot_id = lake.warehouse.next_snapshot_id(lake.con)
    tables = {"runs": to_arrow("runs", [summary.runs_row()]),
              "validation_results": to_arrow("validation_results", results)}
    if rejects is not None:
        tables["rejects"] = rejects
    lake.warehouse.publish(lake.con, StagedRun(tables=tables))
    check_snapshot_id(summary, lake.warehouse.snapshot_id(lake.con))


def lock_holder() -> str:
    """How this run names itself in the warehouse's lock file."""
    from prefect.runtime import flow_run

    return f"flow_run {flow_run.id}" if flow_run.id else ""


def reconcile_crashed(stale_holder: str) -> None:
    """A run that died holding the write lock is still RUNNING in Prefect: mark it Crashed.

    Only a holder that never released the lock leaves its name in the lock file, so this never
    touches a run that is alive (a live holder would still hold the lock we now hold).
    """
    match = re.search(r"flow_run ([0-9a-f-]{36})", stale_holder)
    if not match:
        return
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        stale = client.read_flow_run(match.group(1))
        if stale.state is not None and not stale.state.is_final():
            client.set_flow_run_state(stale.id, Crashed(message="died while holding the warehouse write lock; "
                                                        "nothing it staged was published"), force=True)


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    """The run's summary as the CLI prints it and `run_ingest`/`run_reprocess` return it."""
    failed = [r for r in summary.validation if not r.get("success")]
    return {
        "run_id": summary.run_id, "status": summary.status, "exit_code": summary.exit_code,
        "message": summary.message, "fetched": summary.fetched, "rejected": summary.rejected,
        "new": summary.new, "duplicates": summary.duplicates, "snapshot_id": summary.snapshot_id,
        "source_health": summary.source_health,
        "stages": {k: v.as_dict() for k, v in summary.stages.items()},
        "expectations": len(summary.validation), "failed_expectations": len(failed),
        "failures": [{"suite": r["suite"], "expectation": r["expectation"], "severity": r["severity"],
                      "unexpected_count": r.get("unexpected_count")} for r in failed][:20],
    }
