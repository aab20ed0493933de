"""RELIABILITY-PLAN.md B1, cases 1-10 (and the lock half of 15): crashes, writers, readers, the gate.

Crashes are real: the flow runs in a child process with `fault_point` set, and the warehouse
SIGKILLs that process at the named point of `Warehouse.publish`. The oracle is a fresh
read-only reader (conftest `warehouse_state`) plus a check that every Parquet file the
catalog references is whole (`check_catalog_files`).

Fixtures: tests/fixtures/flow/run1 (one article) and run2 (an exact and a near copy of it
plus a re-edit), the project's own invented articles.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.config import WirelakeConfig
from flows.records import Source
from warehouse.store import StagedRun, Warehouse, to_arrow

from .conftest import (
    DATA_TABLES,
    REPO,
    TABLE_KEYS,
    check_catalog_files,
    child_summary,
    referenced_files,
    start_flow_subprocess,
    wait_child,
    warehouse_state,
)

pytestmark = pytest.mark.integration

FLOW = REPO / "tests" / "fixtures" / "flow"
SOURCE_A = Source("harbour-news", str(FLOW / "run1"), "local")
SOURCE_B = Source("coast-news", str(FLOW / "run2"), "local")
A_AND_B = [SOURCE_A, SOURCE_B]


def _dicts(sources: list[Source]) -> list[dict]:
    return [{"name": s.name, "location": s.location, "kind": s.kind} for s in sources]


def _run(root: Path, sources: list[Source], **cfg) -> dict:
    from flows.ingest import run_ingest

    return run_ingest(WirelakeConfig(warehouse=root, **cfg), sources)


def _data_only(state: dict) -> dict:
    return {k: v for k, v in state.items() if k in DATA_TABLES or k.endswith(".keys")}


class CrashLab:
    """W1: baseline run of A, then killed at mid_load, then killed after_commit, then re-run.
    W2: killed before_commit on its first run (nothing committed), then one normal run of A+B."""

    def __init__(self, tmp: Path) -> None:
        self.w1, self.w2 = tmp / "w1", tmp / "w2"
        self.tag = f"crash-{os.getpid()}-{int(time.time())}"


@pytest.fixture(scope="module")
def crash_lab(tmp_path_factory, prefect_harness) -> CrashLab:
    lab = CrashLab(tmp_path_factory.mktemp("crash"))
    baseline = _run(lab.w1, [SOURCE_A])
    assert baseline["status"] == "published", baseline
    lab.baseline = warehouse_state(lab.w1)
    lab.baseline_files = referenced_files(lab.w1)
    lab.w2_empty = None
    Warehouse(lab.w2).init()  # schema only: the "previous snapshot" of W2
    lab.w2_empty = warehouse_state(lab.w2)
    # The two first kills run side by side (separate warehouses): the suite has 2 cores.
    mid = start_flow_subprocess({"warehouse": str(lab.w1), "fault_point": "mid_load"}, _dicts(A_AND_B), [lab.tag])
    before = start_flow_subprocess({"warehouse": str(lab.w2), "fault_point": "before_commit"}, _dicts(A_AND_B),
                                   [lab.tag])
    lab.mid = wait_child(mid)
    lab.before = wait_child(before)
    lab.after_mid = warehouse_state(lab.w1)
    lab.after_mid_files = check_catalog_files(lab.w1)
    lab.after_before = warehouse_state(lab.w2)
    lab.after_before_files = check_catalog_files(lab.w2)
    after = start_flow_subprocess({"warehouse": str(lab.w1), "fault_point": "after_commit"}, _dicts(A_AND_B),
                                  [lab.tag])
    lab.after = wait_child(after)
    lab.after_commit = warehouse_state(lab.w1)
    # Recovery: the next normal runs, without any manual step (no lock to clear, nothing to repair).
    lab.rerun = _run(lab.w1, A_AND_B)
    lab.converged = warehouse_state(lab.w1)
    lab.clean = _run(lab.w2, A_AND_B)
    lab.clean_state = warehouse_state(lab.w2)
    return lab


def test_01_kill_inside_the_load_transaction_keeps_the_previous_snapshot(crash_lab):
    code, _, stderr = crash_lab.mid
    assert code == -9, stderr[-2000:]
    assert crash_lab.after_mid == crash_lab.baseline  # every table, the snapshot id and the runs ledger
    code, _, stderr = crash_lab.before
    assert code == -9, stderr[-2000:]
    assert crash_lab.after_before == crash_lab.w2_empty
    # The ledger has no row for a killed run (its record commits with its data), so nothing claims success.
    assert all(status != "running" for _, status in crash_lab.after_mid["runs"])


def test_02_kill_after_commit_then_rerun_converges_without_duplicates(crash_lab):
    code, _, stderr = crash_lab.after
    assert code == -9, stderr[-2000:]
    assert crash_lab.after_commit["snapshot"] > crash_lab.baseline["snapshot"]
    assert crash_lab.rerun["status"] == "no_new_data", crash_lab.rerun
    assert crash_lab.clean["status"] == "published", crash_lab.clean
    for table in TABLE_KEYS:
        assert crash_lab.converged[f"{table}.duplicates"] == 0, table
        assert crash_lab.converged[f"{table}.keys"] == crash_lab.clean_state[f"{table}.keys"], table
    for table in DATA_TABLES:
        assert crash_lab.converged[table][0] == crash_lab.clean_state[table][0], table
    check_catalog_files(crash_lab.w1)


def test_03_exact_rerun_changes_no_data_and_says_no_new_data(crash_lab):
    again = _run(crash_lab.w1, A_AND_B)
    assert again["status"] == "no_new_data" and again["new"] == 0 and again["exit_code"] == 0, again
    state = warehouse_state(crash_lab.w1)
    assert _data_only(state) == _data_only(crash_lab.converged)
    assert len(state["runs"]) == len(crash_lab.converged["runs"]) + 1  # only its own run record


def test_07_crash_mid_write_leaves_no_torn_file_visible(crash_lab):
    """DuckLake writes each data file once under a fresh name (ducklake-<uuid>.parquet) and the
    catalog commit is the one atomic step, so (a) a file a reader uses is never rewritten and
    (b) a file a killed writer left behind is never referenced.

    No fault point exists *inside* one Parquet write; mid_load kills after whole table
    inserts, the closest real point (the plan's mid_parquet_copy needs a hook inside DuckDB).
    """
    for table, files in crash_lab.baseline_files.items():
        for path in files:
            assert Path(path).exists(), f"{table}: {path} vanished after the crashes"
    referenced, orphans = crash_lab.after_mid_files
    assert referenced == sum(len(f) for f in crash_lab.baseline_files.values())
    for orphan in orphans:
        assert orphan.name.startswith("ducklake-") and orphan.suffix == ".parquet"
    names = [Path(p).name for files in referenced_files(crash_lab.w1).values() for p in files]
    assert len(names) == len(set(names))


def test_07_next_run_removes_orphaned_files(crash_lab):
    """Files a killed writer left are deleted by the next run (which holds the write lock).

    "Orphan" in DuckLake's sense: referenced by no snapshot. Files that only older snapshots
    reference (rows replaced later) are kept on purpose, for time travel.
    """
    assert crash_lab.after_mid_files[1], "the mid-load kill should have left unreferenced files"
    con = Warehouse(crash_lab.w1).connect()
    try:
        left = con.execute("CALL ducklake_delete_orphaned_files('lake', dry_run => true, cleanup_all => true)")
        assert left.fetchall() == []
    finally:
        con.close()


def test_15_killed_runs_leave_no_stale_warehouse_lock(crash_lab):
    """The write lock is an flock: the kernel drops it when the holder dies, so a SIGKILLed run
    never blocks the next (the converging re-runs above ran with lock_wait 0)."""
    lock_file = crash_lab.w1 / ".write.lock"
    assert lock_file.exists()
    with Warehouse(crash_lab.w1).write_lock(wait_seconds=0):
        pass


def test_15_killed_flow_runs_are_not_left_running_in_prefect(crash_lab):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    async def states() -> list[str]:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[crash_lab.tag])),
                sort=FlowRunSort.ID_DESC, limit=100)
            return [r.state.type.value for r in runs]

    found = asyncio.run(states())
    assert len(found) == 3, found
    assert "RUNNING" not in found, found


# ---------------------------------------------------------------- 4, 6: a second writer

_HOLD_LOCK = """
import sys, time
from warehouse.store import Warehouse
with Warehouse(sys.argv[1]).write_lock():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_04_06_second_writer_fails_with_one_line_or_waits_its_turn(tmp_path, prefect_harness, capsys):
    """Another process holds the write lock: a run with no wait exits 1 with one line naming the
    warehouse and the holder's PID; a run allowed to wait publishes once the holder is done."""
    from flows.cli import run_once

    root = tmp_path / "wh"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(root), "6"], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        refused = run_once(WirelakeConfig(warehouse=root), [SOURCE_A], lock_wait=0.0, show_progress=False)
        err = " ".join(capsys.readouterr().err.split())  # rich wraps at the terminal width; see below
        assert refused["exit_code"] == 1 and refused["status"] == "skipped"
        assert "\n" not in refused["message"] and "another run is writing" in err, err
        assert f"pid {holder.pid}" in err and str(root.resolve()) in err and "Traceback" not in err
        assert not (root / "catalog.sqlite").exists() and not (root / "data").exists()  # B wrote nothing
        started = time.monotonic()
        waited = run_once(WirelakeConfig(warehouse=root), [SOURCE_A], lock_wait=60.0, show_progress=False)
    finally:
        holder.wait(timeout=60)
    assert waited["status"] == "published", waited
    assert time.monotonic() - started < 60
    assert warehouse_state(root)["articles"][0] == 1


