"""RELIABILITY-PLAN.md B2, cases 13, 17 and 18 (14 and 15 live with the crash lab in
test_storage_crashes.py, 16 with the hostile run in test_hostile_run.py)."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from flows.config import WirelakeConfig
from flows.records import Source
from warehouse.store import Warehouse

from .conftest import REPO, warehouse_state

FLOW = REPO / "tests" / "fixtures" / "flow"


# ---------------------------------------------------------------- 13: isolation and the schedule guard


@pytest.mark.unit
def test_13_tests_never_touch_the_users_prefect_home():
    from prefect.settings import PREFECT_HOME

    home = Path(os.environ["PREFECT_HOME"]).resolve()
    assert home.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert Path(PREFECT_HOME.value()).resolve() == home
    user_home = Path.home() / ".prefect"
    session_start = home.stat().st_ctime  # tests/conftest.py made the temporary home first thing
    if user_home.exists():
        newest = max((p.stat().st_mtime for p in user_home.rglob("*")), default=user_home.stat().st_mtime)
        assert newest < session_start, f"{user_home} was written during the tests"


@pytest.mark.integration
def test_13_serve_refuses_an_ephemeral_server_with_our_own_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PYTHONPATH=str(REPO))
    result = subprocess.run([str(REPO / ".venv" / "bin" / "wirelake"), "serve", "--source", str(FLOW / "run1"),
                             "--warehouse", str(tmp_path / "wh")], capture_output=True, text=True, env=env,
                            timeout=180)
    assert result.returncode == 1
    assert "needs a running Prefect API server" in result.stderr and "PREFECT_API_URL" in result.stderr
    assert not (tmp_path / "wh").exists()


# ---------------------------------------------------------------- 17: a hung run


def _silent_server() -> tuple[socket.socket, int]:
    """Accepts connections and never answers (robots.txt included)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock, sock.getsockname()[1]


@pytest.fixture(scope="module")
def hung_run(tmp_path_factory, prefect_harness) -> dict:
    """The HTTP deadline is set far too long (a misconfiguration) and the server never answers."""
    from flows.ingest import run_ingest

    root = tmp_path_factory.mktemp("hung") / "wh"
    Warehouse(root).init()
    before = warehouse_state(root)
    sock, port = _silent_server()
    timeout = 4.0
    config = WirelakeConfig(warehouse=root, run_timeout_seconds=timeout,
                            fetch={"timeout_seconds": 20.0, "connect_timeout_seconds": 20.0, "max_retries": 0})
    started = time.monotonic()
    try:
        try:
            run_ingest(config, [Source("silent", f"http://127.0.0.1:{port}/feed.xml", "feed")])
            error: BaseException | None = None
        except BaseException as exc:  # noqa: BLE001 - Prefect raises its own timeout error type
            error = exc
        took = time.monotonic() - started
    finally:
        sock.close()
    return {"root": root, "before": before, "after": warehouse_state(root), "error": error, "took": took,
            "timeout": timeout}


@pytest.mark.integration
def test_17_a_run_past_its_timeout_fails_and_publishes_nothing(hung_run):
    """The flow's own timeout (run_timeout_seconds) fails the run; nothing is published and the
    write lock is free again."""
    error = hung_run["error"]
    assert error is not None
    assert "timeout" in type(error).__name__.lower() or "timed out" in str(error).lower() or \
        "timeout" in str(error).lower(), repr(error)
    before, after = hung_run["before"], hung_run["after"]
    assert {k: v for k, v in after.items() if k not in ("runs", "snapshot")} == \
        {k: v for k, v in before.items() if k not in ("runs", "snapshot")}
    assert all(status != "published" for _, status in after["runs"])
    with Warehouse(hung_run["root"]).write_lock(wait_seconds=0):
        pass


@pytest.mark.integration
def test_17_a_hung_run_ends_within_its_timeout(hung_run):
    assert hung_run["took"] < hung_run["timeout"] + 5, f"the run went on for {hung_run['took']:.1f}s"


# ---------------------------------------------------------------- 18: memory across many runs


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _memory_slope(tmp_path: Path, runs: int, new_article_every: int | None = None) -> tuple[float, list[float]]:
    """RSS after each of `runs` runs in this process, and its slope after three warm-up runs.

    With `new_article_every=k`, every k-th run finds one new article, so it goes through clean,
    NER, extract and GX; the runs between are unchanged re-runs.
    """
    from flows.ingest import run_ingest

    config = WirelakeConfig(warehouse=tmp_path / "wh")
    folder = tmp_path / "source"
    shutil.copytree(FLOW / "run1", folder)
    sources = [Source("harbour-news", str(folder), "local")]
    samples = []
    for n in range(runs):
        adds = new_article_every is not None and n % new_article_every == 0
        if adds:
            (folder / f"bulletin-{n:03d}.txt").write_text(
                f"Ferry timetable bulletin number {n}\n\nThe harbour office in Tromso said on Monday that "
                f"ferry crossing {n} to the outer islands will leave forty minutes later than planned, "
                f"because crews are repainting berth {n % 7} before the winter storms arrive.\n",
                encoding="utf-8")
        summary = run_ingest(config, sources)
        assert summary["exit_code"] == 0, summary
        if adds:
            assert summary["new"] >= 1 and summary["status"] == "published", summary
        gc.collect()
        samples.append(_rss_mb())
    warm = samples[3:]  # imports, the spaCy model and GX's first context are one-off
    xs = range(len(warm))
    mean_x, mean_y = sum(xs) / len(warm), sum(warm) / len(warm)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, warm, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs)
    return slope, samples


@pytest.mark.integration
@pytest.mark.slow
def test_18_memory_stays_flat_across_runs_in_one_process(tmp_path, prefect_harness):
    """9 runs in one process (the `serve` pattern), each with a new article, so each runs every
    stage; the plan's 200 (mostly unchanged re-runs) is `test_18_..._soak`.

    Budget: under 1 MB per run after three warm-up runs.
    """
    slope, samples = _memory_slope(tmp_path, 9, new_article_every=1)
    print(f"\n[18] RSS MB per run: {[round(s) for s in samples]}; slope {slope:.2f} MB/run")
    assert slope < 1.0, (slope, samples)


@pytest.mark.integration
@pytest.mark.slow
def test_18_memory_stays_flat_across_200_runs_soak(tmp_path, prefect_harness):
    """The plan's 200 runs in one process: every 10th run brings a new article (20 runs through
    NER, extract and GX), the others are unchanged re-runs (which skip GX and the re-reads).

    Budget: under 0.25 MB per run after three warm-up runs (50 MB over 200 runs).
    """
    slope, samples = _memory_slope(tmp_path, 200, new_article_every=10)
    print(f"\n[18] soak RSS MB every 10th run: {[round(s) for s in samples[::10]]}; slope {slope:.3f} MB/run")
    assert slope < 0.25, (slope, samples[::10])

