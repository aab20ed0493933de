"""Monitoring pages that work offline: the Data Docs index and `wirelake report`, in headless Chromium.

A real run (one critical failure planted, so both success and failure icons show) builds the Data
Docs; `wirelake report` draws the dashboard. Chromium screenshots both with a net log, and the test
asserts that neither page made a network request (a control page proves a request would show).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.config import WirelakeConfig
from flows.records import Source
from tests.test_report import chromium, find_chromium

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked the network for. Chromium's own service traffic (update checks, account
    probes) starts with no initiator ("not an origin") and is left out; file:// reads never reach
    the network stack, so anything listed here would have left the machine (or gone to loopback)."""
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip()
    if not text.endswith("}"):  # Chromium may leave the closing brackets off when it exits
        text = text.rstrip(",") + "]}"
    log = json.loads(text)
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    starts = [e["params"] for e in log.get("events", []) if e["type"] == start_job and "url" in e.get("params", {})]
    return [p["url"] for p in starts if p.get("initiator") != "not an origin"]


def _external_refs(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)""", page, re.I)


def _shoot(binary: str, tmp_path: Path, page: Path, name: str) -> tuple[Path, list[str]]:
    shot, netlog = tmp_path / f"{name}.png", tmp_path / f"{name}-netlog.json"
    proc = chromium(binary, tmp_path, f"--screenshot={shot}", "--window-size=1280,1400",
                    f"--log-net-log={netlog}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000, proc.stderr[-2000:]
    return shot, _page_requests(netlog)


def test_data_docs_and_report_render_offline_with_no_external_request(tmp_path, prefect_harness, http):
    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not installed; install it with: apt-get install chromium")
    # The detector works: a page that asks a loopback server for a stylesheet shows that request.
    http.expect_request("/probe.css").respond_with_data("body{color:red}", content_type="text/css")
    probe = tmp_path / "probe.html"
    probe.write_text(f'<html><head><link rel="stylesheet" href="{http.url_for("/probe.css")}"></head>'
                     f'<body><p>{"probe " * 4000}</p></body></html>')
    assert _shoot(binary, tmp_path, probe, "probe")[1] == [http.url_for("/probe.css")]
    from flows.cli import app
    from flows.ingest import run_ingest

    warehouse = tmp_path / "wh"
    good = run_ingest(WirelakeConfig(warehouse=warehouse), [Source("harbour-news", str(FIXTURES / "flow" / "run1"),
                                                                   "local")])
    gated = run_ingest(WirelakeConfig(warehouse=warehouse), [Source("gate-wire", str(FIXTURES / "gate"), "local")])
    assert good["status"] == "published" and gated["status"] == "not_published"
    docs_index = warehouse / "reports" / "data_docs" / "index.html"
    result = CliRunner().invoke(app, ["report", "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    report = Path(result.stdout.strip())

    # The HTML itself names nothing outside the warehouse: no CDN, no S3 logo, no outbound link.
    for page in [docs_index, report, *sorted((warehouse / "reports" / "data_docs").rglob("validations/**/*.html"))]:
        assert _external_refs(page.read_text(encoding="utf-8")) == [], page
    docs_html = docs_index.read_text(encoding="utf-8")
    rows = re.findall(r"<tr data-href=", docs_html)
    assert len(rows) >= 2 * 10  # rows rendered server-side: every suite of both runs, with no script
    assert "ge-success-icon" in docs_html and ("fa-times" in docs_html or "ge-failed-icon" in docs_html)
    assert "wl-offline-styles" in docs_html and ".fa-check-circle::before" in docs_html
    report_html = report.read_text(encoding="utf-8")
    snapshot = good["snapshot_id"]
    assert f'href="#snapshot-{snapshot}"' in report_html and f'id="snapshot-{snapshot}"' in report_html

    for page, name in ((docs_index, "data-docs"), (report, "report")):
        shot, requested = _shoot(binary, tmp_path, page, name)
        assert requested == [], f"{name} requested {requested}"
        # Kept for a person to look at: tests/ never commits them.
        subprocess.run(["cp", str(shot), str(Path("/tmp") / f"wirelake-{name}.png")], check=False)