def test_04_busy_error_is_one_physical_line_on_stderr(tmp_path, prefect_harness, capsys):
    from flows.cli import run_once

    root = tmp_path / "a-warehouse-with-a-fairly-long-directory-name-as-real-ones-have"
    with Warehouse(root).write_lock():  # a second open file description: flock conflicts in-process too
        capsys.readouterr()
        run_once(WirelakeConfig(warehouse=root), [SOURCE_A], lock_wait=0.0, show_progress=False)
        err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err


def test_06_deployment_runs_one_at_a_time():
    """Overlapping schedules queue: the deployment carries a concurrency limit of 1 (ENQUEUE).
    Exclusion itself does not rely on Prefect: the write lock above is what keeps writers apart."""
    from flows.ingest import ingest_deployment

    deployment = ingest_deployment(WirelakeConfig(), [SOURCE_A], "*/1 * * * *")
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE"


# ---------------------------------------------------------------- 5: a user query during a run


def _article_rows(run_id: str, n: int, start: int = 0) -> list[dict]:
    now = datetime(2024, 3, 8, 12, tzinfo=UTC)
    return [{"article_id": f"{run_id}-{i}", "doc_id": f"d{i}", "run_id": run_id, "source": "s",
             "title": f"Article {i}", "text": f"Body of article {i} " * 20, "word_count": 80,
             "content_hash": f"h{run_id}{i}", "fetched_at": now} for i in range(start, start + n)]


