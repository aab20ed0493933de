"""The `wirelake` console script.

Prefect, GX and spaCy are imported inside the commands that need them, so `--help`
and `wirelake sql` start fast.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="wirelake: news in, events out. Fetch, clean, deduplicate, extract and load news into a "
    "DuckLake warehouse, validated by Great Expectations on every run.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
# soft_wrap: an error is one line even when stderr is not a terminal (rich wraps at 80 columns).
err = Console(stderr=True, soft_wrap=True)

WAREHOUSE_HELP = "Warehouse directory. Default: $WIRELAKE_WAREHOUSE, else ./warehouse."
CONFIG_HELP = "A TOML file of config overrides. Default: $WIRELAKE_CONFIG."
RUN_EPILOG = (
    "Exit codes: 0 the run was published (or had no new data); 1 error (bad arguments, a failed stage, "
    "another run holds the warehouse); 2 the run was not published because a critical expectation failed; "
    "3 degraded: every input of some source failed (the other sources' rows were published)."
)


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _prefect_defaults(quiet: bool = False) -> None:
    # No telemetry, and room for the temporary API server's first start (about 17 s here).
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Run logs at INFO reach the Prefect API (the UI's Logs tab); the console shows warnings only.
    from flows.ops_logging import logging_env

    for key, value in logging_env(quiet).items():
        if quiet and key == "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL":
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)


def _config(config_file: Path | None, warehouse: Path | None, **overrides: Any):
    from flows.config import WirelakeConfig

    try:
        return WirelakeConfig.load(config_file, warehouse=warehouse, **overrides)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def _warehouse(warehouse: Path | None, config_file: Path | None = None):
    from warehouse.store import Warehouse

    cfg = _config(config_file, warehouse)
    return Warehouse(cfg.warehouse, cfg.catalog_url, cfg.data_path)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"wirelake {version('wirelake')}\n")
        raise typer.Exit(0)


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """wirelake: news in, events out."""


@app.command()
def doctor(
    warehouse: Path | None = typer.Option(None, "--warehouse", help=WAREHOUSE_HELP),
    config_file: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """Check Python, pins, DuckDB extensions, the catalog, the spaCy model, the Prefect API and free disk.

    Exits 0 only when every check passes."""
    _prefect_defaults()
    from prefect.settings import PREFECT_API_URL

    from flows.doctor import run_checks

    checks = run_checks(_config(config_file, warehouse), PREFECT_API_URL.value())
    for check in checks:
        mark = "[green]ok  [/green]" if check.ok else "[red]FAIL[/red]"
        out.print(f"{mark} {check.name:<8} {check.detail}", soft_wrap=True, highlight=False)
    raise typer.Exit(0 if all(c.ok for c in checks) else 1)


@app.command(epilog=RUN_EPILOG)
def run(
    sources_file: Path | None = typer.Option(None, "--sources", help="A sources file (TOML, see README)."),
    source: list[str] = typer.Option([], "--source", help="A local folder/file, feed URL or page URL. Repeatable."),
    warehouse: Path | None = typer.Option(None, "--warehouse", help=WAREHOUSE_HELP),
    config_file: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    validation_mode: str | None = typer.Option(None, "--validation-mode",
                                               help="fail (default): a critical failure publishes nothing; "
                                               "quarantine: failing rows go to the quarantine table."),
    lock_wait: float = typer.Option(0.0, "--lock-wait", help="Seconds to wait if another run is writing."),
    runner: str | None = typer.Option(None, "--task-runner",
                                      help="thread (default): stages run in this process; dask: on a Dask cluster."),
    dask_address: str | None = typer.Option(None, "--dask-address",
                                            help="tcp://HOST:PORT of a Dask scheduler; default: a LocalCluster."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar and no log lines on the console "
                               "(the Prefect run log still gets them)."),
) -> None:
    """Run the ingestion flow once: fetch → clean → dedup → extract → load → validate → publish."""
    overrides: dict[str, Any] = {"task_runner": runner, "dask_address": dask_address}
    if dask_address and not runner:
        overrides["task_runner"] = "dask"
    if validation_mode:
        overrides["validate"] = {"mode": validation_mode}
    cfg = _config(config_file, warehouse, **overrides)
    sources = _sources(sources_file, source)
    summary = run_once(cfg, sources, lock_wait=lock_wait, show_progress=not quiet, quiet=quiet)
    print_summary(summary)
    raise typer.Exit(summary["exit_code"])


def run_once(cfg, sources, lock_wait: float = 0.0, show_progress: bool = True,
             flow_call: Any = None, quiet: bool = False) -> dict[str, Any]:
    """Run the flow in this process and return its summary dict (exit_code included).

    `flow_call` (no arguments, returns the summary dict) runs another flow in its place.
    """
    _prefect_defaults(quiet)
    from flows.ops_logging import quiet_dask

    quiet_dask()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from flows import progress
    from flows.ingest import run_ingest
    from warehouse.store import WarehouseBusy

    class Bar:
        def __init__(self, bar: Progress):
            self.bar, self.task = bar, bar.add_task("starting Prefect", total=len(progress.STAGES))

        def stage_started(self, stage: str, rows_in: int | None) -> None:
            rows = f" ({rows_in} in)" if rows_in is not None else ""
            self.bar.update(self.task, description=f"{stage}{rows}")

        def stage_finished(self, stage: str, rows_out: int | None) -> None:
            self.bar.advance(self.task)

    bar = Progress(TextColumn("{task.description:<28}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), console=err, transient=True, disable=not show_progress)
    try:
        with bar, progress.listening(Bar(bar)):
            return flow_call() if flow_call else run_ingest(cfg, sources, lock_wait=lock_wait)
    except WarehouseBusy as exc:
        err.print(f"[red]error:[/red] {exc}")
        return {"run_id": None, "status": "skipped", "exit_code": 1, "message": str(exc)}
    except Exception as exc:  # a failed stage: the run record says failed; say it in one line here
        err.print(f"[red]error:[/red] run failed: {type(exc).__name__}: {exc}")
        return {"run_id": None, "status": "failed", "exit_code": 1, "message": str(exc)}


@app.command(epilog=RUN_EPILOG)
def reprocess(
    since: str | None = typer.Option(None, "--since", help="Only documents fetched on or after this UTC date "
                                     "(ISO, e.g. 2024-03-01). Default: every stored document."),
    warehouse: Path | None = typer.Option(None, "--warehouse", help=WAREHOUSE_HELP),
    config_file: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar and no log lines on the console "
                               "(the Prefect run log still gets them)."),
) -> None:
    """Re-run clean → extract → validate → publish from the stored raw documents, without refetching."""
    from flows.stages.reprocess import since_datetime

    try:
        since_at = since_datetime(since)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    cfg = _config(config_file, warehouse)
    summary = reprocess_once(cfg, since_at, show_progress=not quiet, quiet=quiet)
    print_summary(summary)
    raise typer.Exit(summary["exit_code"])


def reprocess_once(cfg, since: datetime | None = None, show_progress: bool = True,
                   quiet: bool = False) -> dict[str, Any]:
    """Run the reprocess flow in this process and return its summary dict (exit_code included)."""
    from flows.reprocess import run_reprocess

    return run_once(cfg, [], show_progress=show_progress, flow_call=lambda: run_reprocess(cfg, since),
                    quiet=quiet)


def print_summary(summary: dict[str, Any]) -> None:
    if summary.get("run_id") is None:
        return
    table = Table(title=f"run {summary['run_id']}: {summary['status']}", title_justify="left")
    for col in ("stage", "in", "out", "rejected", "seconds", "details"):
        table.add_column(col, justify="left" if col in ("stage", "details") else "right")
    for stage, c in summary["stages"].items():
        details = ", ".join(f"{k}={v}" for k, v in c.items() if k not in ("in", "out", "rejected", "seconds") and v)
        table.add_row(stage, str(c["in"]), str(c["out"]), str(c["rejected"]), f"{c['seconds']:.2f}", details)
    out.print(table)
    out.print(f"documents {summary['fetched']} · new articles {summary['new']} · duplicates {summary['duplicates']}"
              f" · rejects {summary['rejected']} · expectations {summary['expectations']}"
              f" ({summary['failed_expectations']} failed)")
    for failure in summary.get("failures", []):
        out.print(f"  [yellow]{failure['severity']}[/yellow] {failure['suite']}: {failure['expectation']}"
                  f" ({failure['unexpected_count']} unexpected)")
    if summary.get("message"):
        out.print(summary["message"])


@app.command()
def sql(
    query: str = typer.Argument(..., help="One SQL query, e.g. \"SELECT title FROM articles LIMIT 5\"."),
    warehouse: Path | None = typer.Option(None, "--warehouse", help=WAREHOUSE_HELP),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, csv, or json (one JSON array)."),
    config_file: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """Query the warehouse, read-only: writes, ATTACH and file access are refused."""
    import duckdb

    wh = _warehouse(warehouse, config_file)
    try:
        with wh.reader() as con:
            wh.check_read_only_sql(con, query)
            rel = con.execute(query)
            columns = [d[0] for d in rel.description] if rel.description else []
            rows = rel.fetchall() if columns else []
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except (duckdb.InvalidInputException, duckdb.PermissionException) as exc:
        err.print(f"[red]error:[/red] refused: the warehouse is read-only here and file access is off "
                  f"({str(exc).splitlines()[0]})")
        raise typer.Exit(1) from None
    except duckdb.Error as exc:
        err.print(f"[red]error:[/red] {str(exc).splitlines()[0]}")
        raise typer.Exit(1) from None
    _print_rows(columns, rows, fmt)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _print_rows(columns: list[str], rows: list[tuple], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps([{c: _jsonable(v) for c, v in zip(columns, r, strict=True)} for r in rows],
                                    ensure_ascii=False) + "\n")
    elif fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([[json.dumps(_jsonable(v)) if isinstance(v, list | dict) else v for v in r] for r in rows])
    else:
        table = Table(*columns)
        for r in rows:
            table.add_row(*["" if v is None else str(v) for v in r])
        out.print(table)


@app.command()
def runs(
    warehouse: Path | None = typer.Option(None, "--warehouse", help=WAREHOUSE_HELP),
    limit: int = typer.Option(20, "--limit", help="How many of the latest runs."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table (fits 80 columns), csv or json "
                                     "(every column)."),
    config_file: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """The run history, newest first: status, counts, DuckLake snapshot and per-source health."""
    from flows.run_table import read_runs, runs_table

    wh = _warehouse(warehouse, config_file)
    try:
        with wh.reader() as con:
            columns, rows = read_runs(con, limit)
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if fmt is OutputFormat.table:
        out.print(runs_table(columns, rows))
    else:
        _print_rows(columns, rows, fmt)


@app.command()
def serve(
    cron: str = typer.Option("*/15 * * * *", "--cron", help="When to run, as a cron expression (UTC)."),
    interval: float | None = typer.Option(None, "--interval", min=1,
                                          help="Run every this many seconds instead of on --cron."),
    sources_file: Path | None = typer.Option(None, "--sources", help="A sources file (TOML, see README)."),
    source: list[str] = typer.Option([], "--source", help="A local folder/file, feed URL or page URL. Repeatable."),
    warehouse: Path | None = typer.Option(None, "--warehouse", help=WAREHOUSE_HELP),
    config_file: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    name: str = typer.Option("scheduled", "--name", help="The deployment's name."),
) -> None:
    """Serve the ingestion flow on a schedule; needs a running Prefect server (PREFECT_API_URL)."""
    _prefect_defaults()
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        err.print("[red]error:[/red] wirelake serve needs a running Prefect API server, or no scheduled run "
                  "would ever start. Start one with `prefect server start` and set "
                  "PREFECT_API_URL=http://127.0.0.1:4200/api")
        raise typer.Exit(1)
    try:
        from prefect.client.schemas.schedules import construct_schedule

        construct_schedule(cron=cron)
    except ValueError as exc:
        err.print(f"[red]error:[/red] --cron {cron!r} is not a cron expression ({exc})")
        raise typer.Exit(1) from None
    cfg = _config(config_file, warehouse)
    sources = _sources(sources_file, source)
    from prefect import serve as prefect_serve

    from flows.ingest import ingest_deployment

    when = f"{interval:g} s" if interval else repr(cron)
    out.print(f"serving wirelake every {when} into {cfg.warehouse.resolve()} ({len(sources)} sources); Ctrl-C stops")
    prefect_serve(ingest_deployment(cfg, sources, cron, name=name, interval_seconds=interval))


def _sources(sources_file: Path | None, source: list[str]):
    from flows.sources import read_sources_file, sources_from_args

    try:
        sources = (read_sources_file(sources_file) if sources_file else []) + sources_from_args(source)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if not sources:
        err.print("[red]error:[/red] no sources: pass --sources FILE or --source PATH_OR_URL")
        raise typer.Exit(1)
    return sources


@app.command()
def report(
    warehouse: Path | None = typer.Option(None, "--warehouse", help=WAREHOUSE_HELP),
    output: Path | None = typer.Option(None, "--output", help="Where to write it. Default: <warehouse>/reports/index.html"),
    config_file: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """Write a self-contained HTML run dashboard (history, stage counts, validation) and print its path."""
    from flows.report import build_report

    wh = _warehouse(warehouse, config_file)
    target = output or wh.reports_dir / "index.html"
    docs_index = wh.reports_dir / "data_docs" / "index.html"
    try:
        with wh.reader() as con:
            path = build_report(con, target, docs_index if docs_index.exists() else None)
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    sys.stdout.write(f"{path}\n")


if __name__ == "__main__":  # pragma: no cover
    app()
