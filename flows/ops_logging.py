"""Logs where operators look: stage progress and the run summary go to the Prefect run logger at
INFO, so the flow run's Logs tab in the UI shows them; the console only shows warnings (none
with `--quiet`), and Dask's INFO chatter stays off both.

Prefect reads its logging settings when it is first imported, so `logging_env` must be applied
before that (the CLI does it first thing); a flow served by `wirelake serve` inherits it.
"""

from __future__ import annotations

import logging
from typing import Any

_fallback = logging.getLogger("wirelake")


def logging_env(quiet: bool = False) -> dict[str, str]:
    """Environment for Prefect and Dask: run logs at INFO to the API, the console quieter."""
    return {
        "PREFECT_LOGGING_LEVEL": "INFO",
        # The console handler of Prefect's logging.yml (the root and flow-run loggers print through it).
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL" if quiet else "WARNING",
        # Dask workers configure their logging from this (LocalCluster processes inherit it).
        "DASK_LOGGING__DISTRIBUTED": "warning",
    }


def quiet_dask() -> None:
    """Dask's own loggers in this process (scheduler, nanny): warnings and above only."""
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker",
                 "distributed.core", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The current Prefect flow/task run's logger (its lines reach the UI), else a plain logger."""
    try:
        from prefect.exceptions import MissingContextError
        from prefect.logging import get_run_logger

        try:
            return get_run_logger()
        except MissingContextError:
            return _fallback
    except ImportError:  # pragma: no cover - Prefect is a dependency
        return _fallback


def stage_started(stage: str, rows_in: int | None) -> None:
    rows = f" with {rows_in} rows in" if rows_in is not None else ""
    run_logger().info("stage %s started%s", stage, rows)


def stage_finished(stage: str, rows_out: int | None) -> None:
    rows = f": {rows_out} rows out" if rows_out is not None else ""
    run_logger().info("stage %s finished%s", stage, rows)


def log_summary(summary: dict[str, Any]) -> None:
    """The run's outcome, one line per stage, source and failed expectation, at INFO (the console,
    which prints the same summary as a table, shows warnings only; the run's Failed state says the rest)."""
    logger = run_logger()
    logger.info("run %s: %s (snapshot %s)%s", summary["run_id"], summary["status"], summary.get("snapshot_id"),
               f": {summary['message']}" if summary.get("message") else "")
    for stage, c in summary.get("stages", {}).items():
        logger.info("  %-8s in %6d  out %6d  rejected %5d  %7.2f s", stage, c["in"], c["out"], c["rejected"],
                    c["seconds"])
    for source in summary.get("source_health") or []:
        logger.info("  source %s: %s (%d items, %d rejects)%s", source["source"], source["status"], source["items"],
                   source.get("rejects", source["fetch_rejects"]),
                   f": {source['error']}" if source.get("error") else "")
    for failure in summary.get("failures", []):
        logger.info("  expectation failed (%s) %s: %s, %s unexpected", failure["severity"], failure["suite"],
                   failure["expectation"], failure["unexpected_count"])