def test_05_queries_during_a_publish_see_only_the_committed_snapshot(tmp_path):
    """While a publish has inserted rows but not committed, `wirelake sql` (another process) and an
    in-process reader both see the previous snapshot, and the CLI opens the lake read-only."""
    wh = Warehouse(tmp_path / "wh")
    wh.init()
    con = wh.connect()
    try:
        wh.publish(con, StagedRun(tables={"articles": to_arrow("articles", _article_rows("r1", 3))}))
        seen: dict[str, object] = {}

        def look(point: str) -> None:
            if point == "mid_load":
                with wh.reader() as reader:
                    seen["reader"] = reader.execute("SELECT count(*) FROM articles").fetchone()[0]
            if point == "before_commit":
                cli = subprocess.run([str(REPO / ".venv" / "bin" / "wirelake"), "sql", "SELECT count(*) AS n FROM articles",
                                      "--warehouse", str(wh.root), "--format", "json"],
                                     capture_output=True, text=True, timeout=120)
                seen["cli"] = (cli.returncode, cli.stdout, cli.stderr)
                write = subprocess.run([str(REPO / ".venv" / "bin" / "wirelake"), "sql", "DELETE FROM articles",
                                        "--warehouse", str(wh.root)], capture_output=True, text=True, timeout=120)
                seen["write"] = (write.returncode, write.stderr)

        staged = StagedRun(tables={"articles": to_arrow("articles", _article_rows("r2", 5))})
        wh.publish(con, staged, fault_hook=look)
        final = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    finally:
        con.close()
    assert seen["reader"] == 3
    code, stdout, stderr = seen["cli"]
    assert code == 0, stderr
    assert json.loads(stdout) == [{"n": 3}]
    code, stderr = seen["write"]
    assert code == 1 and "read-only" in stderr and len(stderr.strip().splitlines()) <= 3
    assert final == 8


