"""Notifications: when a run is not published, degraded, failed or crashed, POST a JSON report
to the webhook URL in the config (`[notify] webhook_url`).

The flows register `notify_hook` as their Prefect `on_failure` and `on_crashed` hook, so it
runs wherever the flow runs (the CLI, or a process `wirelake serve` started). A notification
is one POST with a timeout: it never raises, never retries and never changes the run's outcome.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("wirelake.notify")

NOTIFY_STATUSES = ("not_published", "degraded", "failed", "crashed")


def payload(summary: dict[str, Any], flow_run_id: str | None = None) -> dict[str, Any]:
    """The JSON body: what happened, which expectations failed, rejects per source."""
    health = summary.get("source_health") or []
    rejects = {h["source"]: h.get("rejects", h.get("fetch_rejects", 0)) for h in health}
    return {
        "run_id": summary.get("run_id"),
        "flow_run_id": flow_run_id,
        "status": summary.get("status"),
        "message": summary.get("message"),
        "snapshot_id": summary.get("snapshot_id"),
        "failing_expectations": [f for f in summary.get("failures", []) if f.get("severity") == "critical"]
        or summary.get("failures", []),
        "rejects_per_source": rejects,
        "failed_sources": [h["source"] for h in health if h.get("status") == "failed"],
    }


def post(url: str, body: dict[str, Any], timeout_seconds: float) -> bool:
    """POST `body` as JSON; True when the receiver answered 2xx. Failures are logged, not raised."""
    import httpx

    try:
        response = httpx.post(url, json=body, timeout=timeout_seconds, follow_redirects=False)
    except httpx.HTTPError as exc:
        log.warning("notify %s: %s: %s", url, type(exc).__name__, exc)
        return False
    if not response.is_success:
        log.warning("notify %s: answered HTTP %d", url, response.status_code)
    return response.is_success


def webhook_url(parameters: dict[str, Any]) -> tuple[str | None, float]:
    """The webhook URL and timeout from a flow run's `config` parameter (a dict or a WirelakeConfig)."""
    config = parameters.get("config")
    notify = getattr(config, "notify", None)
    if notify is not None:
        return notify.webhook_url, notify.timeout_seconds
    section = (config or {}).get("notify") or {} if isinstance(config, dict) else {}
    return section.get("webhook_url"), float(section.get("timeout_seconds", 10.0))


def summary_of(state: Any) -> dict[str, Any]:
    """The run summary a failed state carries, or a minimal one built from the state."""
    try:
        data = state.result(raise_on_failure=False)
    except Exception:  # a crashed run may hold no result at all
        data = None
    if isinstance(data, dict) and "status" in data:
        return data
    status = "crashed" if state.is_crashed() else "failed"
    return {"run_id": None, "status": status, "message": state.message}


def notify_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect on_failure / on_crashed hook: notify the configured webhook, if any."""
    url, timeout = webhook_url(dict(flow_run.parameters or {}))
    if not url:
        return
    summary = summary_of(state)
    if summary.get("status") in NOTIFY_STATUSES:
        post(url, payload(summary, str(flow_run.id)), timeout)

