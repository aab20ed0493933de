"""`wirelake runs`: the run history, read from the `runs` table and drawn to fit 80 columns.

The table view keeps what an operator scans for (when, what happened, how much, which snapshot,
which sources are sick) and drops the rest; `--format csv|json` gives every column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.table import Table

from flows.health import health_brief

COLUMNS = ("run_id", "kind", "status", "started_at", "finished_at", "fetched", "rejected", "new", "duplicates",
           "snapshot_id", "source_health", "config_hash", "message")
# Added after the first release: a warehouse no run has written since lacks them (readers never alter it).
LATER_COLUMNS = ("snapshot_id", "source_health")


def read_runs(con: Any, limit: int) -> tuple[list[str], list[tuple]]:
    """The latest `limit` runs, newest first, every column this warehouse has."""
    have = {row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'").fetchall()}
    columns = [c for c in COLUMNS if c in have or c not in LATER_COLUMNS]
    select = ", ".join(f'"{c}"' for c in columns)  # from the constant COLUMNS, never data
    rel = con.execute(f"SELECT {select} FROM runs ORDER BY started_at DESC LIMIT ?", [limit])
    return columns, rel.fetchall()


def _when(value: Any) -> str:
    return value.strftime("%m-%d %H:%M") if isinstance(value, datetime) else ""


def runs_table(columns: list[str], rows: list[tuple]) -> Table:
    """Run id, started (UTC), status, new/rejected, snapshot, sources; ~75 columns wide."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("run", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("new", justify="right")
    table.add_column("rej", justify="right")
    table.add_column("snap", justify="right")
    table.add_column("sources", overflow="fold", min_width=10)
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        # The run id's time part repeats `started`; its random suffix is what tells two runs apart.
        run = str(r["run_id"]).rsplit("-", 1)[-1] if r.get("run_id") else ""
        status = r["status"] if r.get("kind") == "ingest" else f"{r['status']} ({r.get('kind')})"
        snapshot = r.get("snapshot_id")
        table.add_row(run, _when(r.get("started_at")), status, str(r.get("new") or 0), str(r.get("rejected") or 0),
                      "" if snapshot is None else str(snapshot), health_brief(r.get("source_health")))
    return table