# ---------------------------------------------------------------- 8: disk full


def test_08_disk_full_during_the_parquet_write_rolls_back_and_a_later_run_succeeds(tmp_path):
    """RLIMIT_FSIZE just above what the warehouse holds makes the next data file fail with EFBIG
    (CPython ignores SIGXFSZ), the closest real stand-in for a full disk."""
    wh = Warehouse(tmp_path / "wh")
    wh.init()
    con = wh.connect()
    try:
        wh.publish(con, StagedRun(tables={"articles": to_arrow("articles", _article_rows("r1", 3))}))
        before = (wh.snapshot_id(con), con.execute("SELECT count(*) FROM articles").fetchone()[0])
        old_files = referenced_files(wh.root)
        big = [{**r, "text": os.urandom(3000).hex()} for r in _article_rows("r2", 400)]  # ~2.4 MB, incompressible
        staged = StagedRun(tables={"articles": to_arrow("articles", big)})
        # Above every file a publish appends to (catalog, data files); below the new data file.
        largest = max(p.stat().st_size for p in [wh.root / "catalog.sqlite", *(wh.root / "data").rglob("*")]
                      if p.is_file())
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (largest + 256 * 1024, hard))
        try:
            with pytest.raises(Exception) as full:  # noqa: B017 - DuckDB raises its own IOException type
                wh.publish(con, staged)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        message = str(full.value)
        assert "too large" in message.lower() or "space" in message.lower(), message
        assert (wh.snapshot_id(con), con.execute("SELECT count(*) FROM articles").fetchone()[0]) == before
    finally:
        con.close()
    with wh.reader() as reader:
        assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == before[1]
    check_catalog_files(wh.root)
    assert referenced_files(wh.root) == old_files
    # The limit lifted, the same rows publish (a fresh connection, as the next run would open).
    con = wh.connect()
    try:
        wh.publish(con, staged)
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == before[1] + 400
    finally:
        con.close()


# ---------------------------------------------------------------- 9: a later stage fails


@pytest.fixture(scope="module")
def failed_extract_run(tmp_path_factory, prefect_harness) -> dict:
    """Extraction fails (its model cannot be loaded) after fetch and clean produced articles."""
    root = tmp_path_factory.mktemp("later-stage") / "wh"
    first = _run(root, [SOURCE_A])
    before = warehouse_state(root)
    with pytest.raises(Exception, match="no_such_spacy_model") as failed:
        _run(root, A_AND_B, extract={"spacy_model": "no_such_spacy_model"})
    return {"root": root, "first": first, "before": before, "after": warehouse_state(root), "error": failed.value}


