"""The report's run sections: stage counts drawn one unit per chart, runs linked to their snapshots.

A stage's "in" and "out" are not all the same unit: fetch reads sources and yields items, clean,
dedup and extract count articles, stage and publish count table rows, and validate yields
expectations. One chart per unit keeps a bar of 5 articles from sitting beside one of 900 rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flows.health import health_brief

# (chart title, [(stage, counts drawn)]) — the counts of each chart share one unit.
STAGE_CHARTS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("Items and articles per stage", (("fetch", ("out", "rejected")), ("replay", ("out", "rejected")),
                                      ("clean", ("in", "out", "rejected")), ("dedup", ("in", "out", "dropped")),
                                      ("extract", ("in", "out", "rejected")))),
    ("Warehouse rows staged and published", (("stage", ("in", "out")), ("validate", ("in",)),
                                             ("publish", ("in", "out")))),
)
# What a stage's in → out count, for the table under the charts.
STAGE_UNITS = {"fetch": "sources → items", "replay": "articles → items", "clean": "items → articles",
               "dedup": "articles", "extract": "articles", "stage": "rows", "validate": "rows → expectations",
               "publish": "rows"}
RUN_COLUMNS = ("run_id", "kind", "started_at", "finished_at", "status", "fetched", "rejected", "new", "duplicates",
               "stage_counts", "message")
LATER_RUN_COLUMNS = ("snapshot_id", "source_health")


def runs_sql(has_later_columns: bool) -> str:
    """The history query; a warehouse no run has opened since the later columns came lacks them."""
    columns = list(RUN_COLUMNS) + (list(LATER_RUN_COLUMNS) if has_later_columns else
                                   [f"NULL AS {c}" for c in LATER_RUN_COLUMNS])
    return f"SELECT {', '.join(columns)} FROM runs ORDER BY started_at DESC LIMIT ?"  # constant names only


def stage_charts(counts: dict[str, dict[str, Any]],
                 grouped_bar_chart: Callable[[list[str], dict[str, list[float]]], str]) -> str:
    """One grouped bar chart per unit, over the stages this run has."""
    parts = []
    for title, stages in STAGE_CHARTS:
        present = [(stage, keys) for stage, keys in stages if stage in counts]
        if not present:
            continue
        keys = [k for k in ("in", "out", "rejected", "dropped") if any(k in ks for _, ks in present)]
        series = {k: [float((counts[s].get(k) or 0) if k in ks else 0) for s, ks in present] for k in keys}
        parts.append(f'<h3 class="stage-chart">{title}</h3>' + grouped_bar_chart([s for s, _ in present], series))
    return "".join(parts)


def history_rows(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run history rows with duration, per-source health and a link to the run's snapshot."""
    rows = []
    for run in runs:
        duration = None
        if run["finished_at"] and run["started_at"]:
            duration = f"{(run['finished_at'] - run['started_at']).total_seconds():.1f} s"
        snapshot = run.get("snapshot_id")
        link = f'<a href="#snapshot-{int(snapshot)}" data-snapshot="{int(snapshot)}">{int(snapshot)}</a>' \
            if snapshot is not None else ""
        rows.append({**run, "duration": duration, "snapshot": link, "sources": health_brief(run.get("source_health")),
                     "_raw": ("snapshot",),
                     "_class": "ok" if run["status"] in ("published", "no_new_data") else "bad"})
    return rows


def snapshots(con: Any, limit: int) -> list[dict[str, Any]]:
    """The lake's latest snapshots (id, time, changes), or none when `con` is not a DuckLake."""
    try:
        cursor = con.execute("SELECT snapshot_id, snapshot_time, changes FROM lake.snapshots() "
                             "ORDER BY snapshot_id DESC LIMIT ?", [limit])
    except Exception:  # a plain DuckDB (tests) or an older DuckLake: no snapshot list
        return []
    return [{"snapshot_id": sid, "snapshot_time": at, "changes": _changes(changes)}
            for sid, at, changes in cursor.fetchall()]


def _changes(changes: Any) -> str:
    if isinstance(changes, dict):
        return "; ".join(f"{kind}: {len(v) if isinstance(v, list) else v}" for kind, v in changes.items())
    return "" if changes is None else str(changes)


def snapshot_rows(rows: list[dict[str, Any]], run_by_snapshot: dict[int, str]) -> list[dict[str, Any]]:
    """Each snapshot row carries an id anchor the run history links to, and the run it published."""
    return [{**row, "anchor": f'<span id="snapshot-{int(row["snapshot_id"])}">{int(row["snapshot_id"])}</span>',
             "run": run_by_snapshot.get(int(row["snapshot_id"]), ""), "_raw": ("anchor",)} for row in rows]
