"""States that tell the truth, and a webhook that hears about it.

A gated run (a critical expectation failed) and a degraded run (every input of one source
failed) both end `Failed` in Prefect, exit 2 and 3, and POST a JSON report to a real
loopback receiver. A healthy run ends `Completed` and posts nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.config import WirelakeConfig
from flows.records import Source
from warehouse.store import Warehouse

FIXTURES = Path(__file__).parent / "fixtures"
GATE = FIXTURES / "gate"
RUN1 = FIXTURES / "flow" / "run1"

pytestmark = [pytest.mark.integration]


def _run(tmp_path: Path, sources: list[Source], webhook: str | None) -> dict:
    from flows.ingest import run_ingest

    config = WirelakeConfig(warehouse=tmp_path / "wh", notify={"webhook_url": webhook})
    return run_ingest(config, sources)


def _prefect_state(run_name_contains: str | None = None):
    """The latest wirelake-ingest flow run's state in the harness's Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
    return runs[0].state


def _posts(http) -> list[dict]:
    return [json.loads(req.data) for req, _ in http.log if req.path == "/hook"]


def test_gated_run_is_failed_in_prefect_and_notifies(tmp_path, prefect_harness, http):
    http.expect_request("/hook", method="POST").respond_with_data("ok")
    summary = _run(tmp_path, [Source("gate-wire", str(GATE), "local")], http.url_for("/hook"))
    assert summary["status"] == "not_published" and summary["exit_code"] == 2, summary
    state = _prefect_state()
    assert state.type.value == "FAILED", state
    assert "critical expectations failed" in state.message
    posts = _posts(http)
    assert len(posts) == 1, posts
    body = posts[0]
    assert body["run_id"] == summary["run_id"] and body["status"] == "not_published"
    assert body["failing_expectations"] and all(f["severity"] == "critical" for f in body["failing_expectations"])
    assert any(f["expectation"] in state.message for f in body["failing_expectations"])
    assert body["rejects_per_source"] == {"gate-wire": 0}


def test_degraded_run_publishes_the_rest_is_failed_and_notifies(tmp_path, prefect_harness, http):
    http.expect_request("/hook", method="POST").respond_with_data("ok")
    refused = "http://127.0.0.1:9/feed.xml"  # the discard port: nothing listens, the connection is refused
    summary = _run(tmp_path, [Source("harbour-news", str(RUN1), "local"), Source("dead-feed", refused, "feed"),
                              Source("lost-dir", str(tmp_path / "no-such-dir"), "local")], http.url_for("/hook"))
    assert summary["status"] == "degraded" and summary["exit_code"] == 3, summary
    assert summary["new"] == 1 and summary["snapshot_id"] is not None
    state = _prefect_state()
    assert state.type.value == "FAILED" and "dead-feed" in state.message and "lost-dir" in state.message
    body = _posts(http)[0]
    assert body["status"] == "degraded" and sorted(body["failed_sources"]) == ["dead-feed", "lost-dir"]
    assert body["rejects_per_source"] == {"harbour-news": 0, "dead-feed": 1, "lost-dir": 1}
    with Warehouse(tmp_path / "wh").reader() as con:
        status, snapshot, health, stage_counts = con.execute(
            "SELECT status, snapshot_id, source_health, stage_counts FROM runs").fetchone()
        titles = con.execute("SELECT count(*) FROM articles WHERE source = 'harbour-news'").fetchone()[0]
        committed = con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]
    assert status == "degraded" and titles == 1
    assert snapshot == committed == summary["snapshot_id"]  # the record names the snapshot it was committed in
    by_source = {h["source"]: h["status"] for h in json.loads(health)}
    assert by_source == {"harbour-news": "ok", "dead-feed": "failed", "lost-dir": "failed"}
    publish = json.loads(stage_counts)["publish"]
    assert publish["in"] == publish["out"] > 0  # counted before the record was written


def test_healthy_run_is_completed_and_posts_nothing(tmp_path, prefect_harness, http):
    http.expect_request("/hook", method="POST").respond_with_data("ok")
    summary = _run(tmp_path, [Source("harbour-news", str(RUN1), "local")], http.url_for("/hook"))
    assert summary["status"] == "published" and summary["exit_code"] == 0, summary
    assert _prefect_state().type.value == "COMPLETED"
    assert _posts(http) == []


@pytest.mark.unit
def test_health_brief_and_status_rules():
    from flows.health import health_brief, source_health
    from flows.stages.fetchers.base import FetchResult

    dead = FetchResult()
    dead.reject("d", "http://x/", "connection refused")
    unchanged = FetchResult(not_modified=1)
    half = FetchResult(already_fetched=2)
    half.reject("h", "http://x/a", "HTTP 404")
    records = [source_health("d", dead), source_health("u", unchanged), source_health("h", half),
               source_health("e", FetchResult())]
    assert [r["status"] for r in records] == ["failed", "ok", "partial", "empty"]
    assert records[0]["error"] == "connection refused"
    assert health_brief(json.dumps(records)) == "1 failed: d; 1 partial: h; 1 empty: e; 1 ok"


@pytest.mark.unit
def test_documented_prefect_automation_is_valid(repo_root):
    """examples/prefect-automation.yaml, with a block id filled in, is an automation Prefect accepts."""
    import uuid

    import yaml
    from prefect.events.schemas.automations import AutomationCore

    text = (repo_root / "examples" / "prefect-automation.yaml").read_text()
    automation = AutomationCore.model_validate(yaml.safe_load(text.replace("REPLACE-WITH-BLOCK-ID",
                                                                           str(uuid.uuid4()))))
    assert set(automation.trigger.expect) == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert automation.actions[0].type == "send-notification"