def test_09_failure_in_a_later_stage_publishes_nothing(failed_extract_run):
    run = failed_extract_run
    assert run["first"]["status"] == "published"
    assert _data_only(run["after"]) == _data_only(run["before"])  # no article without its entities
    assert "\n" not in str(run["error"]).strip()
    assert "published" not in [status for _, status in run["after"]["runs"][len(run["before"]["runs"]):]]


def test_09_the_failed_run_is_recorded_with_its_reason(failed_extract_run):
    with Warehouse(failed_extract_run["root"]).reader() as con:
        rows = con.execute("SELECT status, message FROM runs WHERE status = 'failed'").fetchall()
    assert len(rows) == 1 and "no_such_spacy_model" in rows[0][1]


# ---------------------------------------------------------------- 10: the validation gate


def test_10_validation_failure_publishes_nothing_and_says_why(tmp_path, prefect_harness):
    """The gate fixture (an agreement naming one party: critical) plus two articles dated 2099."""
    gate = tmp_path / "gate"
    gate.mkdir()
    for path in (REPO / "tests" / "fixtures" / "gate").iterdir():
        (gate / path.name).write_bytes(path.read_bytes())
    for n, topic in enumerate(("tidal barrage", "lighthouse keepers")):
        (gate / f"2099-01-0{n + 1}-future-{n}.txt").write_text(
            f"Council report on the {topic} published early\n\nMARSHPORT - The council said on Monday that "
            f"its long review of the {topic} had found no reason to delay the work, and that residents "
            "would be asked for their views at two public meetings in the town hall next month.\n")
    root = tmp_path / "wh"
    _run(root, [SOURCE_A])
    before = warehouse_state(root)
    summary = _run(root, [Source("gate-wire", str(gate), "local")])
    assert summary["status"] == "not_published" and summary["exit_code"] == 2, summary
    assert _data_only(warehouse_state(root)) == _data_only(before)
    with Warehouse(root).reader() as con:
        run_id, message = con.execute("SELECT run_id, message FROM runs WHERE status = 'not_published'").fetchone()
        failed = con.execute("SELECT suite, expectation, severity, unexpected_count FROM validation_results "
                             "WHERE run_id = ? AND NOT success", [run_id]).fetchall()
    assert "critical expectations failed" in message
    assert any(sev == "critical" for _, _, sev, _ in failed)
    assert all(count is None or count >= 1 for *_, count in failed)
    assert run_id == summary["run_id"]


# ---------------------------------------------------------------- 14: a burst of runs


@pytest.mark.slow
def test_14_burst_of_concurrent_runs_all_finish_and_equal_the_serial_result(tmp_path, prefect_harness):
    """Three processes start a run on one warehouse at once, sharing one Prefect API (SQLite):
    all reach a terminal state, one publishes, the others find nothing new, no row twice.
    ("database is locked" lines from the API server are counted and reported.)"""
    root = tmp_path / "wh"
    Warehouse(root).init()
    procs = [start_flow_subprocess({"warehouse": str(root), "lock_wait_seconds": 300}, _dicts(A_AND_B))
             for _ in range(3)]
    outcomes = [wait_child(p) for p in procs]
    locked = sum(stderr.count("database is locked") for _, _, stderr in outcomes)
    statuses = sorted(child_summary(stdout)["status"] for _, stdout, _ in outcomes)
    assert [code for code, _, _ in outcomes] == [0, 0, 0], [e[-1500:] for _, _, e in outcomes]
    assert statuses == ["no_new_data", "no_new_data", "published"], statuses
    state = warehouse_state(root)
    for table in TABLE_KEYS:
        assert state[f"{table}.duplicates"] == 0, table
    print(f"'database is locked' lines in child logs: {locked}")
