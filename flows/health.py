"""Source health and the run's final state: a run says in Prefect what it says in its exit code.

Pure helpers, no Prefect import at module level. A source is *failed* when every input it
had failed: it gave no item, nothing was unchanged or not modified, and it has fetch rejects
(a missing path, a refused connection, an unreadable robots.txt, a feed that never parses).
A run with a failed source is `degraded`: it still publishes what the other sources gave,
exits 3, and ends `Failed` in Prefect, so a schedule never stays green over a dead source.
A run that is not published (a critical expectation failed) also ends `Failed`, with the
failing expectations in the state's message.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

# Statuses that end the Prefect run Failed (the CLI exits non-zero for them too).
FAILING_STATUSES = ("not_published", "degraded", "failed")


def source_health(name: str, result: Any) -> dict[str, Any]:
    """One source's fetch outcome (`result` is that source's FetchResult) as a health record."""
    nothing_new = result.not_modified + result.unchanged + result.already_fetched
    items, rejects = len(result.items), len(result.rejects)
    if items or nothing_new:
        status = "partial" if rejects else "ok"
    else:
        status = "failed" if rejects else "empty"
    record: dict[str, Any] = {"source": name, "status": status, "items": items, "unchanged": nothing_new,
                              "fetch_rejects": rejects}
    if status == "failed":
        record["error"] = result.rejects[0].error[:300]
    return record


def failed_sources(health: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [h for h in health or [] if h["status"] == "failed"]


def count_rejects(health: list[dict[str, Any]] | None, sources: list[str | None]) -> None:
    """Add each source's rejects from every stage (the staged rejects' `source` column)."""
    by_source = Counter(sources)
    for record in health or []:
        record["rejects"] = by_source.get(record["source"], 0)


def settle_status(summary: Any, wrote: bool) -> str:
    """The status of a run that publishes: degraded when a source failed, else published/no_new_data."""
    failed = failed_sources(summary.source_health)
    if failed:
        names = ", ".join(h["source"] for h in failed)
        summary.message = f"degraded: every input of {len(failed)} source(s) failed: {names} ({failed[0]['error']})"
        return "degraded"
    return "published" if wrote else "no_new_data"


def health_brief(health_text: str | None) -> str:
    """`runs`' one-cell view of the stored JSON: "3 ok", "1 failed: feedx; 2 ok"."""
    if not health_text:
        return ""
    try:
        health = json.loads(health_text)
    except ValueError:
        return "?"
    by_status: dict[str, list[str]] = {}
    for record in health:
        by_status.setdefault(record.get("status", "?"), []).append(str(record.get("source")))
    parts = []
    for status in ("failed", "partial", "empty", "ok"):
        names = by_status.get(status, [])
        if names:
            shown = ": " + ",".join(names) if status != "ok" else ""
            parts.append(f"{len(names)} {status}{shown}")
    return "; ".join(parts)


def finish(summary: dict[str, Any]) -> Any:
    """What a flow returns: its outcome logged to the run log, and Failed when not published or degraded."""
    from flows.ops_logging import log_summary

    log_summary(summary)
    return final_state(summary)


def final_state(summary: dict[str, Any]) -> Any:
    """What the flow returns: the summary dict, or a Failed state carrying it when the run failed."""
    if summary.get("status") not in FAILING_STATUSES:
        return summary
    from prefect.states import Failed

    return Failed(message=summary.get("message") or summary["status"], data=summary)


def summary_from_state(state: Any) -> dict[str, Any]:
    """The summary dict a flow run ended with; re-raises the exception of a run that raised."""
    result = state.result(raise_on_failure=False) if state.is_failed() else state.result()
    if isinstance(result, BaseException):
        raise result
    return result


def check_snapshot_id(summary: Any, committed: int) -> None:
    """The run recorded the snapshot id it predicted; if the commit got another, say so and keep the truth."""
    if summary.snapshot_id != committed:
        import logging

        logging.getLogger("wirelake.health").warning(
            "run %s: recorded snapshot %s but committed %s", summary.run_id, summary.snapshot_id, committed)
        summary.snapshot_id = committed
